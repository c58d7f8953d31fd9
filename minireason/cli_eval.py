"""`minireason eval`: held-out accuracy by level, your own prompts, and what more samples or thinking buy.

    minireason eval --checkpoint runs/add_sft --task add --level all
    minireason eval --checkpoint runs/add_sft --task add --prompts docs/typed/add.txt
    minireason eval --checkpoint runs/countdown_sft --task countdown --k 64 --verifier runs/countdown_verifier --sweep

Also the cost printout (tokens, latency, tokens/s) that `minireason generate` shares.
"""

import dataclasses
import json
from pathlib import Path

import jax

from .errors import UserError
from .runs import load_policy, load_run
from .sampler import SampleConfig
from .tasks import get_task
from .tasks.dataset import check_text


def temperature(args, per_prompt: int) -> float:
    """--temperature, or its default: greedy for one completion per prompt, 1 for several (they should differ)."""
    if args.temperature is not None:
        return args.temperature
    return 0.0 if per_prompt == 1 else 1.0


COST_KEYS = ("thinking_tokens", "answer_tokens", "latency_", "tokens_per_s")  # what print_cost shows


def print_cost(r: dict, per: str) -> None:
    """Efficiency monitoring: what a completion costs in tokens and time (evaluate.efficiency)."""
    for kind in ("thinking", "answer"):
        print(f"{kind} tokens {per}: mean {r[f'{kind}_tokens']:.1f}, p50 {r[f'{kind}_tokens_p50']:.0f}, "
              f"p95 {r[f'{kind}_tokens_p95']:.0f}")
    print(f"latency {per}: p50 {r['latency_p50_s']:.3f} s, p95 {r['latency_p95_s']:.3f} s (the time of the batch "
          f"it was decoded in, compilation excluded); {r['tokens_per_s']:.0f} tokens/s")


def _greedy(args, cfg) -> SampleConfig:
    """Greedy decoding with the run's length cap unless --max-new says otherwise, and any thinking budget."""
    return SampleConfig(max_new=args.max_new or cfg.eval.max_new, max_thinking=args.max_thinking,
                        min_thinking=args.min_thinking)


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


def cmd_eval(args) -> int:
    """Greedy accuracy; with --k K the test-time compute ladder from K samples; with --sweep its curves and plots."""
    if args.prompts:
        return _eval_prompts(args)
    task, levels, budgets, scorer, (cfg, graphdef, params) = _eval_plan(args)
    r = _eval_measure(args, graphdef, params, levels, budgets, scorer, _greedy(args, cfg))
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
    r = evaluate_prompts(graphdef, params, task.name, prompts, _greedy(args, cfg), jax.random.key(args.seed),
                         args.batch_size, timed=True)
    out = Path(args.output or Path(args.checkpoint) / f"eval_{task.name}_prompts_{Path(args.prompts).stem}.json")
    out.write_text(json.dumps(r, indent=2))
    wrong = [s for s in r["samples"] if not s["right"]]
    for s in wrong[:20]:
        print(f"  wrong: {s['prompt']} <think>{s['thinking'][:100]}</think> {s['answer']!r}")
    print_cost(r, "per problem")
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
        sampled = dataclasses.replace(sample_cfg, temperature=temperature(args, args.k))
        r.update(sample_ladder(graphdef, params, args.task, levels[-1], args.n, args.k, sampled, key, scorer=scorer))
        if args.verifier:
            r["verifier"] = args.verifier
    if args.sweep:
        r["budgets"] = budget_sweep(graphdef, params, args.task, levels[-1], args.n, budgets, sample_cfg.max_new, key)
    return r


def _eval_print(r: dict, levels: list[int]) -> None:
    """The headline numbers, the k curves, the budget sweep and, for several levels, a table by level."""
    for k, v in r.items():
        if k not in ("curves", "budgets", "levels", "wrong_picks") and not k.startswith(COST_KEYS):
            print(f"{k:24s} {v:.4f}" if isinstance(v, float) else f"{k:24s} {v}")
    print_cost(r, f"per problem (level {r['level']})" if len(levels) > 1 else "per problem")
    for metric, curve in r.get("curves", {}).items():
        print(f"{metric:24s} " + "  ".join(f"k={k} {v:.3f}" for k, v in curve.items()))
    for w in r.get("wrong_picks", [])[:4]:  # what fools the verifier (all of them are in the JSON)
        print(f"verifier's wrong pick: {w['prompt']} <think>{w['thinking'][:100]}</think> {w['answer']!r} "
              f"(expected {w['expected']!r}; score {w['score']:.3f}, best right {w['best_right_score']:.3f}, "
              f"{w['right']} of {r['k']} right)")
    for row in r.get("budgets", []):
        print(f"thinking budget {row['budget']:<8d} accuracy {row['accuracy']:.3f}, "
              f"thinking {row['thinking_tokens']:.1f} tok")
    if len(levels) > 1:
        print(f"{'level':>5}  {'held-out':>8}  {'accuracy':>8}  {'format':>6}  {'thinking tokens':>15}  "
              f"{'latency p50':>11}  {'tokens/s':>8}")
        for lv, m in r["levels"].items():
            print(f"{lv:>5}  {m['n']:>8}  {m['accuracy']:>8.1%}  {m['format_rate']:>6.1%}  "
                  f"{m['thinking_tokens']:>15.1f}  {m['latency_p50_s']:>10.3f}s  {m['tokens_per_s']:>8.0f}")
