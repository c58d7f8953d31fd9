"""Task registry: configs and the CLI pick tasks by name.

A name is a built-in task (`add`), a dataset file of worked examples (`data/add.jsonl`, see
dataset.py) or a task in your own Python file (`my_tasks.py:parity`, see custom.py). Files are
read relative to the directory you run from, like every other path in a config.
"""

import difflib
import functools
import os
import random

from ..errors import UserError
from .base import TRAIN_BUCKETS, Example, Task, draw
from . import arithmetic, cipher, compare, count, countdown, custom, dataset, equation, logic

TASKS: dict[str, Task] = {
    t.name: t for t in [*arithmetic.TASKS, countdown.TASK, compare.TASK, count.TASK, logic.TASK, equation.TASK,
                             cipher.TASK]
}


def get_task(name: str) -> Task:
    if name in TASKS:
        return TASKS[name]
    path = name.rsplit(":", 1)[0] if ".py:" in name else name
    if path.endswith((".jsonl", ".py")):
        try:
            stat = os.stat(path)
        except OSError as e:
            raise UserError(f"task file {path!r} could not be read ({e.strerror}); paths are relative to the "
                            "directory you run from") from None
        return _file_task(name, stat.st_mtime_ns, stat.st_size)
    close = difflib.get_close_matches(name, TASKS, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UserError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(sorted(TASKS))}; or a dataset "
                    "FILE.jsonl, or FILE.py:NAME for a task in your own Python file.")


@functools.lru_cache(maxsize=16)
def _file_task(name: str, mtime_ns: int, size: int) -> Task:
    """Read (and check) a task file once; a file edited since (another mtime or size) is read again."""
    return dataset.load(name, TASKS) if name.endswith(".jsonl") else custom.load(name)


__all__ = ["Example", "Task", "TASKS", "draw", "get_task"]


def check_mix(tasks: dict[str, float], levels: dict[str, tuple[int, int]],
              buckets: tuple[int, int] = TRAIN_BUCKETS, level_weights: dict[str, tuple[float, ...]] = {}) -> None:
    """Fail early, with a clear message, on unknown tasks, levels out of range or training buckets out of range."""
    for name in list(tasks) + list(levels) + list(level_weights):
        get_task(name)
    for name, weights in level_weights.items():
        lo, hi = levels.get(name, (get_task(name).min_level, get_task(name).max_level))
        if len(weights) != hi - lo + 1 or any(w < 0 for w in weights) or not sum(weights) > 0:
            raise ValueError(f"data.level_weights for {name!r} must be {hi - lo + 1} weights >= 0, one per level "
                             f"{lo}..{hi}, not all zero; got {list(weights)}")
    for name, (lo, hi) in levels.items():
        t = get_task(name)
        if not t.min_level <= lo <= hi <= t.max_level:
            raise ValueError(f"levels for {name!r} must satisfy {t.min_level} <= low <= high <= {t.max_level}, "
                             f"got [{lo}, {hi}]")
    if not tasks or any(w < 0 for w in tasks.values()) or sum(tasks.values()) <= 0:
        raise ValueError(f"task weights must be non-negative and not all zero, got {tasks}")
    if not TRAIN_BUCKETS[0] <= buckets[0] <= buckets[1] <= TRAIN_BUCKETS[1]:
        raise ValueError(f"data.train_buckets must satisfy {TRAIN_BUCKETS[0]} <= low <= high <= {TRAIN_BUCKETS[1]} "
                         f"(bucket 0 is the held-out split), got {list(buckets)}")


def training_draws(tasks: dict[str, float], levels: dict[str, tuple[int, int]], rng, n: int,
                   buckets: tuple[int, int] = TRAIN_BUCKETS,
                   level_weights: dict[str, tuple[float, ...]] = {}) -> list[tuple[str, int, Example]]:
    """n (task name, level, example) triples from the training side of the split (hash buckets lo..hi), by weight.

    A task's level is drawn uniformly from its range, or by its `level_weights` when it has them.
    """
    names = list(tasks)
    picks = rng.choices(names, weights=[tasks[k] for k in names], k=n)
    by_name = {name: get_task(name) for name in names}
    out = []
    for name in picks:
        t = by_name[name]
        lo, hi = levels.get(name, (t.min_level, t.max_level))
        weights = level_weights.get(name)
        level = rng.choices(range(lo, hi + 1), weights)[0] if weights else rng.randint(lo, hi)
        out.append((name, level, draw(t, rng, level, heldout=False, buckets=buckets)))
    return out


def training_examples(tasks: dict[str, float], levels: dict[str, tuple[int, int]], rng, n: int,
                      buckets: tuple[int, int] = TRAIN_BUCKETS,
                      level_weights: dict[str, tuple[float, ...]] = {}) -> list[tuple[str, Example]]:
    """`training_draws` without the levels: n (task name, example) pairs."""
    return [(name, ex) for name, _, ex in training_draws(tasks, levels, rng, n, buckets, level_weights)]


STALE_DRAWS = 200  # held-out draws in a row that bring no new prompt: the level's pool is (about) used up


def heldout_examples(name: str, level: int, n: int, seed: int = 1234) -> list[Example]:
    """A fixed held-out set: the first n distinct prompts of a seeded stream of held-out draws.

    "Up to n": fewer when the level has fewer held-out prompts, which is taken to be the case once
    STALE_DRAWS draws in a row bring no new prompt (a tiny level then returns about its whole pool, and
    quickly; a large pool costs time in proportion to n, 10 generated examples per held-out one).
    The same arguments give the same examples, and a smaller n a prefix of them; results are cached.
    A task with its own held-out set (a dataset file) gives the first n of it instead.
    """
    task = get_task(name)
    if task.heldout is None:
        return list(_heldout_examples(task, level, n, seed))
    examples = task.heldout(level, n)
    if not examples:
        raise UserError(f"{name} has no held-out example at level {level}: nothing to evaluate there")
    return examples


def has_heldout(name: str, level: int) -> bool:
    """Whether the task has held-out examples at this level (a dataset file may have none)."""
    task = get_task(name)
    return task.heldout is None or bool(task.heldout(level, 1))


@functools.lru_cache(maxsize=32)
def _heldout_examples(task: Task, level: int, n: int, seed: int) -> tuple[Example, ...]:
    rng, seen, out = random.Random(f"heldout/{task.name}/{level}/{seed}"), set(), []
    stale = 0
    while len(out) < n and stale < STALE_DRAWS:
        ex = draw(task, rng, level, heldout=True)
        if ex.prompt in seen:
            stale += 1
        else:
            stale = 0
            seen.add(ex.prompt)
            out.append(ex)
    return tuple(out)
