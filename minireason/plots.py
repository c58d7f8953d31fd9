"""PNG plots of training and evaluation curves (needs matplotlib: pip install -e ".[plot]").

    minireason plot runs/countdown_rl runs/compare_rl --output docs/rl_curve.png
    minireason eval --checkpoint runs/countdown_sft --task countdown --k 64 --sweep   # test-time compute

Training curves are read from each run's eval_history.jsonl, one line per held-out eval, which
the recipe (minireason/train.py) writes; TensorBoard shows the same numbers.
"""

import json
from pathlib import Path

from .errors import UserError


def history(run_dir: str | Path, metric: str = "accuracy") -> dict[str, tuple[list[int], list[float]]]:
    """task -> (steps, values) of one eval metric; a step logged twice (by runs made before resumed runs
    replaced their lines) keeps its last value."""
    path = Path(run_dir) / "eval_history.jsonl"
    if not path.is_file():
        raise UserError(f"{path} not found: train the run first (python train.py CONFIG.toml)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is damaged: not UTF-8 text ({e.reason} at byte {e.start})") from None
    by_task: dict[str, dict[int, float]] = {}
    for i, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
            tasks, step = row["tasks"], int(row["step"])
            curves = [(task, r[metric]) for task, r in tasks.items() if metric in r]
        except (ValueError, KeyError, TypeError, AttributeError):
            if i == len(lines):  # a run stopped mid-write: its last eval is lost, the rest is good
                print(f"note: skipped the last line of {path}, which is cut short")
                break
            raise UserError(f"{path} line {i} is not an eval record; delete or fix that line") from None
        for task, value in curves:
            by_task.setdefault(task, {})[step] = value
    if not by_task:
        raise UserError(f"{path} has no {metric!r}; metrics there: accuracy, format_rate, thinking_tokens "
                        "(pass@k with eval.samples > 0)")
    return {task: (sorted(v), [v[s] for s in sorted(v)]) for task, v in by_task.items()}


def by_level(path: str | Path, metric: str = "accuracy") -> tuple[str, tuple[list[int], list[float]]]:
    """(task, (levels, values)) from the JSON of `minireason eval --level all`."""
    try:
        r = json.loads(Path(path).read_text())
        levels = {int(level): m[metric] for level, m in r["levels"].items()}
        return r["task"], (sorted(levels), [levels[k] for k in sorted(levels)])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"{path} is not the JSON of `minireason eval --level all` with {metric!r} per level") from None


def line_plot(series: dict[str, tuple[list, list]], out: str | Path, xlabel: str, ylabel: str, title: str = "",
              log_x: bool = False, log_base: int = 10, hline: tuple[str, float] | None = None,
              xticks: list | None = None) -> Path:
    """One line per series, written to `out` as a PNG; `hline` is a (label, y) reference such as greedy accuracy."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError('plots need matplotlib: pip install -e ".[plot]"') from None
    beside = len(series) > 4  # a legend that long would cover the lines: put it to the right
    fig, ax = plt.subplots(figsize=(9 if beside else 6, 4), dpi=100)
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=label)
    if hline is not None:
        ax.axhline(hline[1], color="gray", linestyle="--", label=hline[0])
    if log_x and min(x for xs, _ in series.values() for x in xs) > 0:
        ax.set_xscale("log", base=log_base)
    elif log_x:  # symlog so that step 0 (the starting policy) stays on the plot
        ax.set_xscale("symlog", linthresh=1, base=log_base)
    if xticks is not None:
        ax.set_xticks(xticks, [str(x) for x in xticks])
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(**(dict(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small") if beside else {}))
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return Path(out)


def plot_sweep(r: dict, out: Path) -> tuple[Path, Path]:
    """`minireason eval --sweep`: accuracy vs k (the test-time compute ladder) and accuracy vs thinking budget.

    Two PNGs next to the JSON `out`, from its result `r`; returns their paths.
    """
    title = f"{r['task']} level {r['level']}, {r['n']} held-out problems"
    ks = list(r["curves"]["pass@k"])
    series = {metric: (list(curve), list(curve.values())) for metric, curve in r["curves"].items()}
    by_k = line_plot(series, out.with_name(out.stem + "_k.png"),
                     f"samples per problem k (temperature {r['temperature']})", "held-out accuracy", title,
                     log_x=True, log_base=2, hline=("greedy", r["accuracy"]), xticks=ks)
    budgets = [row["budget"] for row in r["budgets"]]
    by_budget = line_plot({"greedy, thinking capped": (budgets, [row["accuracy"] for row in r["budgets"]])},
                          out.with_name(out.stem + "_budget.png"), "thinking-token budget (</think> forced at the cap)",
                          "held-out accuracy", title, hline=("greedy, no cap", r["accuracy"]), xticks=budgets)
    return by_k, by_budget
