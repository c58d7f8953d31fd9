"""pytest for classroom runners: one test per part of each assignment, each with its own marker.

    python -m pytest assignments -m a2_rope     grades one part of the student's a2 (student.py)
    python -m pytest assignments -k a2          every part of a2

Each test runs the part in a subprocess with a time limit, through the same worker as grade.py,
and fails with the grader's message. The project's own test suite does not collect this folder.
"""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from grade import assignments, folder, run_worker  # noqa: E402


def _parts(name: str) -> list[tuple[str, int]]:
    """(part name, points) from the assignment's checks.py, read without importing it (no jax at collection)."""
    import re

    text = (HERE / folder(name) / "checks.py").read_text()
    return [(m.group(1), int(m.group(2))) for m in re.finditer(r'@PARTS\("(\w+)", (\d+),', text)]


def pytest_configure(config):
    for name in assignments():
        for part, points in _parts(name):
            config.addinivalue_line("markers", f"{name}_{part}: {name}, part {part} ({points} points)")


def pytest_generate_tests(metafunc):
    if "graded_part" in metafunc.fixturenames:
        cases = [pytest.param((name, part), id=f"{name}_{part}", marks=getattr(pytest.mark, f"{name}_{part}"))
                 for name in assignments() for part, _ in _parts(name)]
        metafunc.parametrize("graded_part", cases)


@pytest.fixture
def grade_part():
    def run(name: str, part: str) -> dict:
        results, tail = run_worker(name, ["student"], part=part)
        assert results, f"the grader could not finish: {tail}"
        return results[0]["parts"][0]
    return run
