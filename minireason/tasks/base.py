"""The task interface: every task family generates worked examples and scores answers.

A task is a plain record of two functions. `generate(rng, level)` returns an `Example`
(prompt, worked thinking trace, answer); `score(prompt, answer_text)` returns 1.0 when the
answer is exactly right and 0.0 otherwise. Scorers are the RL reward, so they never raise and
never hand text to Python's evaluator: they parse it with small hand-written parsers with size limits.

Train/held-out split: a stable hash of the *problem* a prompt states puts it in one of ten
buckets; bucket 0 is held out. Spellings of one problem share a bucket (`Task.problem` maps
`5+3=` and `3+5=`, or countdown's numbers in any order, to one key), so a reordered training
problem is never counted as held-out. Training draws skip bucket 0 and evaluation draws only it,
so the two sets never overlap, whatever the seeds. A config can narrow training further to a range of the other
buckets (`data.train_buckets`), e.g. to give SFT and RL different prompts of a small task.
A task may name problems that are never held out (`Task.trained`): ones no other problem can teach,
such as `0+0=`, the only addition whose answer is 0 (held out, a model never learns to answer `0`).
"""

import random
import zlib
from dataclasses import dataclass
from typing import Callable

HELDOUT_BUCKETS = 10  # one prompt in ten is held out
TRAIN_BUCKETS = (1, HELDOUT_BUCKETS - 1)  # every bucket but the held-out one


@dataclass(frozen=True)
class Example:
    prompt: str
    thinking: str
    answer: str


@dataclass(frozen=True)
class Task:
    name: str
    min_level: int
    max_level: int
    level_help: str  # what the level knob means for this task, for `minireason tasks`
    generate: Callable[[random.Random, int], Example]
    score: Callable[[str, str], float]
    # Optional: check_thinking(prompt, thinking) is True when every checkable step of the trace is
    # right (rl.trace_weight rewards it). Only tasks whose traces can be checked step by step have one.
    check_thinking: Callable[[str, str], bool] | None = None
    # Optional: problem(prompt) is a key shared by every spelling of one problem (operands swapped,
    # numbers reordered); the split hashes it. Without one, each prompt is its own problem.
    problem: Callable[[str], str] | None = None
    # Optional: heldout(level, n) -> up to n held-out examples, a fixed set. A dataset file has one (its
    # own held-out lines, in file order); without it, held-out examples are drawn from `generate`.
    heldout: Callable[[int, int], list[Example]] | None = None
    # Problem keys never held out (their hash bucket 0 becomes 1): nothing else teaches their answer.
    trained: frozenset[str] = frozenset()

    def bucket(self, prompt: str) -> int:
        key = prompt if self.problem is None else self.problem(prompt)
        b = zlib.crc32(key.encode()) % HELDOUT_BUCKETS
        return 1 if b == 0 and key in self.trained else b

    def is_heldout(self, prompt: str) -> bool:
        return self.bucket(prompt) == 0


def draw(task: Task, rng: random.Random, level: int, heldout: bool,
         buckets: tuple[int, int] = TRAIN_BUCKETS) -> Example:
    """One example from the held-out side of the split, or from training buckets lo..hi (`buckets`)."""
    for _ in range(10_000):
        ex = task.generate(rng, level)
        b = task.bucket(ex.prompt)
        if (b == 0) if heldout else (buckets[0] <= b <= buckets[1]):
            return ex
    side = "held-out" if heldout else "training"
    raise RuntimeError(f"task {task.name!r} level {level}: could not draw a {side} prompt")


def exact(answer: str, expected: str) -> float:
    """Strict equality; only surrounding spaces are forgiven."""
    return 1.0 if answer.strip(" ") == expected else 0.0


def parse_int(text: str, max_digits: int = 40) -> int | None:
    """A decimal integer with an optional leading '-', or None. No '+', no spaces inside, no leading zeros."""
    body = text[1:] if text.startswith("-") else text
    if not body or len(body) > max_digits or not body.isascii() or not body.isdigit():
        return None
    if len(body) > 1 and body[0] == "0":
        return None
    if text == "-0":
        return None
    return int(text)
