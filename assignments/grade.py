"""Grade the assignments.

    python assignments/grade.py aN               grade your assignments/aN_*/student.py: points per part, total
    python assignments/grade.py aN --solution    grade the package's reference (aN_*/reference.py) the same way
    python assignments/grade.py --check-all      the graders themselves: the reference scores full marks, the
                                                 untouched stubs 0 with a message per part, every seeded bug in
                                                 aN_*/bugs/ loses points; exit status 1 if any of that fails

Each grading runs in a subprocess (assignments/_worker.py) with a time limit, and each part in
it under a timer, so code that loops forever costs points, not the grader.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER_SLACK = 120  # seconds per variant beyond its parts' own timers (start-up, jax import, a hang in C code)


def assignments() -> list[str]:
    return sorted(p.name.split("_")[0] for p in HERE.glob("a[0-9]*_*") if (p / "checks.py").exists())


def run_worker(name: str, variants: list[str], part: str | None = None, cache: str = "") -> tuple[list[dict], str]:
    """(results per variant that finished, the worker's output tail when it failed or timed out)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        cmd = [sys.executable, str(HERE / "_worker.py"), name, str(out), *variants]
        if part:
            cmd += ["--part", part]
        env = dict(os.environ, PYTHONUNBUFFERED="1", GRADE_COMPILE_CACHE=cache)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_SLACK * len(variants) + 300,
                                  env=env)
            tail = "" if proc.returncode == 0 else (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired:
            tail = "the grader's time limit ran out (a part hung inside compiled code?)"
        results = json.loads(out.read_text()) if out.exists() else []
    return results, tail


def folder(name: str) -> str:
    return next(HERE.glob(f"{name}_*")).name


def print_result(r: dict, indent: str = "  ") -> None:
    width = max(len(p["name"]) for p in r["parts"])
    for p in r["parts"]:
        status = "ok" if not p["message"] else p["message"]
        print(f"{indent}{p['name']:<{width}}  {p['points']:>3}/{p['max']:<3} {status}")
    print(f"{indent}{'total':<{width}}  {r['total']:>3}/{r['max']:<3} ({100 * r['total'] / r['max']:.0f}%)")


def grade_one(name: str, solution: bool) -> int:
    variant = "solution" if solution else "student"
    print(f"{folder(name)}: grading {'reference.py (the package)' if solution else 'student.py'}")
    results, tail = run_worker(name, [variant])
    if not results:
        print(f"the grader could not finish:\n{tail}")
        return 2
    print_result(results[0])
    return 0


def check_assignment(name: str, cache: str) -> tuple[list[str], dict]:
    """(report lines, counts) for one assignment: reference, stubs and every seeded bug."""
    bugs = sorted(str(p.relative_to(HERE / folder(name))) for p in (HERE / folder(name) / "bugs").glob("*.py"))
    t0 = time.time()
    results, tail = run_worker(name, ["solution", "student", *bugs], cache=cache)
    lines, counts = [f"{folder(name)} ({time.time() - t0:.0f} s)"], dict(ref=0, stub=0, bugs=len(bugs), caught=0,
                                                                            crashes=0, failures=[])
    by_variant = {r["variant"]: r for r in results}
    for variant in ["solution", "student", *bugs]:
        r = by_variant.get(variant)
        if r is None:
            counts["failures"].append(f"{name} {variant}: not graded")
            lines.append(f"  FAIL {variant}: not graded; worker output:\n{tail}")
            continue
        crashes = [p for p in r["parts"] if p["grader_error"]]
        counts["crashes"] += len(crashes)
        for p in crashes:
            counts["failures"].append(f"{name} {variant} {p['name']}: {p['message']}")
        if variant == "solution":
            ok = r["total"] == r["max"]
            counts["ref"] += ok
            lines.append(f"  {'ok  ' if ok else 'FAIL'} reference {r['total']}/{r['max']}")
            if not ok:
                counts["failures"].append(f"{name} reference scores {r['total']}/{r['max']}")
                print_result(r, indent="       ")
        elif variant == "student":
            unclear = [p for p in r["parts"] if "not implemented" not in p["message"]]
            ok = r["total"] == 0 and not unclear and not crashes
            counts["stub"] += ok
            lines.append(f"  {'ok  ' if ok else 'FAIL'} stubs {r['total']}/{r['max']}, a message per part "
                         f"(e.g. {r['parts'][0]['message']!r})")
            if not ok:
                counts["failures"].append(f"{name} stubs: {r['total']} points, parts without a clear message: "
                                          f"{[p['name'] for p in unclear]}")
        else:
            lost = [p["name"] for p in r["parts"] if p["points"] < p["max"]]
            caught = r["total"] < r["max"]
            counts["caught"] += caught
            doc = (HERE / folder(name) / variant).read_text().split('"""')[1].strip().splitlines()[0]
            lines.append(f"  {'ok  ' if caught else 'FAIL'} {variant}: {r['total']}/{r['max']}, "
                         f"loses {', '.join(lost) or 'nothing'} ({doc})")
            if not caught:
                counts["failures"].append(f"{name} {variant} is not caught")
    return lines, counts


def check_all(jobs: int) -> int:
    t0, names = time.time(), assignments()
    # A compilation cache for this run only (so every run starts cold): a seeded bug that leaves a jitted
    # function as it was compiles to the reference's program and reuses it instead of compiling it again.
    with tempfile.TemporaryDirectory() as cache, ThreadPoolExecutor(jobs) as pool:
        done = list(pool.map(check_assignment, names, [cache] * len(names)))
    total = dict(ref=0, stub=0, bugs=0, caught=0, crashes=0, failures=[])
    for lines, counts in done:
        print("\n".join(lines))
        for k in total:
            total[k] += counts[k]
    ok = not total["failures"]
    for f in total["failures"]:
        print(f"FAILED: {f}")
    print(f"check-all: {'OK' if ok else 'FAILED'}: {len(names)} assignments; reference full marks {total['ref']}/"
          f"{len(names)}; stubs 0 with a message per part {total['stub']}/{len(names)}; seeded bugs caught "
          f"{total['caught']}/{total['bugs']} ({100 * total['caught'] / max(total['bugs'], 1):.0f}%); "
          f"grader errors {total['crashes']}; {time.time() - t0:.0f} s")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("assignment", nargs="?", choices=assignments(), help="e.g. a1")
    parser.add_argument("--solution", action="store_true", help="grade the package's reference instead of student.py")
    parser.add_argument("--check-all", action="store_true", help="check every assignment's grader (teachers, CI)")
    parser.add_argument("--jobs", type=int, default=2, help=argparse.SUPPRESS)  # assignments checked at once
    args = parser.parse_args()
    if args.check_all == bool(args.assignment):
        parser.error("give an assignment (e.g. a1) or --check-all")
    return check_all(args.jobs) if args.check_all else grade_one(args.assignment, args.solution)


if __name__ == "__main__":
    sys.exit(main())
