"""Speed measurements: train throughput and MFU, sampler throughput (KV cache vs naive), compile
times, and RL steps: rollout throughput and how a step splits between sampling and learning.

    python benchmarks/bench.py [--config configs/add_sft.toml] [--rl-config configs/countdown_rl.toml]
                               [--repeats 5] [--out FILE] [section.key=value ...]

MFU (model FLOPs utilisation) is the train step's model FLOP/s over the device's peak: FLOPs a
token as `flops_per_token` counts them, the peak of an accelerator from PEAK_TFLOPS (data-sheet
figures), a CPU's measured (the best float32 2048 x 2048 matmul JAX runs on it). The overrides
apply to --config, e.g. a ~100M-parameter model for the accelerator target of issue 16:

    python benchmarks/bench.py --config configs/gpu/mix_sft.toml --rl-config '' model.d_model=768 \
        model.n_layers=13 model.n_heads=12 model.mlp_hidden=2304

Each figure is the median of several repeats (this machine is shared and noisy). The KV-cache
and naive decodes run the same greedy decode and give identical tokens in float32 (kv_equals_naive;
in bfloat16 the two round differently, and a random model's near-ties can part them). The RL figures
use the policy the RL config starts from (its run.init_from) when that run exists, else a
random model (the config's [model], or the default one), which writes every completion to the length cap.
"""

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .config import load
from .model import Transformer, count_params
from .rl import make_rl_update
from .runs import load_run
from .sampler import SampleConfig, pad_prompts, sample, sample_naive
from .sft import batch_at, make_optimizer, make_train_step
from .tasks import heldout_examples
from .tokenizer import VOCAB_SIZE

ROOT = Path(__file__).resolve().parents[1]  # a checkout's root (git_commit)

# Dense peak TFLOP/s of one chip, by the type its matmuls compute in (data sheets, no sparsity); the first
# name found in JAX's device_kind wins. float32 on these GPUs: XLA's default precision runs it as TF32.
PEAK_TFLOPS = (
    ("H100 PCIe", {"bfloat16": 756.0, "float32": 378.0}),
    ("H100", {"bfloat16": 989.4, "float32": 494.7}),  # SXM
    ("H200", {"bfloat16": 989.4, "float32": 494.7}),
    ("A100", {"bfloat16": 312.0, "float32": 156.0}),
    ("TPU v4", {"bfloat16": 275.0}),
    ("TPU v5 lite", {"bfloat16": 197.0}),
    ("TPU v5", {"bfloat16": 459.0}),  # v5p
    ("TPU v6 lite", {"bfloat16": 918.0}),
)


def flops_per_token(n_layers: int, d_model: int, mlp_weights_per_layer: int, positions: int) -> int:
    """Train FLOPs a token: 6 x the matmul weights (forward 2, backward 4; the tied output layer
    included) + 12 L D T for attention's scores and weighted sums over the full T x T square, forward
    and backward (as PaLM and nanoGPT's estimate_mfu count it)."""
    weights = n_layers * (4 * d_model**2 + mlp_weights_per_layer) + VOCAB_SIZE * d_model
    return 6 * weights + 12 * n_layers * d_model * positions


def timed(fn, repeats: int, summary=statistics.median) -> float:
    """Seconds `fn()` takes, waiting for its arrays: the median of `repeats` runs (or another summary)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return summary(times)


def matmul_tflops(n: int = 2048, repeats: int = 5) -> float:
    """The best rate of an n x n float32 matmul on JAX's default device: a measured peak for a CPU."""
    a, b = jax.random.normal(jax.random.key(0), (2, n, n))
    mm = jax.jit(jnp.matmul)
    jax.block_until_ready(mm(a, b))
    return 2 * n**3 / timed(lambda: mm(a, b), repeats, min) / 1e12  # the best run: least hurt by other processes


def table_peak(device_kind: str, dtype: str) -> tuple[float | None, str]:
    """(peak TFLOP/s, where it comes from) from PEAK_TFLOPS; None for a device or type it does not hold."""
    for name, peaks in PEAK_TFLOPS:
        if name in device_kind:
            return peaks.get(dtype), f"data sheet: {name} {dtype}" if dtype in peaks else f"no {dtype} peak for {name}"
    return None, f"not in PEAK_TFLOPS: {device_kind}"


def peak_tflops(dtype: str) -> tuple[float | None, str]:
    """(peak TFLOP/s, where it comes from) for JAX's first device computing in `dtype`."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return matmul_tflops(), "measured: float32 2048 x 2048 matmul"
    return table_peak(device.device_kind, dtype)


def cpu_name() -> str:
    """The CPU's model name (Linux), else the architecture: speed figures depend on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def git_commit() -> str:
    """The checkout's commit, marked when minireason/ has changes not committed; "unknown" outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        if out.returncode:  # a copy of the files without their history
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "minireason"], capture_output=True, text=True,
                               cwd=ROOT).stdout.strip()
        return out.stdout.strip() + (" (minireason/ modified)" if dirty else "")
    except OSError:
        return "unknown"


def save(result: dict, out: str) -> None:
    """Write a benchmark's figures to `out` as JSON (benchmarks/results/ by default) and say where."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


def run(config: str, repeats: int, new_tokens: int, batch: int, overrides=()) -> dict:
    cfg = load(config, overrides)
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
    m = cfg.model
    train_tflops = tokens.size * flops_per_token(m.n_layers, m.d_model, 3 * m.d_model * m.mlp_hidden,
                                                 tokens.shape[1] - 1) / train_s / 1e12
    peak, peak_from = peak_tflops(m.dtype)

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
        config=config, commit=git_commit(), device=str(jax.devices()[0]), platform=cpu_name(), repeats=repeats,
        params=count_params(nnx.merge(graphdef, params)), batch_size=cfg.data.batch_size, seq_len=cfg.data.seq_len,
        train_step_compile_s=round(train_compile, 2), train_steps_per_s=round(1 / train_s, 2),
        train_tokens_per_s=round(tokens.size / train_s), train_tflops=round(train_tflops, 4),
        peak_tflops=peak and round(peak, 3), peak_from=peak_from, mfu=peak and round(train_tflops / peak, 4),
        sampler_compile_s=round(sample_compile, 2),
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
    p.add_argument("overrides", nargs="*", help="section.key=value for --config, as train.py takes them")
    args = p.parse_args(argv)
    r = run(args.config, args.repeats, args.new_tokens, args.batch, args.overrides)
    if args.rl_config:
        r.update(run_rl(args.rl_config, args.repeats))
    width = max(map(len, r))
    for k, v in r.items():
        print(f"{k:<{width}}  {v}")
    save(r, args.out)
    return r
