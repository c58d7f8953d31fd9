"""The assignments' graders grade: the reference scores full marks, the untouched stubs score 0 with a
message per part, and every seeded bug in assignments/aN_*/bugs/ loses points (grade.py --check-all)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_check_all_passes():
    proc = subprocess.run([sys.executable, str(ROOT / "assignments" / "grade.py"), "--check-all"], capture_output=True,
                          text=True, timeout=900)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert lines and lines[-1].startswith("check-all: OK: 4 assignments"), proc.stdout[-2000:]
