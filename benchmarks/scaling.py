"""SFT train speed on 1, 2, 4 and 8 CPU devices (data parallel): what splitting a CPU into devices costs or gains.

    python benchmarks/scaling.py [--config configs/add_sft.toml] [--devices 1,2,4,8] [--rounds 3]

Each device count runs in its own process (JAX fixes the number of CPU devices when it starts;
the config key mesh.cpu_devices does the same for train.py), on a mesh with every device on the
data axis, timing the config's own train step on its first batch. The device counts take turns
for --rounds rounds, the order reversed every other round; the table gives medians.

These devices are simulated: all of them share this machine's cores. So the table is not what N
GPUs would give. It shows the partitioner's overhead (the gradient sums and the smaller matrices
each device gets), and one real gain: XLA keeps a 2-core CPU busier as 2 devices, each computing
half the rows, than as 1 device spreading each small operation over both cores. The numbers each
device count gives are the same (tests/test_sharding.py).
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
from flax import nnx

from minireason import mesh as mesh_lib
from minireason.bench import cpu_name, git_commit, save
from minireason.config import load
from minireason.model import Transformer
from minireason.sft import Batches, make_optimizer, make_train_step

ROOT = Path(__file__).resolve().parents[1]


def child(config: str, devices: int, steps: int) -> dict:
    mesh_lib.cpu_devices(devices)  # before anything asks JAX for its devices
    cfg = load(config)
    mesh = mesh_lib.make_mesh(-1, 1)
    mesh_lib.check(cfg, mesh)
    with jax.set_mesh(mesh):
        graphdef, params = nnx.split(Transformer(cfg.model, nnx.Rngs(0)))
        tx = make_optimizer(cfg.optim, cfg.train.steps)
        state = mesh_lib.place((params, tx.init(params)), mesh)
        step = make_train_step(graphdef, tx)
        batch = mesh_lib.rows(Batches(cfg.data, cfg.run.seed)(0))
        times = []
        for _ in range(4):  # the first timing compiles and warms up
            t = time.perf_counter()
            for _ in range(steps):
                *state, metrics = step(*state, *batch)
            jax.block_until_ready(metrics)
            times.append(time.perf_counter() - t)
    seconds = statistics.median(times[1:]) / steps
    return dict(devices=jax.device_count(), step_ms=seconds * 1e3, tokens_per_s=batch[0].size / seconds)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/add_sft.toml")
    p.add_argument("--devices", default="1,2,4,8", help="comma-separated device counts")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10, help="steps per timing (3 timings per round)")
    p.add_argument("--out", default="benchmarks/results/scaling.json")
    p.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.config, args.child, args.steps)))
        return {}

    counts = [int(n) for n in args.devices.split(",")]
    got = {n: [] for n in counts}
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    for r in range(args.rounds):
        for n in (counts if r % 2 == 0 else counts[::-1]):
            out = subprocess.run([sys.executable, __file__, "--config", args.config, "--steps", str(args.steps),
                                  "--child", str(n)], capture_output=True, text=True, env=env, cwd=ROOT)
            if out.returncode:
                sys.exit(f"the {n}-device run failed:\n{out.stderr.strip()}")
            got[n].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1}/{args.rounds}, {n} device(s): {got[n][-1]['tokens_per_s']:,.0f} tokens/s", flush=True)

    rows = [dict(devices=n, tokens_per_s=round(statistics.median(x["tokens_per_s"] for x in got[n])),
                 step_ms=round(statistics.median(x["step_ms"] for x in got[n]), 1),
                 tokens_per_s_rounds=[round(x["tokens_per_s"]) for x in got[n]]) for n in counts]
    for row in rows:
        row["speedup"] = round(row["tokens_per_s"] / rows[0]["tokens_per_s"], 2)
    result = dict(config=args.config, commit=git_commit(), cpu=cpu_name(), cores=os.cpu_count(),
                  rounds=args.rounds, steps_per_timing=args.steps, rows=rows)
    print(f"\n{args.config} train step on simulated CPU devices ({os.cpu_count()} cores), medians of {args.rounds} "
          f"rounds")
    print(f"{'devices':>7} {'tokens/s':>9} {'step ms':>8} {'vs 1st':>7}")
    for row in rows:
        print(f"{row['devices']:>7} {row['tokens_per_s']:>9,} {row['step_ms']:>8.1f} {row['speedup']:>6.2f}x")
    save(result, args.out)
    return result


if __name__ == "__main__":
    main()
