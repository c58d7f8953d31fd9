"""Grade variants of one assignment in this process; grade.py runs it as a subprocess with a time limit.

    python assignments/_worker.py a1 OUT.json student|solution|bugs/NAME.py [...] [--part NAME]

A variant is the student's file (`student.py`), the package's reference (`reference.py`), or a
seeded bug: reference.py with the functions of `bugs/NAME.py` put in place of its own. Student
code is imported as a module, never exec'd; each part runs under a timer (SIGALRM), so a loop
that never ends costs that part its points and the grader moves on. Results are written to
OUT.json after every variant, so whatever finished is reported even if a later one hangs.
"""

import importlib.util
import json
import os
import signal
import sys
import time
import traceback
import types
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The graded programs are tiny: compiling them fast matters more than running them fast (about 20% less CPU time).
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if (HERE.parent / "minireason").is_dir():  # in a checkout, grade against its own package
    sys.path.insert(0, str(HERE.parent))

from gradelib import Fail  # noqa: E402

if os.environ.get("GRADE_COMPILE_CACHE"):  # --check-all: variants that compile to the same program compile once
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ["GRADE_COMPILE_CACHE"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class PartTimeout(BaseException):
    """Raised by the timer; a BaseException, so a student's `except Exception` cannot swallow it."""


def _alarm(signum, frame):
    raise PartTimeout


def assignment_dir(name: str) -> Path:
    found = sorted(HERE.glob(f"{name}_*"))
    if not found:
        raise SystemExit(f"no assignment {name!r} in {HERE}")
    return found[0]


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # an ordinary import of the file, as `import student` would do
    return module


def variant_module(folder: Path, variant: str, n: int) -> tuple[types.ModuleType, list[str]]:
    """(module, source files whose frames count as the graded code)."""
    if variant == "solution":
        return load(folder / "reference.py", f"{folder.name}_reference_{n}"), [str(folder / "reference.py")]
    if variant == "student":
        return load(folder / "student.py", f"{folder.name}_student_{n}"), [str(folder / "student.py")]
    bug_path = folder / variant
    reference = load(folder / "reference.py", f"{folder.name}_reference_{n}")
    bug = load(bug_path, f"{folder.name}_bug_{n}")
    module = types.ModuleType(bug.__name__, bug.__doc__)
    module.__dict__.update({k: v for k, v in vars(reference).items() if not k.startswith("__")})
    module.__dict__.update({k: v for k, v in vars(bug).items()
                            if callable(v) and getattr(v, "__module__", None) == bug.__name__})
    module.__file__ = str(bug_path)
    return module, [str(bug_path), str(folder / "reference.py")]


def explain(exc: BaseException, graded: list[str]) -> tuple[str, bool]:
    """(message for the student, grader_error): name the graded function that raised, and its line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in graded]
    what = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if len(what) > 400:
        what = what[:400] + " ..."
    if not frames:
        return f"grader error (please report it): {what}", True
    f = frames[-1]
    if isinstance(exc, NotImplementedError):
        return f"`{f.name}` is not implemented yet (it raises NotImplementedError)", False
    return f"your `{f.name}` raised {what} ({Path(f.filename).name} line {f.lineno}: {f.line})", False


def grade(folder: Path, checks: types.ModuleType, variant: str, n: int, only: str | None) -> dict:
    parts = [p for p in checks.PARTS if only in (None, p.name)]
    result = dict(variant=variant, parts=[], max=sum(p.points for p in parts))
    try:
        module, graded = variant_module(folder, variant, n)
    except Exception as exc:  # a file that does not even import scores 0 on every part, with the reason
        message = f"could not import {variant}: {type(exc).__name__}: {exc}"
        result["parts"] = [dict(name=p.name, title=p.title, points=0, max=p.points, message=message,
                                grader_error=False, seconds=0.0) for p in parts]
        result["total"] = 0
        return result
    signal.signal(signal.SIGALRM, _alarm)
    for p in parts:
        t0, message, grader_error = time.time(), "", False
        signal.setitimer(signal.ITIMER_REAL, p.timeout)
        try:
            p.check(module)
        except Fail as exc:
            message = str(exc)
        except PartTimeout:
            message = f"stopped after {p.timeout:.0f} s: an endless loop, or far too slow"
        except Exception as exc:
            message, grader_error = explain(exc, graded)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        result["parts"].append(dict(name=p.name, title=p.title, points=0 if message else p.points, max=p.points,
                                    message=message, grader_error=grader_error, seconds=round(time.time() - t0, 2)))
    result["total"] = sum(r["points"] for r in result["parts"])
    return result


def main(argv: list[str]) -> None:
    only = None
    if "--part" in argv:
        i = argv.index("--part")
        only, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    name, out, variants = argv[0], Path(argv[1]), argv[2:]
    folder, results = assignment_dir(name), []
    sys.path.insert(0, str(folder))
    checks = load(folder / "checks.py", f"{folder.name}_checks")  # once: its compiled helpers serve every variant
    for n, variant in enumerate(variants):
        results.append(grade(folder, checks, variant, n, only))
        out.write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
