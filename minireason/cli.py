"""The `minireason` command: train, eval, generate, sample, tasks, data, bench, plot.

    minireason sample --checkpoint runs/add_sft "478+96="
    minireason generate --checkpoint runs/add_sft --input in.jsonl --output out.jsonl --samples 4

This file holds the parser and the small commands; `eval` is in cli_eval.py, `data` in cli_data.py.

Every error a user can fix (bad config, unknown task, out-of-vocabulary prompt, missing or
damaged checkpoint, malformed JSONL) is one line on stderr and exit status 2.
"""

import argparse
import json
import math
import random
import sys
from pathlib import Path

import jax

from .cli_data import add_data_parser
from .cli_eval import cmd_eval, print_cost, temperature
from .errors import UserError
from .runs import load_policy
from .sampler import SampleConfig, generate
from .tasks import TASKS, training_examples
from .tasks.dataset import check_text, read_jsonl
from .tokenizer import render

TEMPERATURE_HELP = "sampling temperature; default 0 (greedy) for one completion per prompt, 1 for several"


def _sample_cfg(args, cfg) -> SampleConfig:
    return SampleConfig(max_new=args.max_new or cfg.eval.max_new, temperature=temperature(args, args.samples),
                        top_p=args.top_p, max_thinking=args.max_thinking, min_thinking=args.min_thinking)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, like every other error, instead of the usage block
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _number(kind, low: float, high: float = math.inf):
    """argparse type: a finite int or float in [low, high]."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'} {bounds}, "
                                             f"got {text!r}")
        return value
    return parse


def _read_prompts(path: str) -> list[dict]:
    """The rows of a JSONL input file, each a JSON object with a string "prompt" the vocabulary can spell."""
    rows = []
    for i, row in read_jsonl(path):
        if not isinstance(row.get("prompt"), str):
            raise UserError(f"{path} line {i} needs a string field \"prompt\"")
        check_text(row["prompt"], f"{path} line {i}")
        rows.append(row)
    return rows


def cmd_train(args) -> int:
    from .train import cli  # the recipe, minireason/train.py

    return cli([args.config, *args.overrides])


def cmd_generate(args) -> int:
    from .evaluate import efficiency

    rows = _read_prompts(args.input)
    cfg, graphdef, params = load_policy(args.checkpoint, "--checkpoint")
    sample_cfg = _sample_cfg(args, cfg)
    prompts = [r["prompt"] for r in rows for _ in range(args.samples)]
    key = jax.random.key(args.seed)
    outs = generate(graphdef, params, prompts, sample_cfg, key, args.batch_size, "generating", timed=True)
    keys = ("thinking", "answer", "thinking_tokens", "answer_tokens", "latency_s")
    with open(args.output, "w") as f:
        for i, row in enumerate(rows):
            group = outs[i * args.samples:(i + 1) * args.samples]
            extra = {k: (group[0][k] if args.samples == 1 else [o[k] for o in group]) for k in keys}
            f.write(json.dumps({**row, **extra}) + "\n")
    if outs:
        print_cost(efficiency(outs), f"per completion ({len(outs)})")
    print(f"wrote {len(rows)} lines to {args.output}")
    return 0


def _unseen(prompt: str, cfg) -> tuple[str, str]:
    """Characters of `prompt` that none of 500 training prompts of the model's tasks has, and one such prompt."""
    try:
        exs = training_examples(cfg.data.tasks, cfg.data.levels, random.Random(0), 500)
    except (UserError, ValueError, OSError):  # a dataset file that moved: nothing to compare with
        return "", ""
    seen = set().union(*(ex.prompt for _, ex in exs))
    return "".join(sorted(set(prompt) - seen)), exs[0][1].prompt


def cmd_sample(args) -> int:
    check_text(args.prompt, "prompt")
    cfg, graphdef, params = load_policy(args.checkpoint, "--checkpoint")
    unseen, like = _unseen(args.prompt, cfg)
    if unseen:  # `x + 5 = 3` to a model that only saw `x+5=3`: say why the answer may be nonsense
        print(f"note: the model's training prompts never hold {unseen!r} (they look like {like!r}); "
              "write the prompt that way for a meaningful answer", file=sys.stderr)
    outs = generate(graphdef, params, [args.prompt] * args.samples, _sample_cfg(args, cfg), jax.random.key(args.seed))
    for o in outs:
        print(f"prompt:   {args.prompt}")
        print(f"thinking: {o['thinking']}")
        print(f"answer:   {o['answer']}{'' if o['well_formed'] else '   (malformed: no single </think> before <eos>)'}")
        print(f"tokens:   {o['thinking_tokens']} thinking, {o['answer_tokens']} answer")
    return 0


def cmd_tasks(args) -> int:
    rng = random.Random(args.seed)
    for name, t in TASKS.items():
        level = min(max(t.min_level, 2), t.max_level)
        ex = t.generate(rng, level)
        print(f"{name}  levels {t.min_level}..{t.max_level}: {t.level_help}")
        print(f"  example (level {level}): {ex.prompt}")
        print(f"    thinking: {ex.thinking}")
        print(f"    answer:   {ex.answer}   ({len(render(ex)[0])} tokens in all)")
    return 0


def cmd_bench(argv: list[str]) -> int:
    from .bench import main as bench_main

    bench_main(argv)
    return 0


def cmd_plot(args) -> int:
    """Held-out accuracy against training step (run directories) or against level (`eval --level all` JSONs)."""
    from .plots import by_level, history, line_plot

    if all(run.endswith(".json") for run in args.runs):
        series = dict(by_level(path, args.metric) for path in args.runs)
        out = line_plot(series, args.output, "level", f"held-out {args.metric}", xticks=sorted(
            {level for levels, _ in series.values() for level in levels}))
        print(f"wrote {out}")
        return 0
    series = {}
    for run in args.runs:
        for task, curve in history(run, args.metric).items():
            series[f"{Path(run).name} {task}" if len(args.runs) > 1 else task] = curve
    out = line_plot(series, args.output, "training step", f"held-out {args.metric}",
                    log_x=args.log_x)
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="minireason", description="a small reasoning transformer: think, then answer")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train from a TOML config (same as python train.py)")
    t.add_argument("config")
    t.add_argument("overrides", nargs="*", help="section.key=value")
    t.set_defaults(fn=cmd_train)

    def sampling(q, samples=True):
        q.add_argument("--checkpoint", required=True, help="run directory, e.g. runs/add_sft")
        if samples:
            q.add_argument("--samples", type=_number(int, 1), default=1, help="completions per prompt")
            q.add_argument("--top-p", type=_number(float, 0, 1), default=1.0)
        q.add_argument("--temperature", type=_number(float, 0), default=None, help=TEMPERATURE_HELP)
        q.add_argument("--max-thinking", type=_number(int, -1), default=-1, help="thinking-token budget (-1: none)")
        q.add_argument("--min-thinking", type=_number(int, 0), default=0,
                       help="suppress </think> and <eos> until this many thinking tokens")
        q.add_argument("--max-new", type=_number(int, 0), default=0,
                       help="completion length cap (0: the run's eval.max_new)")
        q.add_argument("--seed", type=int, default=0)

    def batches(q):
        q.add_argument("--batch-size", type=_number(int, 1), default=256,
                       help="prompts decoded together (latency is per batch: 1 times each problem alone)")

    g = sub.add_parser("generate", help="complete every prompt of a JSONL file")
    sampling(g)
    batches(g)
    g.add_argument("--input", required=True)
    g.add_argument("--output", required=True)
    g.set_defaults(fn=cmd_generate)

    s = sub.add_parser("sample", help="show the thinking and the answer for one prompt")
    sampling(s)
    s.add_argument("prompt")
    s.set_defaults(fn=cmd_sample)

    e = sub.add_parser("eval", help="held-out accuracy on a task; with --k, what more samples buy")
    sampling(e, samples=False)
    e.add_argument("--task", required=True)
    e.add_argument("--level", default=None,
                   help="a level, or all (every level of the task); default: every level the run was trained on")
    e.add_argument("--n", type=_number(int, 1), default=1000, help="held-out problems")
    e.add_argument("--k", type=_number(int, 1), default=1, help="samples per problem at --temperature: pass@k, maj@k "
                   "(and rerank@k with --verifier); greedy accuracy is always reported too")
    e.add_argument("--verifier", default=None, help="a verifier run directory (train.py configs/*_verifier.toml)")
    e.add_argument("--sweep", action="store_true", help="also accuracy vs thinking budget; JSON and PNG plots")
    e.add_argument("--budgets", default="0,8,16,32,64,128", help="thinking-token caps for --sweep")
    e.add_argument("--prompts", default=None,
                   help="score these prompts instead of held-out ones: one per line (e.g. docs/typed/add.txt)")
    e.add_argument("--output", default=None, help="default: CHECKPOINT/eval_TASK_levelL.json (sweep_... with --sweep)")
    batches(e)
    e.set_defaults(fn=cmd_eval)

    k = sub.add_parser("tasks", help="list the tasks with an example of each")
    k.add_argument("--seed", type=int, default=0)
    k.set_defaults(fn=cmd_tasks)

    add_data_parser(sub, count=_number(int, 1))

    sub.add_parser("bench", help="train speed and MFU, sampler speed (benchmarks/bench.py; bench --help)",
                   add_help=False)

    q = sub.add_parser("plot", help="PNG of held-out accuracy (or another eval metric) vs training step or level")
    q.add_argument("runs", nargs="+", help="run directories (e.g. runs/countdown_rl), or the JSON files of "
                   "`minireason eval --level all` for accuracy against level")
    q.add_argument("--output", required=True, help="PNG file to write")
    q.add_argument("--metric", default="accuracy", help="accuracy, format_rate, thinking_tokens or pass@K")
    q.add_argument("--log-x", action="store_true", help="logarithmic step axis")
    q.set_defaults(fn=cmd_plot)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["bench"]:  # bench parses its own options: as a sub-command, argparse would refuse them
            return cmd_bench(argv[1:])
        args = build_parser().parse_args(argv)
        return args.fn(args)
    except (UserError, OSError) as e:  # OSError: a file that is missing, a directory, unwritable
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
