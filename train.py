"""The recipe: config -> model -> SFT loop -> eval / log / checkpoint.

    python train.py configs/add_sft.toml [section.key=value ...]

Re-running the same command resumes from the latest checkpoint in runs/NAME/. Read it top to
bottom; each section does one thing.
"""

import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx
from tensorboardX import SummaryWriter
from tqdm import tqdm

from minireason import config as config_lib
from minireason.checkpoint import Checkpointer, CheckpointError
from minireason.evaluate import eval_levels, evaluate_task
from minireason.model import Transformer, count_params
from minireason.sampler import SampleConfig
from minireason.sft import batch_at, lr_schedule, make_optimizer, make_train_step
from minireason.tasks import check_mix


class TrainError(RuntimeError):
    """A problem the user can fix; printed as one line, without a traceback."""


def run_eval(graphdef, params, cfg, n: int, key, log=print) -> dict:
    sample_cfg = SampleConfig(max_new=cfg.eval.max_new)
    results = {}
    for name, level in eval_levels(cfg).items():
        r = evaluate_task(graphdef, params, name, level, n, sample_cfg, key, cfg.eval.batch_size)
        results[name] = r
        log(f"  eval {name} level {level}: accuracy {r['accuracy']:.3f} on {r['n']} held-out, "
            f"format {r['format_rate']:.3f}, thinking {r['thinking_tokens']:.1f} tok")
        for s in r["samples"][:cfg.eval.show]:
            mark = "ok" if s["answer"].strip() == s["expected"] else f"expected {s['expected']}"
            log(f"    {s['prompt']} <think>{s['thinking'][:120]}</think> {s['answer']!r}  [{mark}]")
    return results


def summary(results: dict) -> dict:
    """eval.json content: metrics without the per-sample dumps; `accuracy` is the mean over tasks."""
    per_task = {k: {m: v for m, v in r.items() if m != "samples"} for k, r in results.items()}
    return dict(accuracy=float(np.mean([r["accuracy"] for r in results.values()])), tasks=per_task)


def main(argv: list[str]) -> dict:
    # --- Config --------------------------------------------------------------------------------
    if not argv or argv[0].startswith("-"):
        raise TrainError("usage: python train.py CONFIG.toml [section.key=value ...]")
    cfg = config_lib.load(argv[0], argv[1:])
    try:
        check_mix(cfg.data.tasks, cfg.data.levels)
        batch_at(cfg.data, cfg.run.seed, 0)  # fails now, not mid-run, if seq_len is too short
    except (KeyError, ValueError) as e:
        raise TrainError(e.args[0]) from None
    if cfg.run.stage != "sft":
        raise TrainError(f"run.stage={cfg.run.stage!r} is not supported; use \"sft\"")
    run_dir = Path(cfg.run.out_dir) / cfg.run.name
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_cfg = run_dir / "config.json"
    if saved_cfg.exists() and saved_cfg.read_text() != config_lib.to_json(cfg):
        print(f"note: {saved_cfg} differs from this command's config; resuming with the new one")
    saved_cfg.write_text(config_lib.to_json(cfg))

    # --- Model and optimizer -------------------------------------------------------------------
    model = Transformer(cfg.model, nnx.Rngs(cfg.run.seed))
    graphdef, params = nnx.split(model)
    tx = make_optimizer(cfg.optim, cfg.train.steps)
    state = dict(params=params, opt_state=tx.init(params), rng=jax.random.key_data(jax.random.key(cfg.run.seed)))
    print(f"model: {count_params(model):,} parameters; run dir {run_dir}")

    # --- Resume --------------------------------------------------------------------------------
    ckpt = Checkpointer(run_dir, cfg.train.keep_last)
    start = 0
    if ckpt.latest_step() is not None:
        state, meta = ckpt.restore(state)
        start = meta["data_position"]
        print(f"resumed from step {meta['step']}")
    train_step = make_train_step(graphdef, tx)
    key = jax.random.wrap_key_data(state["rng"])

    # --- Train ---------------------------------------------------------------------------------
    writer = SummaryWriter(str(run_dir))
    params, opt_state = state["params"], state["opt_state"]
    lr_at = lr_schedule(cfg.optim, cfg.train.steps)
    t_start, t_log, logged_at, last_metrics = time.time(), time.time(), start, None
    bar = tqdm(range(start, cfg.train.steps), initial=start, total=cfg.train.steps, desc=cfg.run.name, dynamic_ncols=True)
    for step in bar:
        tokens, mask = batch_at(cfg.data, cfg.run.seed, step)
        new_params, new_opt, metrics = train_step(params, opt_state, tokens, mask)
        done = step + 1
        log_now = done % cfg.train.log_every == 0 or done == cfg.train.steps
        eval_now = done % cfg.train.eval_every == 0 and done != cfg.train.steps
        save_now = done % cfg.train.save_every == 0 and done != cfg.train.steps
        if not (log_now or eval_now or save_now):
            params, opt_state = new_params, new_opt
            continue
        loss, param_norm = float(metrics["loss"]), float(metrics["param_norm"])
        if not np.isfinite(loss + param_norm):  # keep the last good checkpoint: this step's parameters are dropped
            raise TrainError(f"loss became {loss} (parameter norm {param_norm}) at step {done}; nothing from this step "
                             f"was saved. Lower optim.lr (now {cfg.optim.lr}) and re-run to resume from the last good checkpoint")
        params, opt_state = new_params, new_opt
        if log_now:
            tokens_per_s = (done - logged_at) * tokens.size / (time.time() - t_log)
            for name, value in [("train/loss", loss), ("train/grad_norm", float(metrics["grad_norm"])),
                                ("train/param_norm", param_norm), ("train/lr", float(lr_at(step))),
                                ("train/tokens_per_s", tokens_per_s)]:
                writer.add_scalar(name, value, done)
            bar.set_postfix(loss=f"{loss:.4f}")
        if eval_now:
            tqdm.write(f"step {done}: loss {loss:.4f}")
            results = run_eval(graphdef, params, cfg, cfg.eval.n_periodic, key, tqdm.write)
            log_eval(writer, results, done)
            last_metrics = summary(results)
        if save_now:
            save(ckpt, done, params, opt_state, key, last_metrics if eval_now else None)
        if log_now or eval_now:
            t_log, logged_at = time.time(), done
    bar.close()

    # --- Final eval and save -------------------------------------------------------------------
    train_seconds = time.time() - t_start
    print(f"final eval on {cfg.eval.n} held-out problems per task")
    results = run_eval(graphdef, params, cfg, cfg.eval.n, key)
    log_eval(writer, results, cfg.train.steps)
    report = dict(summary(results), step=cfg.train.steps, train_seconds=round(train_seconds, 1),
                  wall_seconds=round(time.time() - t_start, 1))
    if start < cfg.train.steps or ckpt.latest_step() != cfg.train.steps:
        save(ckpt, cfg.train.steps, params, opt_state, key, report)
    ckpt.close()
    writer.close()
    (run_dir / "eval.json").write_text(json.dumps(report, indent=2))
    print(f"accuracy {report['accuracy']:.4f}; wrote {run_dir / 'eval.json'}")
    return report


def log_eval(writer, results: dict, step: int) -> None:
    for name, r in results.items():
        writer.add_scalar(f"eval/{name}/accuracy", r["accuracy"], step)
        writer.add_scalar(f"eval/{name}/thinking_tokens", r["thinking_tokens"], step)
        writer.add_scalar(f"eval/{name}/format_rate", r["format_rate"], step)
    writer.flush()


def save(ckpt: Checkpointer, step: int, params, opt_state, key, metrics: dict | None) -> None:
    state = dict(params=params, opt_state=opt_state, rng=jax.random.key_data(key))
    ckpt.save(step, state, dict(step=step, data_position=step), None if metrics is None else dict(accuracy=metrics["accuracy"]))


def cli(argv: list[str]) -> int:
    """Run main and turn the errors a user can fix into one line on stderr."""
    try:
        main(argv)
    except (config_lib.ConfigError, CheckpointError, TrainError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
