"""The recipe: config -> model -> SFT, RL or verifier loop -> eval / log / checkpoint.

    python train.py configs/add_sft.toml [section.key=value ...]
    python train.py configs/countdown_rl.toml        # RL, starting from runs/countdown_sft
    python train.py configs/countdown_verifier.toml  # a learned verifier of runs/countdown_sft's samples

Re-running the same command resumes from the latest checkpoint in runs/NAME/. Read it top to
bottom; each section does one thing. The stages differ only in `update`, the function that
takes one step, and `evaluate`: SFT does one gradient step on a batch of worked traces (sft.py);
RL samples completions, scores them with the task verifiers and takes a few policy-gradient
passes (rl.py); both are evaluated by held-out accuracy. The verifier stage samples the policy
once, then learns to predict which samples are right (verifier.py), evaluated by held-out AUC.
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

from minireason import config as config_lib, verifier
from minireason.checkpoint import Checkpointer, load_run
from minireason.errors import UserError
from minireason.evaluate import eval_levels, evaluate_levels, sampled_pass_at_k
from minireason.model import Transformer, count_params
from minireason.rl import check_config as check_rl_config, make_rl_update
from minireason.sampler import SampleConfig
from minireason.sft import batch_at, check_seq_len, lr_schedule, make_optimizer, make_train_step
from minireason.tasks import check_mix


def run_eval(graphdef, params, cfg, n: int, key, log=print) -> dict:
    """Greedy held-out accuracy of each task at every level it was trained on (its highest level's metrics on top)."""
    sample_cfg = SampleConfig(max_new=cfg.eval.max_new)
    results = {}
    for name, levels in eval_levels(cfg).items():
        r = evaluate_levels(graphdef, params, name, levels, n, sample_cfg, key, cfg.eval.batch_size)
        if cfg.eval.samples > 0:
            r.update(sampled_pass_at_k(graphdef, params, name, levels[-1], n, cfg.eval.samples,
                                       SampleConfig(max_new=cfg.eval.max_new, temperature=cfg.eval.temperature),
                                       key, cfg.eval.batch_size))
        results[name] = r
        passes = "".join(f", {k} {v:.3f}" for k, v in r.items() if k.startswith("pass@"))  # at the highest level
        for level, m in r["levels"].items():
            top = int(level) == r["level"]
            log(f"  eval {name} level {level}: accuracy {m['accuracy']:.3f} on {m['n']} held-out{passes if top else ''}, "
                f"format {m['format_rate']:.3f}, thinking {m['thinking_tokens']:.1f} tok")
        for s in r["samples"][:cfg.eval.show]:
            mark = "ok" if s["answer"].strip() == s["expected"] else f"expected {s['expected']}"
            log(f"    {s['prompt']} <think>{s['thinking'][:120]}</think> {s['answer']!r}  [{mark}]")
    return results


def summary(results: dict) -> dict:
    """eval.json content: metrics without the per-sample dumps; `accuracy` (and a verifier's `auc`) averaged over tasks."""
    per_task = {k: {m: v for m, v in r.items() if m != "samples"} for k, r in results.items()}
    means = {m: float(np.mean([r[m] for r in results.values()])) for m in ("accuracy", "auc")
             if all(m in r for r in results.values())}
    return dict(means, tasks=per_task)


def main(argv: list[str]) -> dict:
    # --- Config --------------------------------------------------------------------------------
    if not argv or argv[0].startswith("-"):
        raise UserError("usage: python train.py CONFIG.toml [section.key=value ...]")
    cfg = config_lib.load(argv[0], argv[1:])
    try:
        check_mix(cfg.data.tasks, cfg.data.levels, cfg.data.train_buckets)
        check_seq_len(cfg.data)  # fails now, not mid-run, if seq_len is too short
        if cfg.run.stage == "rl":
            check_rl_config(cfg.rl, cfg.data.tasks)
        if cfg.run.stage == "verifier":
            verifier.check_config(cfg)
    except (KeyError, ValueError) as e:
        raise UserError(e.args[0]) from None
    if cfg.run.stage not in ("sft", "rl", "verifier"):
        raise UserError(f"run.stage={cfg.run.stage!r} is not supported; use \"sft\", \"rl\" or \"verifier\"")
    run_dir = Path(cfg.run.out_dir) / cfg.run.name
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_cfg = run_dir / "config.json"
    if saved_cfg.exists() and saved_cfg.read_text(errors="replace") != config_lib.to_json(cfg):
        print(f"note: {saved_cfg} differs from this command's config; resuming with the new one")

    # --- Model and optimizer -------------------------------------------------------------------
    model = (verifier.Verifier if cfg.run.stage == "verifier" else Transformer)(cfg.model, nnx.Rngs(cfg.run.seed))
    graphdef, params = nnx.split(model)
    if cfg.run.init_from:
        params = initial_params(cfg, params)
    updates_per_step = cfg.rl.ppo_epochs if cfg.run.stage == "rl" else 1
    tx = make_optimizer(cfg.optim, cfg.train.steps * updates_per_step)
    state = dict(params=params, opt_state=tx.init(params), rng=jax.random.key_data(jax.random.key(cfg.run.seed)))
    print(f"model: {count_params(model):,} parameters; run dir {run_dir}"
          + (f"; starting from {cfg.run.init_from}" if cfg.run.init_from else ""))

    # --- Resume --------------------------------------------------------------------------------
    ckpt = Checkpointer(run_dir, cfg.train.keep_last)
    start = 0
    if ckpt.latest_step() is not None:
        state, meta = ckpt.restore(state)
        start = meta["data_position"]
        if start > cfg.train.steps:  # finishing would save these weights as an earlier step and overwrite eval.json
            raise UserError(f"{run_dir} is already at step {start}, past train.steps={cfg.train.steps}; "
                            "raise train.steps")
        print(f"resumed from step {meta['step']}")
    saved_cfg.write_text(config_lib.to_json(cfg))  # once the run's checkpoint is known to fit this config
    key = jax.random.wrap_key_data(state["rng"])

    # --- One step of the chosen stage, and its held-out eval ------------------------------------
    if cfg.run.stage == "sft":
        train_step = make_train_step(graphdef, tx)

        def update(step, params, opt_state):
            tokens, mask = batch_at(cfg.data, cfg.run.seed, step)
            params, opt_state, metrics = train_step(params, opt_state, tokens, mask)
            return params, opt_state, dict(metrics, tokens=tokens.size)
    elif cfg.run.stage == "rl":  # `params` still holds the starting policy, the KL reference (off unless rl.kl_beta > 0)
        update = make_rl_update(graphdef, tx, cfg, ref_params=params)
    else:  # the policy's samples are drawn once, here, and cached in the run directory
        try:
            data = verifier.collect(cfg, run_dir / "verifier_data.npz")
        except ValueError as e:
            raise UserError(e.args[0]) from None
        update = verifier.make_verifier_update(graphdef, tx, cfg, data)

    def evaluate(params, n: int, log=print) -> dict:
        """Held-out metrics per task: a policy's accuracy, or a verifier's AUC."""
        if cfg.run.stage == "verifier":
            return verifier.evaluate_verifier(graphdef, params, data, n, log)
        return run_eval(graphdef, params, cfg, n, key, log)

    # --- Train ---------------------------------------------------------------------------------
    writer = SummaryWriter(str(run_dir))
    params, opt_state = state["params"], state["opt_state"]
    lr_at = lr_schedule(cfg.optim, cfg.train.steps * updates_per_step)
    t_start = time.time()
    if cfg.run.stage == "rl" and start == 0:  # the curve's first point: the policy RL starts from
        log_eval(writer, evaluate(params, cfg.eval.n_periodic), 0, run_dir)
    t_log, logged_at, last_metrics = time.time(), start, None
    bar = tqdm(range(start, cfg.train.steps), initial=start, total=cfg.train.steps, desc=cfg.run.name,
               dynamic_ncols=True, file=sys.stdout)  # stderr is kept for errors
    for step in bar:
        new_params, new_opt, metrics = update(step, params, opt_state)
        done = step + 1
        log_now = done % cfg.train.log_every == 0 or done == cfg.train.steps
        eval_now = done % cfg.train.eval_every == 0 and done != cfg.train.steps
        save_now = done % cfg.train.save_every == 0 and done != cfg.train.steps
        if not (log_now or eval_now or save_now):
            params, opt_state = new_params, new_opt
            continue
        loss, param_norm = float(metrics["loss"]), float(metrics["param_norm"])
        if not np.isfinite(loss + param_norm):  # keep the last good checkpoint: this step's parameters are dropped
            raise UserError(f"loss became {loss} (parameter norm {param_norm}) at step {done}; nothing from this step "
                             f"was saved. Lower optim.lr (now {cfg.optim.lr}) and re-run to resume from the last good checkpoint")
        params, opt_state = new_params, new_opt
        if log_now:
            steps_per_s = (done - logged_at) / (time.time() - t_log)
            metrics = dict(metrics, lr=lr_at(step * updates_per_step), steps_per_s=steps_per_s)
            if "tokens" in metrics:
                metrics["tokens_per_s"] = metrics.pop("tokens") * steps_per_s
            for name, value in metrics.items():
                writer.add_scalar(f"train/{name}", float(value), done)
            bar.set_postfix(loss=f"{loss:.4f}", **({"reward": f"{metrics['reward']:.3f}"} if "reward" in metrics else {}))
        if eval_now:
            tqdm.write(f"step {done}: loss {loss:.4f}")
            results = evaluate(params, cfg.eval.n_periodic, tqdm.write)
            log_eval(writer, results, done, run_dir)
            last_metrics = summary(results)
        if save_now:
            save(ckpt, done, params, opt_state, key, last_metrics if eval_now else None)
        if log_now or eval_now:
            t_log, logged_at = time.time(), done
    bar.close()

    # --- Final eval and save -------------------------------------------------------------------
    train_seconds = time.time() - t_start
    print(f"final eval on {cfg.eval.n} held-out problems per task")
    results = evaluate(params, cfg.eval.n)
    log_eval(writer, results, cfg.train.steps, run_dir)
    report = dict(summary(results), step=cfg.train.steps, train_seconds=round(train_seconds, 1),
                  wall_seconds=round(time.time() - t_start, 1))
    if start < cfg.train.steps or ckpt.latest_step() != cfg.train.steps:
        save(ckpt, cfg.train.steps, params, opt_state, key, report)
    ckpt.close()
    writer.close()
    (run_dir / "eval.json").write_text(json.dumps(report, indent=2))
    auc = f", AUC {report['auc']:.4f}" if "auc" in report else ""
    print(f"accuracy {report['accuracy']:.4f}{auc}; wrote {run_dir / 'eval.json'}")
    return report


def initial_params(cfg, params):
    """The parameters of the run named by run.init_from; its model must be the one this config describes.

    A verifier may start from a policy: the policy's transformer becomes its body; its head stays as initialised.
    """
    source_cfg, _, source = load_run(cfg.run.init_from)
    if source_cfg.model != cfg.model:
        diff = ", ".join(f"{k}={v} there but {getattr(cfg.model, k)} here"
                         for k, v in vars(source_cfg.model).items() if getattr(cfg.model, k) != v)
        raise UserError(f"the [model] of {cfg.run.init_from} differs from this config's ({diff}); make them match")
    if source_cfg.run.stage == "verifier" and cfg.run.stage != "verifier":
        raise UserError(f"run.init_from={cfg.run.init_from} is a verifier run; a policy starts from a policy run")
    if cfg.run.stage == "verifier" and source_cfg.run.stage != "verifier":
        params["body"] = source
        return params
    return source


def log_eval(writer, results: dict, step: int, run_dir: Path) -> None:
    """Eval scalars to TensorBoard, and one line per eval to eval_history.jsonl (for plots)."""
    for name, r in results.items():
        for metric, value in r.items():
            if metric in ("accuracy", "auc", "thinking_tokens", "format_rate") or metric.startswith("pass@"):
                writer.add_scalar(f"eval/{name}/{metric}", value, step)
        for level, m in r.get("levels", {}).items():
            writer.add_scalar(f"eval/{name}/level{level}/accuracy", m["accuracy"], step)
    writer.flush()
    with open(run_dir / "eval_history.jsonl", "a") as f:
        f.write(json.dumps(dict(step=step, **summary(results))) + "\n")


def save(ckpt: Checkpointer, step: int, params, opt_state, key, metrics: dict | None) -> None:
    state = dict(params=params, opt_state=opt_state, rng=jax.random.key_data(key))
    ckpt.save(step, state, dict(step=step, data_position=step), None if metrics is None else dict(accuracy=metrics["accuracy"]))


def cli(argv: list[str]) -> int:
    """Run main and turn the errors a user can fix into one line on stderr."""
    try:
        main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
