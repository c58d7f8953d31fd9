"""`minireason data`: datasets out (`export`) and the flywheel's filter (`keep`).

    minireason data export --task add --level 1-3 --n 20000 --output add.jsonl
    minireason data keep --input samples.jsonl --output traces.jsonl --shortest

A dataset file trains like a task (`data.tasks = {"add.jsonl" = 1.0}`, tasks/dataset.py); `keep`
turns the samples of `minireason generate` into one (docs/flywheel.md).
"""

import json
from pathlib import Path

from .errors import UserError
from .tasks import get_task
from .tasks.dataset import check_text, export_rows, read_jsonl
from .tokenizer import encode


def cmd_data_export(args) -> int:
    """Write a task's examples as JSONL; `data.tasks = {"FILE.jsonl" = 1.0}` trains on them (tasks/dataset.py)."""
    task = get_task(args.task)
    low, _, high = (args.level or f"{task.min_level}-{task.max_level}").partition("-")
    if not (low.isdigit() and (high or low).isdigit()
            and task.min_level <= int(low) <= int(high or low) <= task.max_level):
        raise UserError(f"--level for {task.name!r} must be a level or a range like 1-3 within "
                        f"{task.min_level}..{task.max_level}, got {args.level!r}")
    levels = list(range(int(low), int(high or low) + 1))
    rows = export_rows(task, levels, args.n, args.split, args.seed)
    Path(args.output).write_text("".join(json.dumps(row) + "\n" for row in rows))
    per_level = ", ".join(f"{level}: {sum(r['level'] == level for r in rows)}" for level in levels)
    print(f"wrote {len(rows)} {args.split} examples of {task.name} to {args.output} (by level {per_level})")
    return 0


def cmd_data_keep(args) -> int:
    """Rejection sampling: the completions of `minireason generate` that their task's scorer accepts, as a dataset.

    The data flywheel (docs/flywheel.md): a model's own verified traces become training data for the next model.
    """
    rows, n_samples, prompts = {}, 0, set()
    for i, row in read_jsonl(args.input):
        name = row.get("task", args.task)
        if not isinstance(row.get("prompt"), str) or not isinstance(name, str):
            raise UserError(f"{args.input} line {i} needs a string \"prompt\" and a \"task\" (or give --task): "
                            "the output of minireason generate on a file from minireason data export")
        task = get_task(name)
        thinking, answers = row.get("thinking"), row.get("answer")
        if not isinstance(answers, list):  # generate --samples 1 writes one string, not a list
            thinking, answers = [thinking], [answers]
        if not (isinstance(thinking, list) and isinstance(answers, list) and len(thinking) == len(answers)
                and all(isinstance(x, str) for x in thinking + answers)):
            raise UserError(f"{args.input} line {i}: \"thinking\" and \"answer\" must be strings (or lists of "
                            "strings, one per sample), as minireason generate writes them")
        n_samples += len(answers)
        check_text(row["prompt"] + "".join(thinking + answers), f"{args.input} line {i}")
        right = [(t, a) for t, a in zip(thinking, answers) if task.score(row["prompt"], a) == 1.0]
        if args.shortest and right:
            right = [min(right, key=lambda ta: len(encode(ta[0])))]  # the fewest thinking tokens; ties: the first
        for t, a in right:
            rows.setdefault((row["prompt"], t, a), dict(prompt=row["prompt"], thinking=t, answer=a, task=task.name,
                                                        level=row.get("level", 1)))
            prompts.add(row["prompt"])
    Path(args.output).write_text("".join(json.dumps(row) + "\n" for row in rows.values()))
    print(f"kept {len(rows)} distinct right completions of {n_samples} samples ({len(prompts)} prompts with at least "
          f"one){' (the shortest per prompt)' if args.shortest else ''}; wrote {args.output}")
    return 0


def add_data_parser(sub, count) -> None:
    """The `data` subcommand and its two commands; `count` parses a positive integer (cli._number)."""
    d = sub.add_parser("data", help="datasets: export a task's worked examples as JSONL; keep verified samples")
    data_sub = d.add_subparsers(dest="data_command", required=True)
    x = data_sub.add_parser(
        "export", help="one JSON line per example: prompt, thinking, answer, task, level")
    x.add_argument("--task", required=True, help="a task name (or a dataset FILE.jsonl, or FILE.py:NAME)")
    x.add_argument("--level", default=None, help="a level or a range (1-3); default: every level of the task")
    x.add_argument("--n", type=count, required=True,
                   help="examples (train), or held-out problems per level (heldout)")
    x.add_argument("--output", required=True, help="the JSONL file to write")
    x.add_argument("--split", choices=("train", "heldout"), default="train",
                   help="train: draws from the training buckets; heldout: the problems minireason eval scores")
    x.add_argument("--seed", type=int, default=0, help="seeds the train draws (the held-out set is fixed)")
    x.set_defaults(fn=cmd_data_export)
    y = data_sub.add_parser("keep", help="rejection sampling: keep the generated completions the task's scorer "
                            "accepts, as a dataset to train on")
    y.add_argument("--input", required=True, help="the output of minireason generate (e.g. with --samples 4)")
    y.add_argument("--output", required=True, help="the JSONL file to write")
    y.add_argument("--task", default=None, help="the task that scores lines without a \"task\" field")
    y.add_argument("--shortest", action="store_true", help="keep only the shortest right thinking per prompt")
    y.set_defaults(fn=cmd_data_keep)
