"""The recipe: config -> model -> SFT, RL or verifier loop -> eval / log / checkpoint.

    python train.py configs/add_sft.toml [section.key=value ...]   # or: minireason train ...
    python train.py configs/countdown_rl.toml        # RL, starting from runs/countdown_sft
    python train.py configs/countdown_verifier.toml  # a learned verifier of runs/countdown_sft's samples

Re-running the same command resumes from the latest checkpoint in runs/NAME/. Read `main`, then
`run`, top to bottom; each section does one thing. The three stages differ only in their row of
`STAGES`: the model they train, the function that takes one step (`update`) and how they are
evaluated. SFT does one gradient step on a batch of worked traces (sft.py); RL samples
completions, scores them with the task verifiers and takes a few policy-gradient passes (rl.py);
both are evaluated by held-out accuracy. The verifier stage samples the policy once, then learns
to predict which samples are right (verifier.py), evaluated by held-out AUC.

The same recipe runs on one device or many: `main` lays the devices out in a mesh (the [mesh]
section; minireason/mesh.py) and `run` places the parameters on it; every step then splits its
batch's rows over the devices. Run under XLA_FLAGS=--xla_force_host_platform_device_count=8 to
see it on 8 simulated CPU devices.
"""

import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import jax
import numpy as np
from flax import nnx
from tensorboardX import SummaryWriter
from tqdm import tqdm

from . import config as config_lib, mesh as mesh_lib, verifier
from .checkpoint import Checkpointer
from .errors import UserError
from .evaluate import eval_levels, evaluate_levels, sampled_pass_at_k
from .model import Transformer, count_params
from .rl import check_config as check_rl_config, make_rl_update
from .runs import load_config, load_policy, load_run
from .sampler import SampleConfig
from .sft import check_seq_len, lr_schedule, make_optimizer, make_sft_update


# --- The stages -------------------------------------------------------------------------------

def evaluate_policy(graphdef, params, cfg, data, n: int, log=print) -> dict:
    """Greedy held-out accuracy of each task at every level it was trained on (its highest level's metrics on top).

    With eval.samples > 0, also pass@k from that many samples per problem. `data` is unused.
    """
    key = jax.random.key(cfg.run.seed)
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
            log(f"  eval {name} level {level}: accuracy {m['accuracy']:.3f} on {m['n']} held-out"
                f"{passes if top else ''}, format {m['format_rate']:.3f}, thinking {m['thinking_tokens']:.1f} tok")
        for s in r["samples"][:cfg.eval.show]:
            mark = "ok" if s["answer"].strip() == s["expected"] else f"expected {s['expected']}"
            log(f"    {s['prompt']} <think>{s['thinking'][:120]}</think> {s['answer']!r}  [{mark}]")
    return results


def no_data(cfg, run_dir: Path, start_params) -> None:
    """SFT and RL draw their training prompts afresh at every step (a pure function of seed and step)."""
    return None


def reference_policy(cfg, run_dir: Path, start_params):
    """RL's KL penalty (rl.kl_beta > 0) pulls toward the policy this run started from."""
    return start_params


def policy_samples(cfg, run_dir: Path, start_params) -> dict:
    """The verifier learns from verifier.policy's samples: drawn once, then cached in the run directory."""
    load = partial(load_policy, cfg.verifier.policy, "verifier.policy")  # called only when nothing is cached
    return verifier.collect(cfg, run_dir / "verifier_data.npz", load)


@dataclass(frozen=True)
class Stage:
    """What one stage brings to the shared loop in `main`."""

    model: type  # the module trained: Transformer (a policy), or Verifier (transformer + scalar head)
    make_update: Callable  # (graphdef, tx, cfg, data) -> update(step, params, opt_state) -> (params, opt_state, ...)
    evaluate: Callable  # (graphdef, params, cfg, data, n, log) -> {task: held-out metrics}
    check: Callable = lambda cfg: None  # raises ValueError, naming the key, for settings that cannot work
    prepare: Callable = no_data  # (cfg, run_dir, start_params) -> data: what make_update and evaluate read
    passes: Callable = lambda cfg: 1  # optimizer steps per training step (the learning-rate schedule counts them)
    eval_at_start: bool = False  # also evaluate before the first step: where the curve starts


STAGES = {
    "sft": Stage(Transformer, make_sft_update, evaluate_policy),
    "rl": Stage(Transformer, make_rl_update, evaluate_policy, prepare=reference_policy,
                check=lambda cfg: check_rl_config(cfg.rl, cfg.data.tasks),
                passes=lambda cfg: cfg.rl.ppo_epochs, eval_at_start=True),
    "verifier": Stage(verifier.Verifier, verifier.make_verifier_update, verifier.evaluate_verifier,
                      check=verifier.check_config, prepare=policy_samples),
}


# --- The recipe -------------------------------------------------------------------------------

def main(argv: list[str]) -> dict:
    # --- Config and devices --------------------------------------------------------------------
    mesh_lib.initialize()  # a multi-host run joins its other hosts first (a no-op on one host)
    if not argv or argv[0].startswith("-"):
        raise UserError("usage: python train.py CONFIG.toml [section.key=value ...]")
    cfg = config_lib.load(argv[0], argv[1:])
    stage = STAGES.get(cfg.run.stage)
    if stage is None:
        raise UserError(f"run.stage={cfg.run.stage!r} is not supported; use one of {', '.join(map(repr, STAGES))}")
    if cfg.run.init_from:  # the [model] keys this config leaves out are those of the run it starts from
        cfg = config_lib.load(argv[0], argv[1:], model=load_config(cfg.run.init_from).model)
    try:
        check_seq_len(cfg.data)  # fails now, not mid-run, if seq_len is too short
        stage.check(cfg)
    except ValueError as e:
        raise UserError(e.args[0]) from None
    mesh_lib.cpu_devices(cfg.mesh.cpu_devices)
    mesh = mesh_lib.make_mesh(cfg.mesh.data, cfg.mesh.fsdp)
    mesh_lib.check(cfg, mesh)
    print(f"devices: {mesh_lib.describe(mesh)}")
    run_dir = Path(cfg.run.out_dir) / cfg.run.name
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_cfg = run_dir / "config.json"
    if saved_cfg.exists() and saved_cfg.read_text(errors="replace") != config_lib.to_json(cfg):
        print(f"note: {saved_cfg} differs from this command's config; resuming with the new one")
    with jax.set_mesh(mesh):  # while set, each step's batch is split over the mesh (minireason/mesh.py)
        return run(cfg, stage, run_dir, mesh)


def run(cfg, stage: Stage, run_dir: Path, mesh) -> dict:
    """The run itself, on the devices of `mesh`: model, resume, train, final eval. Returns the final report."""
    lead = jax.process_index() == 0  # of several hosts, one writes the files (Orbax coordinates checkpoints itself)

    # --- Model and optimizer -------------------------------------------------------------------
    model = stage.model(cfg.model, nnx.Rngs(cfg.run.seed))
    graphdef, params = nnx.split(model)
    if cfg.run.init_from:
        params = initial_params(cfg, stage, params)
    passes = stage.passes(cfg)
    tx = make_optimizer(cfg.optim, cfg.train.steps * passes)
    print(f"model: {count_params(model):,} parameters; run dir {run_dir}"
          + (f"; starting from {cfg.run.init_from}" if cfg.run.init_from else ""))

    # --- Placement and resume ------------------------------------------------------------------
    state = mesh_lib.place(dict(params=params, opt_state=tx.init(params)), mesh)  # each array split as annotated
    params, start = state["params"], 0
    ckpt = Checkpointer(run_dir, cfg.train.keep_last)
    if ckpt.latest_step() is not None:  # the step is all else a resumed run needs: data and samples follow from it
        state, meta = ckpt.restore(state)
        start = meta["step"]
        if start > cfg.train.steps:  # finishing would save these weights as an earlier step and overwrite eval.json
            raise UserError(f"{run_dir} is already at step {start}, past train.steps={cfg.train.steps}; "
                            "raise train.steps")
        print(f"resumed from step {start}")
    if lead:  # once the run's checkpoint is known to fit this config
        (run_dir / "config.json").write_text(config_lib.to_json(cfg))

    # --- The stage's data, its update and its held-out eval ------------------------------------
    data = stage.prepare(cfg, run_dir, params)  # `params` is where this run started, whatever step it resumes at
    update = stage.make_update(graphdef, tx, cfg, data)

    def evaluate(params, n: int, log=print) -> dict:
        return stage.evaluate(graphdef, params, cfg, data, n, log)

    # --- Train ---------------------------------------------------------------------------------
    writer = SummaryWriter(str(run_dir), write_to_disk=lead)
    params, opt_state = state["params"], state["opt_state"]
    lr_at = lr_schedule(cfg.optim, cfg.train.steps * passes)
    t_start = time.time()
    if stage.eval_at_start and start == 0:
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
                            f"was saved. Resuming replays the same data, so change the recipe first: lower optim.lr "
                            f"(now {cfg.optim.lr}), lengthen optim.warmup_steps (now {cfg.optim.warmup_steps}) "
                            f"or lower optim.clip_norm (now {cfg.optim.clip_norm})")
        params, opt_state = new_params, new_opt
        if log_now:
            steps_per_s = (done - logged_at) / (time.time() - t_log)
            metrics = dict(metrics, lr=lr_at(step * passes), steps_per_s=steps_per_s)
            if "tokens" in metrics:
                metrics["tokens_per_s"] = metrics.pop("tokens") * steps_per_s
            for name, value in metrics.items():
                writer.add_scalar(f"train/{name}", float(value), done)
            reward = {"reward": f"{metrics['reward']:.3f}"} if "reward" in metrics else {}
            bar.set_postfix(loss=f"{loss:.4f}", **reward)
        if eval_now:
            tqdm.write(f"step {done}: loss {loss:.4f}")
            results = evaluate(params, cfg.eval.n_periodic, tqdm.write)
            log_eval(writer, results, done, run_dir)
            last_metrics = summary(results)
        if save_now:
            save(ckpt, done, params, opt_state, last_metrics if eval_now else None)
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
        save(ckpt, cfg.train.steps, params, opt_state, report)
    ckpt.close()
    writer.close()
    if lead:
        (run_dir / "eval.json").write_text(json.dumps(report, indent=2))
    auc = f", AUC {report['auc']:.4f}" if "auc" in report else ""
    print(f"accuracy {report['accuracy']:.4f}{auc}; wrote {run_dir / 'eval.json'}")
    return report


# --- Helpers of the recipe --------------------------------------------------------------------

def initial_params(cfg, stage: Stage, params):
    """The parameters of the run named by run.init_from; its model must be the one this config describes.

    A verifier may start from a policy: the policy's transformer becomes its body; its head stays as initialised.
    """
    source_cfg, _, source = load_run(cfg.run.init_from)
    if source_cfg.model != cfg.model:
        diff = ", ".join(f"{k}={v} there but {getattr(cfg.model, k)} here"
                         for k, v in vars(source_cfg.model).items() if getattr(cfg.model, k) != v)
        raise UserError(f"the model of {cfg.run.init_from} differs from this config's [model] ({diff}); "
                        "make them match, or leave the keys out to take that run's")
    source_is_verifier = source_cfg.run.stage == "verifier"
    if source_is_verifier and stage.model is not verifier.Verifier:
        raise UserError(f"run.init_from={cfg.run.init_from} is a verifier run; a policy starts from a policy run")
    if stage.model is verifier.Verifier and not source_is_verifier:
        params["body"] = source
        return params
    return source


def summary(results: dict) -> dict:
    """eval.json content: metrics without the per-sample dumps; `accuracy` (and a verifier's `auc`) averaged."""
    per_task = {k: {m: v for m, v in r.items() if m != "samples"} for k, r in results.items()}
    means = {m: float(np.mean([r[m] for r in results.values()])) for m in ("accuracy", "auc")
             if all(m in r for r in results.values())}
    return dict(means, tasks=per_task)


def log_eval(writer, results: dict, step: int, run_dir: Path) -> None:
    """Eval scalars to TensorBoard, and one line per eval to eval_history.jsonl (for plots).

    A resumed run evaluates again the steps after its checkpoint (and a finished run, re-run, its
    last step): their earlier lines are replaced, so each step has one line.
    """
    for name, r in results.items():
        for metric, value in r.items():
            if metric in ("accuracy", "auc", "thinking_tokens", "format_rate") or metric.startswith("pass@"):
                writer.add_scalar(f"eval/{name}/{metric}", value, step)
        for level, m in r.get("levels", {}).items():
            writer.add_scalar(f"eval/{name}/level{level}/accuracy", m["accuracy"], step)
    writer.flush()
    if jax.process_index() != 0:  # of several hosts, one writes the files
        return
    path = run_dir / "eval_history.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if json.loads(line)["step"] < step]
    lines.append(json.dumps(dict(step=step, **summary(results))))
    path.write_text("".join(line + "\n" for line in lines))


def save(ckpt: Checkpointer, step: int, params, opt_state, metrics: dict | None) -> None:
    ckpt.save(step, dict(params=params, opt_state=opt_state), dict(step=step),
              None if metrics is None else dict(accuracy=metrics["accuracy"]))


def cli(argv: list[str]) -> int:
    """Run main and turn the errors a user can fix into one line on stderr."""
    try:
        main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
