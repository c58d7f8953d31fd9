"""Speed measurements: train throughput, sampler throughput (KV cache vs naive), compile times,
and RL steps: rollout throughput and how a step splits between sampling and learning.

    python benchmarks/bench.py [--config configs/add_sft.toml] [--rl-config configs/countdown_rl.toml]
                               [--repeats 5] [--out FILE]

Each figure is the median of several repeats (this machine is shared and noisy). The KV-cache
and naive decodes run the same greedy decode and must produce identical tokens. The RL figures
use the policy the RL config starts from (its run.init_from) when that run exists, else a
random model (the config's [model], or the default one), which writes every completion to the length cap.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from .config import load
from .model import Transformer, count_params
from .rl import make_rl_update
from .runs import load_run
from .sampler import SampleConfig, pad_prompts, sample, sample_naive
from .sft import batch_at, make_optimizer, make_train_step
from .tasks import heldout_examples


def cpu_name() -> str:
    """The CPU's model name (Linux), else the architecture: speed figures depend on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def save(result: dict, out: str) -> None:
    """Write a benchmark's figures to `out` as JSON (benchmarks/results/ by default) and say where."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(config: str, repeats: int, new_tokens: int, batch: int) -> dict:
    cfg = load(config)
    graphdef, params = nnx.split(Transformer(cfg.model, nnx.Rngs(0)))
    tx = make_optimizer(cfg.optim, cfg.train.steps)
    opt_state = tx.init(params)
    step = make_train_step(graphdef, tx)
    tokens, mask = batch_at(cfg.data, 0, 0)

    t = time.perf_counter()
    compiled_step = step.lower(params, opt_state, tokens, mask).compile()
    train_compile = time.perf_counter() - t
    n = 10
    def train_n():
        p, o = params, opt_state
        for _ in range(n):
            p, o, m = compiled_step(p, o, tokens, mask)
        return m["loss"]
    train_s = timed(train_n, repeats) / n

    prompts = [ex.prompt for ex in heldout_examples(next(iter(cfg.data.tasks)), 1, batch)]
    prompts = (prompts * batch)[:batch]
    ptok, start = pad_prompts(prompts)
    scfg = SampleConfig(max_new=new_tokens)
    key = jax.random.key(0)
    t = time.perf_counter()
    jax.block_until_ready(sample(graphdef, params, ptok, start, key, scfg))
    sample_compile = time.perf_counter() - t
    fast = sample(graphdef, params, ptok, start, key, scfg)
    slow = sample_naive(graphdef, params, ptok, start, scfg)
    same = bool(np.array_equal(np.asarray(fast["tokens"]), np.asarray(slow["tokens"])))
    steps_run = int(np.asarray(fast["length"]).max())
    kv_s = timed(lambda: sample(graphdef, params, ptok, start, key, scfg)["tokens"], repeats)
    naive_s = timed(lambda: sample_naive(graphdef, params, ptok, start, scfg)["tokens"], max(1, repeats // 2))
    return dict(
        config=config, device=str(jax.devices()[0]), platform=cpu_name(), repeats=repeats,
        params=count_params(nnx.merge(graphdef, params)), batch_size=cfg.data.batch_size, seq_len=cfg.data.seq_len,
        train_step_compile_s=round(train_compile, 2), train_steps_per_s=round(1 / train_s, 2),
        train_tokens_per_s=round(tokens.size / train_s), sampler_compile_s=round(sample_compile, 2),
        sample_batch=batch, new_tokens=steps_run, kv_tokens_per_s=round(batch * steps_run / kv_s),
        naive_tokens_per_s=round(batch * steps_run / naive_s), kv_speedup=round(naive_s / kv_s, 1),
        kv_equals_naive=same,
    )


def run_rl(config: str, repeats: int) -> dict:
    cfg = load(config)
    start = cfg.run.init_from if cfg.run.init_from and Path(cfg.run.init_from, "config.json").is_file() else ""
    if start:
        _, graphdef, params = load_run(start)
    else:
        graphdef, params = nnx.split(Transformer(cfg.model, nnx.Rngs(0)))
    tx = make_optimizer(cfg.optim, cfg.train.steps * cfg.rl.ppo_epochs)
    update = make_rl_update(graphdef, tx, cfg)
    opt_state = tx.init(params)
    t = time.perf_counter()
    update(0, params, opt_state)  # compiles the sampler and the learner step
    first_step = time.perf_counter() - t
    runs = [update(i + 1, params, opt_state)[2] for i in range(repeats)]
    med = lambda k: statistics.median(m[k] for m in runs)
    rows = cfg.rl.prompts_per_step * cfg.rl.group_size
    return dict(
        rl_config=config, rl_policy=start or "random init", rl_rollout_rows=rows, rl_max_new=cfg.rl.max_new,
        rl_ppo_epochs=cfg.rl.ppo_epochs, rl_first_step_s=round(first_step, 2),
        rl_completions_per_s=round(med("completions_per_s"), 1),
        rl_rollout_tokens_per_s=round(med("rollout_tokens_per_s")),
        rl_learner_tokens_per_s=round(med("learner_tokens_per_s")),
        rl_sampling_fraction=round(med("sampling_fraction"), 3),
        rl_mean_completion_tokens=round(med("thinking_tokens") + med("answer_tokens"), 1),
    )


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/add_sft.toml")
    p.add_argument("--rl-config", default="configs/countdown_rl.toml", help="'' skips the RL figures")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--out", default="benchmarks/results/bench.json")
    args = p.parse_args(argv)
    r = run(args.config, args.repeats, args.new_tokens, args.batch)
    if args.rl_config:
        r.update(run_rl(args.rl_config, args.repeats))
    width = max(map(len, r))
    for k, v in r.items():
        print(f"{k:<{width}}  {v}")
    save(r, args.out)
    return r
