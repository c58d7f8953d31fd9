"""Train speed side by side: minireason's SFT step against nanoGPT's model.py on PyTorch (CPU).

nanoGPT (github.com/karpathy/nanoGPT, file `model.py`; measured with commit 3adf61e) is the
usual from-scratch baseline. It is not part of this project and torch is never a dependency of
minireason: the torch side runs in its own venv, in a subprocess (benchmarks/nanogpt_worker.py).
Set up once (no GPU needed; any CPU wheel of torch works):

    python -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy
    mkdir -p /tmp/nanogpt && curl -o /tmp/nanogpt/model.py \\
        https://raw.githubusercontent.com/karpathy/nanoGPT/master/model.py
    python benchmarks/nanogpt_compare.py /tmp/nanogpt/model.py [--torch-python /tmp/torchvenv/bin/python]
        [--cpu-devices 2]

The file is imported (run as Python) in the torch venv: give it only a copy you trust.

Each shape builds both models once, then alternates them for --rounds rounds (the order flips
every round, so a load that drifts hurts both alike) and reports medians. Both train on the same
batch of tokens with the prompt's positions masked out of the loss, and both optimizer steps clip
the global gradient norm and apply AdamW. The models differ as their authors made them: ours is
RoPE + RMSNorm + SwiGLU (F = 3D hidden: 13 D^2 weights a layer), nanoGPT is learned positions +
LayerNorm + GELU MLP (4D hidden: 12 D^2 a layer; bias=False as in its train.py). So besides
tokens/s the table gives the model FLOP/s: FLOPs per token = 6 x (matmul weights, tied output
layer included) + 12 L D T for attention (scores and weighted sum, forward and backward, over the
full T x T square, as nanoGPT's `estimate_mfu` and PaLM count it), T = positions trained per row.
MFU is against the best float32 matmul rate either framework reaches on this machine (measured
here; a 2048 x 2048 matmul) and, when --peak-gflops gives it, against the CPU's nominal peak (cores x
FLOPs a cycle x clock: 2 x 32 x 2.45 GHz = 156.8 for two cores with two AVX2 FMA units, twice that with
AVX-512's). Last, each side's weight matmuls are timed alone, the same products its step makes (see
`weight_products`): nanoGPT's whole step over our matmuls alone is the ratio ours could reach if
nothing but the matmuls took time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from minireason import mesh as mesh_lib
from minireason.bench import cpu_name, flops_per_token, git_commit, matmul_tflops, save
from minireason.config import OptimConfig
from minireason.model import ModelConfig, Transformer, count_params
from minireason.sft import make_optimizer, make_train_step
from minireason.tokenizer import VOCAB_SIZE

# add_sft's model and batch; and a wider, longer one. Steps per timing: about 2 s on a 2-core CPU.
SHAPES = {
    "add_sft": dict(n_layers=3, d_model=128, n_heads=4, mlp_hidden=384, seq_len=56, batch=64, steps=20),
    "L4_D256_T128": dict(n_layers=4, d_model=256, n_heads=4, mlp_hidden=768, seq_len=128, batch=32, steps=5),
}
SETUP_HELP = ("no torch venv at {}: create one with\n  python -m venv /tmp/torchvenv && "
              "/tmp/torchvenv/bin/pip install torch numpy\nor pass --torch-python")


def model_flops_per_token(shape: dict, mlp_weights_per_layer: int) -> int:
    return flops_per_token(shape["n_layers"], shape["d_model"], mlp_weights_per_layer, shape["seq_len"] - 1)


def batch(shape: dict, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random tokens; the first quarter of each row is 'prompt' (no loss). Speed does not depend on the values."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB_SIZE, (shape["batch"], shape["seq_len"]), dtype=np.int32)
    mask = np.ones(tokens.shape, np.float32)
    mask[:, :shape["seq_len"] // 4] = 0
    return tokens, mask


class Torch:
    """The nanoGPT worker process: one JSON line in, one JSON line out."""

    def __init__(self, python: str, model_path: str, threads: int):
        worker = Path(__file__).with_name("nanogpt_worker.py")
        self.proc = subprocess.Popen([python, str(worker), "--model", model_path, "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit("the torch worker stopped (its error is above)")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


class Ours:
    """Our SFT step, data parallel over every CPU device JAX has (one, unless --cpu-devices says more)."""

    def __init__(self, shape: dict, tokens: np.ndarray, mask: np.ndarray):
        cfg = ModelConfig(d_model=shape["d_model"], n_layers=shape["n_layers"], n_heads=shape["n_heads"],
                          mlp_hidden=shape["mlp_hidden"])
        self.mesh = mesh_lib.make_mesh(-1, 1)
        with jax.set_mesh(self.mesh):
            graphdef, params = nnx.split(Transformer(cfg, nnx.Rngs(0)))
            self.n_params = count_params(nnx.merge(graphdef, params))
            tx = make_optimizer(OptimConfig(), 1000)
            self.params, self.opt_state = mesh_lib.place((params, tx.init(params)), self.mesh)
            self.step = make_train_step(graphdef, tx)
            self.batch = mesh_lib.rows((tokens, mask))
            self.products, self.operands = weight_products(shape, tokens[:, :-1].size)
        self.time(3)  # compile and warm up
        self.time_weight_matmuls(1)

    def time(self, steps: int) -> float:
        with jax.set_mesh(self.mesh):
            t = time.perf_counter()
            for _ in range(steps):
                self.params, self.opt_state, metrics = self.step(self.params, self.opt_state, *self.batch)
            jax.block_until_ready(metrics)
            return time.perf_counter() - t

    def time_weight_matmuls(self, steps: int) -> float:
        with jax.set_mesh(self.mesh):
            t = time.perf_counter()
            for _ in range(steps):
                out = self.products(*self.operands)
            jax.block_until_ready(out)
            return time.perf_counter() - t


def weight_products(shape: dict, rows: int):
    """The three products a train step makes with each weight matrix on `rows` tokens, jitted, and random operands:
    forward x W, backward g W^T (the input's gradient) and x^T g (the weight's; summed over the devices' rows).
    Timed alone they say how fast the step could be if nothing but its matmuls took time."""
    L, D, F = shape["n_layers"], shape["d_model"], shape["mlp_hidden"]
    dims = [(D, 3 * D), (D, D), (D, 2 * F), (F, D)] * L + [(D, VOCAB_SIZE)]  # qkv, out, gate_up, down; tied output
    key = jax.random.key(0)
    ws = [jax.random.normal(key, d) for d in dims]
    xs = mesh_lib.rows([jax.random.normal(key, (rows, d_in)) for d_in, _ in dims])
    gs = mesh_lib.rows([jax.random.normal(key, (rows, d_out)) for _, d_out in dims])
    products = jax.jit(lambda ws, xs, gs: [(x @ w, g @ w.T, x.T @ g) for w, x, g in zip(ws, xs, gs)])
    return products, (ws, xs, gs)


def compare(name: str, shape: dict, torch: Torch, rounds: int, steps: int) -> dict:
    tokens, mask = batch(shape)
    info = torch.ask(cmd="setup", n_layers=shape["n_layers"], d_model=shape["d_model"], n_heads=shape["n_heads"],
                     vocab_size=VOCAB_SIZE, tokens=tokens.tolist(), mask=mask.tolist())
    ours = Ours(shape, tokens, mask)
    ours_s, torch_s, ours_mm_s, torch_mm_s = [], [], [], []
    for r in range(rounds):
        for side in (("torch", "ours") if r % 2 == 0 else ("ours", "torch")):
            if side == "torch":
                torch_s.append(torch.ask(cmd="time", steps=steps)["seconds"])
                torch_mm_s.append(torch.ask(cmd="weight_matmuls", steps=steps)["seconds"])
            else:
                ours_s.append(ours.time(steps))
                ours_mm_s.append(ours.time_weight_matmuls(steps))
    ms = lambda seconds: round(statistics.median(seconds) / steps * 1000, 1)
    tok = tokens.size * steps
    ours_tps, torch_tps = [tok / s for s in ours_s], [tok / s for s in torch_s]
    ours_fpt, torch_fpt = model_flops_per_token(shape, 3 * shape["d_model"] * shape["mlp_hidden"]), \
        model_flops_per_token(shape, 8 * shape["d_model"] ** 2)
    return dict(
        shape=name, **{k: v for k, v in shape.items() if k != "steps"}, steps_per_timing=steps,
        ours_params=ours.n_params, nanogpt_params=info["params"], torch=info["torch"], torch_threads=info["threads"],
        ours_tokens_per_s=round(statistics.median(ours_tps)), nanogpt_tokens_per_s=round(statistics.median(torch_tps)),
        ratio=round(statistics.median(ours_tps) / statistics.median(torch_tps), 3),
        paired_ratio=round(statistics.median(a / b for a, b in zip(ours_tps, torch_tps)), 3),
        ours_flops_per_token=ours_fpt, nanogpt_flops_per_token=torch_fpt,
        ours_gflops=round(statistics.median(ours_tps) * ours_fpt / 1e9, 2),
        nanogpt_gflops=round(statistics.median(torch_tps) * torch_fpt / 1e9, 2),
        flops_ratio=round(statistics.median(ours_tps) * ours_fpt / (statistics.median(torch_tps) * torch_fpt), 3),
        ours_step_ms=ms(ours_s), nanogpt_step_ms=ms(torch_s),
        ours_weight_matmuls_ms=ms(ours_mm_s), nanogpt_weight_matmuls_ms=ms(torch_mm_s),
        ours_tokens_per_s_rounds=[round(x) for x in ours_tps],
        nanogpt_tokens_per_s_rounds=[round(x) for x in torch_tps],
    )


def busy_cpu_s() -> float:
    """CPU seconds all processes have used since boot (Linux; 0 elsewhere), to tell what else ran meanwhile."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("nanogpt_model", help="path to a local copy of nanoGPT's model.py")
    p.add_argument("--torch-python", default="/tmp/torchvenv/bin/python", help="python of a venv with torch")
    p.add_argument("--threads", type=int, default=2, help="torch threads (XLA uses every core: 2 here)")
    p.add_argument("--cpu-devices", type=int, default=1,
                   help="our step data parallel over this many CPU devices (as train.py's mesh.cpu_devices)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=0, help="steps per timing (0: the shape's default)")
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, from {', '.join(SHAPES)}")
    p.add_argument("--peak-gflops", type=float, default=0.0,
                   help="the CPU's nominal float32 peak in GFLOP/s, for a nominal MFU (see the top of this file)")
    p.add_argument("--out", default="benchmarks/results/nanogpt_compare.json")
    args = p.parse_args(argv)
    mesh_lib.cpu_devices(args.cpu_devices)
    if not Path(args.torch_python).is_file():
        sys.exit(SETUP_HELP.format(args.torch_python))
    if not Path(args.nanogpt_model).is_file():
        sys.exit(f"no file {args.nanogpt_model}: get model.py from github.com/karpathy/nanoGPT (see this file's top)")

    load_before, busy_before, wall_before = os.getloadavg(), busy_cpu_s(), time.perf_counter()
    own_before = sum(os.times()[:4])
    torch = Torch(args.torch_python, args.nanogpt_model, args.threads)
    n = 2048
    rows = [compare(name, SHAPES[name], torch, args.rounds, args.steps or SHAPES[name]["steps"])
            for name in args.shapes.split(",")]
    torch_matmul_s = torch.ask(cmd="matmul", n=n, repeats=5)["seconds"]
    peak = dict(jax=matmul_tflops(n, 5) * 1e3, torch=2 * n**3 / torch_matmul_s / 1e9)
    torch.close()
    own = sum(os.times()[:4]) - own_before  # this process and the torch worker (waited for: counted)
    others = (busy_cpu_s() - busy_before - own) / (time.perf_counter() - wall_before)
    best = max(peak.values())
    for r in rows:
        r.update(ours_mfu_measured=round(r["ours_gflops"] / best, 3),
                 nanogpt_mfu_measured=round(r["nanogpt_gflops"] / best, 3))
        if args.peak_gflops:
            r.update(ours_mfu_nominal=round(r["ours_gflops"] / args.peak_gflops, 3),
                     nanogpt_mfu_nominal=round(r["nanogpt_gflops"] / args.peak_gflops, 3))
    result = dict(commit=git_commit(), jax=jax.__version__, device=str(jax.devices()[0]),
                  cpu_devices=jax.device_count(), cpu=cpu_name(), cores=os.cpu_count(), rounds=args.rounds,
                  matmul_gflops={k: round(v, 1) for k, v in peak.items()}, nominal_peak_gflops=args.peak_gflops,
                  loadavg_before=[round(x, 2) for x in load_before],
                  loadavg_after=[round(x, 2) for x in os.getloadavg()],
                  other_processes_cores=round(others, 2),
                  shapes=rows)

    print(f"commit {result['commit']}, jax {jax.__version__} on {jax.device_count()} CPU device(s), torch "
          f"{rows[0]['torch']} ({rows[0]['torch_threads']} threads), {args.rounds} alternating rounds, medians; "
          f"other processes used {others:.2f} cores meanwhile "
          f"(load average before/after {result['loadavg_before'][0]}/{result['loadavg_after'][0]})")
    print(f"{'shape':<14} {'params ours/nanoGPT':>20} {'tokens/s ours':>14} {'nanoGPT':>9} {'ratio':>6} "
          f"{'paired':>7} {'GFLOP/s ours':>13} {'nanoGPT':>8} {'ratio':>6} {'MFU ours':>9} {'nanoGPT':>8}")
    for r in rows:
        print(f"{r['shape']:<14} {r['ours_params']:>10,}/{r['nanogpt_params']:<9,} {r['ours_tokens_per_s']:>14,} "
              f"{r['nanogpt_tokens_per_s']:>9,} {r['ratio']:>6.2f} {r['paired_ratio']:>7.2f} {r['ours_gflops']:>13.1f} "
              f"{r['nanogpt_gflops']:>8.1f} {r['flops_ratio']:>6.2f} {r['ours_mfu_measured']:>9.1%} "
              f"{r['nanogpt_mfu_measured']:>8.1%}")
    print(f"float32 2048x2048 matmul: jax {peak['jax']:.1f}, torch {peak['torch']:.1f} GFLOP/s (MFU is against the "
          "better)")
    if args.peak_gflops:
        nominal = ", ".join(f"{r['ours_mfu_nominal']:.1%} / {r['nanogpt_mfu_nominal']:.1%}" for r in rows)
        print(f"against the nominal {args.peak_gflops} GFLOP/s, MFU ours / nanoGPT: {nominal}")
    print(f"\n{'shape':<14} {'step ms ours':>13} {'nanoGPT':>8} {'weight matmuls alone, ms ours':>30} {'nanoGPT':>8} "
          f"{'ratio if only matmuls took time':>32}")
    for r in rows:
        print(f"{r['shape']:<14} {r['ours_step_ms']:>13} {r['nanogpt_step_ms']:>8} {r['ours_weight_matmuls_ms']:>30} "
              f"{r['nanogpt_weight_matmuls_ms']:>8} {r['nanogpt_step_ms'] / r['ours_weight_matmuls_ms']:>32.2f}")
    save(result, args.out)
    return result


if __name__ == "__main__":
    main()
