"""A JSONL file of worked examples as a task, and the export that writes one.

One line per example, as `minireason data export` writes them:

    {"prompt": "47+385=", "thinking": "7+5+0=12 2,...", "answer": "432", "task": "add", "level": 3}

`prompt` and `answer` are required; a line without `thinking` (or with an empty one) trains the
no-think format; `level` (an integer >= 1) defaults to 1; `task` is a label; other keys are ignored.
The file is a task named by its path, relative to the directory you run from:
`data.tasks = {"data/add.jsonl" = 1.0}`, `minireason eval --task data/add.jsonl`.

Split and score. A line whose `task` names a built-in task is held out and scored like that task:
by the hash of its problem, and right when that task's scorer accepts the answer (so a file exported
from `add` keeps add's split exactly, and countdown's other right expressions count). Any other line
is held out by the hash of its prompt (the same one-in-ten rule) and scored by exact match on its
answer, surrounding spaces forgiven. A prompt's first line decides its split.

Training draws a level (uniformly, or by data.level_weights), then one of that level's training
lines uniformly, repeated lines counting each time. Evaluation takes the first n distinct held-out
prompts of a level in file order, so an exported held-out split is evaluated exactly as the
built-in task is. Every line is checked when the file is read: a malformed line, a character
outside the vocabulary, or an answer its named task rejects is a one-line error naming the line.
"""

import json
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError
from ..tokenizer import encode
from .base import HELDOUT_BUCKETS, Example, Task, exact


def read_jsonl(path: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line; anything that is not one JSON object per line is an error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path} could not be read as UTF-8 text ({e})") from None
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except RecursionError:
            raise UserError(f"{path} line {i} is nested too deeply to be a row of JSONL") from None
        except ValueError as e:  # also a JSON number too long to convert
            raise UserError(f"{path} line {i} is not valid JSON ({str(e).split(';')[0][:120]})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path} line {i} must be a JSON object like {{\"prompt\": ..., \"answer\": ...}}")
        yield i, row


def check_text(text: str, where: str) -> None:
    """A UserError naming `where` and the character when the vocabulary cannot spell `text`."""
    try:
        encode(text)
    except ValueError as e:
        raise UserError(f"{where}: {e}") from None


def _example(row: dict, where: str) -> tuple[Example, int]:
    """The line's example and level, or a UserError saying what is wrong with it."""
    for key in ("prompt", "answer"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise UserError(f"{where} needs a non-empty string field \"{key}\"")
    if not isinstance(row.get("thinking", ""), str):
        raise UserError(f"{where}: \"thinking\" must be a string (or left out, for the no-think format)")
    level = row.get("level", 1)
    if type(level) is not int or level < 1:
        raise UserError(f"{where}: \"level\" must be an integer >= 1, got {level!r:.40}")
    ex = Example(row["prompt"], row.get("thinking", ""), row["answer"])
    for key in ("prompt", "thinking", "answer"):
        check_text(getattr(ex, key), f"{where}, \"{key}\"")
    return ex, level


def load(path: str, builtins: dict[str, Task]) -> Task:
    """The task a dataset file defines (see the module docstring)."""
    keys: dict[str, str] = {}  # prompt -> the problem key its split hashes
    answers: dict[str, set[str]] = {}  # prompt -> answers right by exact match
    judges: dict[str, dict[str, Task]] = {}  # prompt -> the built-in tasks that score it
    train: dict[int, list[Example]] = {}
    heldout: dict[int, dict[str, Example]] = {}  # level -> prompt -> its first held-out example, in file order
    for i, row in read_jsonl(path):
        where = f"{path} line {i}"
        ex, level = _example(row, where)
        builtin = builtins.get(row["task"]) if isinstance(row.get("task"), str) else None
        if builtin is not None:
            if builtin.score(ex.prompt, ex.answer) != 1.0:
                raise UserError(f"{where}: {builtin.name}'s scorer rejects the answer {ex.answer!r} to "
                                f"{ex.prompt!r} (a line whose \"task\" is {builtin.name} is scored by it)")
            judges.setdefault(ex.prompt, {})[builtin.name] = builtin
        else:
            answers.setdefault(ex.prompt, set()).add(ex.answer)
        key = builtin.problem(ex.prompt) if builtin is not None and builtin.problem else ex.prompt
        if zlib.crc32(keys.setdefault(ex.prompt, key).encode()) % HELDOUT_BUCKETS == 0:
            heldout.setdefault(level, {}).setdefault(ex.prompt, ex)
        else:
            train.setdefault(level, []).append(ex)
    levels = sorted(set(train) | set(heldout))
    if not levels:
        raise UserError(f"{path} holds no examples (one JSON object per line)")

    def generate(rng: random.Random, level: int) -> Example:
        if level not in train:
            raise UserError(f"{path} has no training line at level {level}; its training lines are at levels "
                            f"{', '.join(map(str, sorted(train))) or 'none (every line is held out)'}")
        return rng.choice(train[level])

    def score(prompt: str, answer: str) -> float:
        if any(t.score(prompt, answer) == 1.0 for t in judges.get(prompt, {}).values()):
            return 1.0
        return max((exact(answer, a) for a in answers.get(prompt, ())), default=0.0)

    return Task(name=path, min_level=levels[0], max_level=levels[-1],
                level_help=f"the levels of the lines in {path}: {', '.join(map(str, levels))}",
                generate=generate, score=score, problem=lambda prompt: keys.get(prompt, prompt),
                heldout=lambda level, n: list(heldout.get(level, {}).values())[:n])


def export_rows(task: Task, levels: list[int], n: int, split: str, seed: int) -> list[dict]:
    """The lines `minireason data export` writes, each {"prompt", "thinking", "answer", "task", "level"}.

    train: n draws from the training buckets exactly as training draws them (`training_draws` with
    random.Random(seed)), the level uniform over `levels`. heldout: up to n held-out problems per
    level, the ones `minireason eval` scores, in the same order (the seed does not change them).
    """
    from . import heldout_examples, training_draws  # the registry imports this module

    if split == "train":
        drawn = training_draws({task.name: 1.0}, {task.name: (levels[0], levels[-1])}, random.Random(seed), n)
        pairs = [(level, ex) for _, level, ex in drawn]
    else:
        pairs = [(level, ex) for level in levels for ex in heldout_examples(task.name, level, n)]
    return [dict(prompt=ex.prompt, thinking=ex.thinking, answer=ex.answer, task=task.name, level=level)
            for level, ex in pairs]
