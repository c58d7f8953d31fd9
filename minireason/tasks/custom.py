"""A task from your own Python file, without editing the package.

    data.tasks = {"my_tasks.py:parity" = 1.0}        # in a config
    minireason eval --checkpoint runs/parity --task my_tasks.py:parity

`FILE.py:NAME` names the object NAME in FILE.py; `FILE.py` alone names the file itself. The object
is a `Task`, or anything with a Task's attributes: `generate(rng, level)` returning an `Example` or
a (prompt, thinking, answer) tuple of strings, `score(prompt, answer)` returning 1.0 when the answer
is right and 0.0 otherwise; optionally `min_level` and `max_level` (default 1), `level_help`,
`problem` and `check_thinking` (see base.py). The file is imported as Python (it is your code); the
task takes the name it was given, so runs, evals and checks all call it `my_tasks.py:parity`.

When the file is loaded the task gets the checks the built-in tasks get in the test suite, on a
sample of each level: generate returns examples the vocabulary can spell; its own scorer accepts
every generated answer, rejects the empty answer and does not raise on hostile text; and the level
has both training and held-out prompts. A failure is a one-line error saying what to fix.
"""

import difflib
import importlib.util
import random
import sys
import zlib
from pathlib import Path

from ..errors import UserError
from .base import Example, Task, draw
from .dataset import check_text

CHECKED = 20  # generated examples checked per level
HOSTILE = ["", " ", "-", "0", "1", "((((", "9" * 200, "<eos>", "</think>", "\x00"]  # scorers must not raise on these


def load(spec: str) -> Task:
    path, _, attr = spec.rpartition(":") if ".py:" in spec else (spec, "", "")
    module = _import(path)
    obj = module if not attr else getattr(module, attr, None)
    if obj is None or not (callable(getattr(obj, "generate", None)) and callable(getattr(obj, "score", None))):
        found = [k for k, v in vars(module).items() if callable(getattr(v, "generate", None))
                 and callable(getattr(v, "score", None)) and not k.startswith("_")]
        close = difflib.get_close_matches(attr, found, n=3) if attr else []
        what = f"has no task {attr!r}" if attr else "has no functions generate(rng, level) and score(prompt, answer)"
        hint = f" Did you mean {', '.join(f'{path}:{k}' for k in close)}?" if close else ""
        tasks = f" Its tasks: {', '.join(f'{path}:{k}' for k in found)}." if found else (
            " A task is an object with generate(rng, level) and score(prompt, answer).")
        raise UserError(f"{path} {what}.{hint}{tasks}")
    task = Task(name=spec, min_level=getattr(obj, "min_level", 1), max_level=getattr(obj, "max_level", 1),
                level_help=getattr(obj, "level_help", "") or f"levels of {spec}",
                generate=_examples(spec, obj.generate), score=obj.score,
                check_thinking=getattr(obj, "check_thinking", None), problem=getattr(obj, "problem", None))
    check(task)
    return task


def _import(path: str):
    # A module name of our own: a file called random.py must not replace the standard library's.
    name = f"minireason_own_tasks_{Path(path).stem}_{zlib.crc32(str(Path(path).resolve()).encode()):08x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a class's module up here
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise UserError(f"importing {path} raised {type(e).__name__}: {e}") from None
    return module


def _examples(spec: str, generate):
    """generate, with what it returns made an Example: tuples are welcome, anything else is an error."""
    def wrapped(rng: random.Random, level: int) -> Example:
        ex = generate(rng, level)
        if isinstance(ex, tuple) and len(ex) == 3:
            ex = Example(*ex)
        if not isinstance(ex, Example) or not all(isinstance(getattr(ex, k), str) for k in vars(ex)):
            raise UserError(f"{spec}: generate(rng, {level}) must return an Example or a (prompt, thinking, answer) "
                            f"tuple of strings, got {ex!r:.100}")
        return ex
    return wrapped


def check(task: Task) -> None:
    """The checks of the module docstring, on CHECKED examples of each level; a UserError on the first failure."""
    name = task.name
    if not (type(task.min_level) is int and type(task.max_level) is int and 1 <= task.min_level <= task.max_level):
        raise UserError(f"{name}: min_level and max_level must be integers with 1 <= min_level <= max_level, "
                        f"got {task.min_level!r} and {task.max_level!r}")
    for level in range(task.min_level, task.max_level + 1):
        rng = random.Random(f"check/{name}/{level}")
        for _ in range(CHECKED):
            try:
                ex = task.generate(rng, level)
            except UserError:
                raise
            except Exception as e:
                raise UserError(f"{name}: generate(rng, {level}) raised {type(e).__name__}: {e}") from None
            if not ex.prompt or not ex.answer:
                raise UserError(f"{name} level {level}: the prompt and the answer must not be empty, got {ex}")
            for key in ("prompt", "thinking", "answer"):
                check_text(getattr(ex, key), f"{name} level {level}, {key} of prompt {ex.prompt!r:.60}")
            for answer, right in [(ex.answer, 1.0), ("", 0.0), *((h, None) for h in HOSTILE[1:])]:
                try:
                    s = task.score(ex.prompt, answer)
                except Exception as e:
                    raise UserError(f"{name}: score({ex.prompt!r:.60}, {answer!r:.20}) raised {type(e).__name__}: "
                                    f"{e} (a scorer is a reward: it must never raise)") from None
                if s not in (0.0, 1.0) or (right is not None and s != right):
                    expected = f"{right}" if right is not None else "0.0 or 1.0"
                    raise UserError(f"{name}: score({ex.prompt!r:.60}, {answer!r:.20}) is {s!r}, not {expected} "
                                    f"({'its own generated answer' if right else 'an answer that cannot be right'})")
        for heldout in (False, True):
            try:
                draw(task, rng, level, heldout)
            except RuntimeError:
                side = "held-out" if heldout else "training"
                raise UserError(f"{name} level {level}: no {side} prompt in 10,000 draws; one problem in ten is "
                                "held out by a hash of its prompt, so a level needs many distinct problems") from None
