"""The tutorials run end to end (in fast mode) and their notebooks match their sources.

Each tutorials/NN_name.py is executed as a reader would run it: `cd tutorials && python NN_name.py`,
with MINIREASON_FAST=1 (fewer steps) and a non-interactive matplotlib backend. A tutorial proves its
own claims with asserts, so a passing run means every claim still holds.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
sys.path.insert(0, str(TUTORIALS))

import build  # noqa: E402  (tutorials/build.py: its --check needs only the standard library)

SOURCES = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def test_notebooks_are_in_sync_with_their_sources():
    assert SOURCES, "no tutorials found"
    problems = build.check(SOURCES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_tutorial_runs_in_fast_mode(path):
    env = dict(os.environ, MINIREASON_FAST="1", MPLBACKEND="Agg", JAX_PLATFORMS="cpu")
    try:
        run = subprocess.run([sys.executable, path.name], cwd=TUTORIALS, env=env, capture_output=True, text=True,
                             timeout=120)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        tail = err[-3000:]
        pytest.fail(f"{path.name} ran past 120 s in fast mode; stderr ends:\n{tail}")
    assert run.returncode == 0, f"{path.name} failed (exit {run.returncode}); stderr ends:\n{run.stderr[-3000:]}"
