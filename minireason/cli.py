"""The `minireason` command: train, eval, generate, sample, tasks, data, bench, plot.

    minireason eval --checkpoint runs/countdown_sft --task countdown --k 64 --verifier runs/countdown_verifier --sweep
    minireason data export --task add --level 3 --n 5000 --output add.jsonl
    minireason data keep --input samples.jsonl --output traces.jsonl --shortest

Every error a user can fix (bad config, unknown task, out-of-vocabulary prompt, missing or
damaged checkpoint, malformed JSONL) is one line on stderr and exit status 2.
"""

import argparse
import dataclasses
import json
import math
import random
import sys
from pathlib import Path

import jax

from .errors import UserError
from .runs import load_policy, load_run
from .sampler import SampleConfig, generate
from .tasks import TASKS, get_task
from .tasks.dataset import check_text, export_rows, read_jsonl
from .tokenizer import encode, render

TEMPERATURE_HELP = "sampling temperature; default 0 (greedy) for one completion per prompt, 1 for several"


def _temperature(args, per_prompt: int) -> float:
    """--temperature, or its default: greedy for one completion per prompt, 1 for several (they should differ)."""
    if args.temperature is not None:
        return args.temperature
    return 0.0 if per_prompt == 1 else 1.0


def _sample_cfg(args, cfg) -> SampleConfig:
    return SampleConfig(max_new=args.max_new or cfg.eval.max_new, temperature=_temperature(args, args.samples),
                        top_p=args.top_p, max_thinking=args.max_thinking, min_thinking=args.min_thinking)


def _load_scorer(run_dir: str, task: str):
    """The learned verifier in run_dir as a scorer for evaluate.sample_ladder; it must have been trained on `task`."""
    from .verifier import make_scorer

    if not (Path(run_dir) / "config.json").is_file():
        raise UserError(f"--verifier {run_dir} is not a run directory (no config.json); "
                        "train one first, e.g. python train.py configs/countdown_verifier.toml")
    cfg, graphdef, params = load_run(run_dir)
    if cfg.run.stage != "verifier":
        raise UserError(f"--verifier {run_dir} is a {cfg.run.stage} run, not a verifier (run.stage = \"verifier\")")
    if task not in cfg.data.tasks:
        raise UserError(f"the verifier in {run_dir} was trained on {', '.join(cfg.data.tasks)}, not {task!r}")
    return make_scorer(graphdef, params)


def _budgets(text: str) -> list[int]:
    try:
        budgets = [int(b) for b in text.split(",")]
    except ValueError:
        budgets = []
    if not budgets or min(budgets) < 0:
        raise UserError(f"--budgets must be thinking-token caps >= 0 separated by commas, e.g. 0,8,16,32; got {text!r}")
    return budgets


def _levels(text: str | None, task, cfg) -> list[int]:
    """--level: a number, `all` (every level of the task) or none (the levels the run was trained on)."""
    from .evaluate import eval_levels

    if text is None:
        if task.name not in cfg.data.tasks:
            raise UserError(f"the run was not trained on {task.name!r}; "
                            f"pass --level ({task.min_level}..{task.max_level} or all)")
        levels = eval_levels(cfg).get(task.name)
        if levels is None:
            raise UserError(f"{task.name} has no held-out example at the levels the run was trained on")
        return levels
    if text == "all":
        return list(range(task.min_level, task.max_level + 1))
    if not text.isdigit() or not task.min_level <= int(text) <= task.max_level:
        raise UserError(f"--level for {task.name!r} must be in {task.min_level}..{task.max_level} or all, got {text!r}")
    return [int(text)]


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
        _print_cost(efficiency(outs), f"per completion ({len(outs)})")
    print(f"wrote {len(rows)} lines to {args.output}")
    return 0


COST_KEYS = ("thinking_tokens", "answer_tokens", "latency_", "tokens_per_s")  # what _print_cost shows


def _print_cost(r: dict, per: str) -> None:
    """Efficiency monitoring: what a completion costs in tokens and time (evaluate.efficiency)."""
    for kind in ("thinking", "answer"):
        print(f"{kind} tokens {per}: mean {r[f'{kind}_tokens']:.1f}, p50 {r[f'{kind}_tokens_p50']:.0f}, "
              f"p95 {r[f'{kind}_tokens_p95']:.0f}")
    print(f"latency {per}: p50 {r['latency_p50_s']:.3f} s, p95 {r['latency_p95_s']:.3f} s (the time of the batch "
          f"it was decoded in, compilation excluded); {r['tokens_per_s']:.0f} tokens/s")


def cmd_sample(args) -> int:
    check_text(args.prompt, "prompt")
    cfg, graphdef, params = load_policy(args.checkpoint, "--checkpoint")
    outs = generate(graphdef, params, [args.prompt] * args.samples, _sample_cfg(args, cfg), jax.random.key(args.seed))
    for o in outs:
        print(f"prompt:   {args.prompt}")
        print(f"thinking: {o['thinking']}")
        print(f"answer:   {o['answer']}{'' if o['well_formed'] else '   (malformed: no single </think> before <eos>)'}")
        print(f"tokens:   {o['thinking_tokens']} thinking, {o['answer_tokens']} answer")
    return 0


def cmd_eval(args) -> int:
    """Greedy accuracy; with --k K the test-time compute ladder from K samples; with --sweep its curves and plots."""
    if args.prompts:
        return _eval_prompts(args)
    task, levels, budgets, scorer, (cfg, graphdef, params) = _eval_plan(args)
    sample_cfg = SampleConfig(max_new=args.max_new or cfg.eval.max_new, max_thinking=args.max_thinking,
                              min_thinking=args.min_thinking)
    r = _eval_measure(args, graphdef, params, levels, budgets, scorer, sample_cfg)
    tag = str(levels[-1]) if len(levels) == 1 else f"{levels[0]}-{levels[-1]}"
    stem = "sweep" if args.sweep else "eval"
    out = Path(args.output or Path(args.checkpoint) / f"{stem}_{task.name}_level{tag}.json")
    out.write_text(json.dumps(r, indent=2))
    _eval_print(r, levels)
    print(f"wrote {out}")
    if args.sweep:
        from .plots import plot_sweep

        png_k, png_budget = plot_sweep(r, out)
        print(f"wrote {png_k} and {png_budget}")
    return 0


def _eval_prompts(args) -> int:
    """--prompts FILE: greedy accuracy on your own prompts of one task, one per line, and the ones it gets wrong."""
    from .evaluate import evaluate_prompts

    task = get_task(args.task)
    if args.k > 1 or args.sweep or args.level is not None:
        raise UserError("--prompts scores the file's prompts greedily: leave out --k, --sweep and --level")
    try:
        prompts = [line.strip() for line in Path(args.prompts).read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"--prompts {args.prompts} could not be read as text ({e})") from None
    if not prompts:
        raise UserError(f"--prompts {args.prompts} holds no prompt (one per line)")
    for i, prompt in enumerate(prompts, start=1):
        check_text(prompt, f"{args.prompts} line {i}")
    cfg, graphdef, params = load_policy(args.checkpoint, "--checkpoint")
    sample_cfg = SampleConfig(max_new=args.max_new or cfg.eval.max_new, max_thinking=args.max_thinking,
                              min_thinking=args.min_thinking)
    r = evaluate_prompts(graphdef, params, task.name, prompts, sample_cfg, jax.random.key(args.seed),
                         args.batch_size, timed=True)
    out = Path(args.output or Path(args.checkpoint) / f"eval_{task.name}_prompts_{Path(args.prompts).stem}.json")
    out.write_text(json.dumps(r, indent=2))
    wrong = [s for s in r["samples"] if not s["right"]]
    for s in wrong[:20]:
        print(f"  wrong: {s['prompt']} <think>{s['thinking'][:100]}</think> {s['answer']!r}")
    _print_cost(r, "per problem")
    print(f"{task.name}: {r['accuracy']:.1%} of {r['n']} prompts from {args.prompts} ({len(wrong)} wrong); wrote {out}")
    return 0


def _eval_plan(args):
    """Check the arguments and load what they name: (task, levels, budgets, scorer, (cfg, graphdef, params))."""
    task = get_task(args.task)
    if args.k == 1 and (args.sweep or args.verifier):
        raise UserError("--k must be >= 2 with --sweep or --verifier (e.g. --k 64); got 1")
    if args.k == 1 and args.temperature is not None:
        raise UserError("--temperature is for the --k samples; with --k 1 eval reports greedy accuracy only")
    budgets = _budgets(args.budgets) if args.sweep else []
    policy = load_policy(args.checkpoint, "--checkpoint")
    scorer = _load_scorer(args.verifier, args.task) if args.verifier else None
    levels = _levels(args.level, task, policy[0])
    if len(levels) > 1 and (args.k > 1 or args.sweep):  # sampling many times: the highest level only
        if args.level is not None:
            raise UserError("--k and --sweep take one --level; --level all gives greedy accuracy per level")
        levels = levels[-1:]
    return task, levels, budgets, scorer, policy


def _eval_measure(args, graphdef, params, levels, budgets, scorer, sample_cfg) -> dict:
    """Greedy accuracy at each level; then the ladder from --k samples, and the thinking-budget sweep."""
    from .evaluate import budget_sweep, evaluate_levels, sample_ladder

    key = jax.random.key(args.seed)
    r = evaluate_levels(graphdef, params, args.task, levels, args.n, sample_cfg, key, args.batch_size, timed=True)
    r.pop("samples")
    if args.k > 1:  # all K samples are drawn once; every k <= K is computed from them
        sampled = dataclasses.replace(sample_cfg, temperature=_temperature(args, args.k))
        r.update(sample_ladder(graphdef, params, args.task, levels[-1], args.n, args.k, sampled, key, scorer=scorer))
        if args.verifier:
            r["verifier"] = args.verifier
    if args.sweep:
        r["budgets"] = budget_sweep(graphdef, params, args.task, levels[-1], args.n, budgets, sample_cfg.max_new, key)
    return r


def _eval_print(r: dict, levels: list[int]) -> None:
    """The headline numbers, the k curves, the budget sweep and, for several levels, a table by level."""
    for k, v in r.items():
        if k not in ("curves", "budgets", "levels") and not k.startswith(COST_KEYS):
            print(f"{k:24s} {v:.4f}" if isinstance(v, float) else f"{k:24s} {v}")
    _print_cost(r, f"per problem (level {r['level']})" if len(levels) > 1 else "per problem")
    for metric, curve in r.get("curves", {}).items():
        print(f"{metric:24s} " + "  ".join(f"k={k} {v:.3f}" for k, v in curve.items()))
    for row in r.get("budgets", []):
        print(f"thinking budget {row['budget']:<8d} accuracy {row['accuracy']:.3f}, "
              f"thinking {row['thinking_tokens']:.1f} tok")
    if len(levels) > 1:
        print(f"{'level':>5}  {'held-out':>8}  {'accuracy':>8}  {'format':>6}  {'thinking tokens':>15}  "
              f"{'latency p50':>11}  {'tokens/s':>8}")
        for lv, m in r["levels"].items():
            print(f"{lv:>5}  {m['n']:>8}  {m['accuracy']:>8.1%}  {m['format_rate']:>6.1%}  "
                  f"{m['thinking_tokens']:>15.1f}  {m['latency_p50_s']:>10.3f}s  {m['tokens_per_s']:>8.0f}")


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


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    bench_main(args.rest)
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

    d = sub.add_parser("data", help="datasets: export a task's worked examples as JSONL; keep verified samples")
    data_sub = d.add_subparsers(dest="data_command", required=True)
    x = data_sub.add_parser(
        "export", help="one JSON line per example: prompt, thinking, answer, task, level")
    x.add_argument("--task", required=True, help="a task name (or a dataset FILE.jsonl, or FILE.py:NAME)")
    x.add_argument("--level", default=None, help="a level or a range (1-3); default: every level of the task")
    x.add_argument("--n", type=_number(int, 1), required=True,
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

    b = sub.add_parser("bench", help="train and sampler speed (benchmarks/bench.py)", add_help=False)
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(fn=cmd_bench)

    q = sub.add_parser("plot", help="PNG of held-out accuracy (or another eval metric) vs training step or level")
    q.add_argument("runs", nargs="+", help="run directories (e.g. runs/countdown_rl), or the JSON files of "
                   "`minireason eval --level all` for accuracy against level")
    q.add_argument("--output", required=True, help="PNG file to write")
    q.add_argument("--metric", default="accuracy", help="accuracy, format_rate, thinking_tokens or pass@K")
    q.add_argument("--log-x", action="store_true", help="logarithmic step axis")
    q.set_defaults(fn=cmd_plot)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.fn(args)
    except (UserError, OSError) as e:  # OSError: a file that is missing, a directory, unwritable
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
