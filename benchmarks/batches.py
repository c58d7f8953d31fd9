"""How fast SFT batches are built, in the training process and by worker processes (data.workers).

    python benchmarks/batches.py [--config configs/gpu/mix_sft.toml] [--workers 0,1,2] [--steps 40] [--rounds 3]

A batch is Python's work: drawing problems, writing their traces, packing rows. On a CPU it hides
behind the train step, which takes longer; a GPU can finish a step sooner than one core builds the
next batch, and then the run waits on Python. For each worker count this times `Batches` handing
out the batches of --steps consecutive steps with nothing else to do, after the first (which pays
for starting the workers), and reports batches per second: the fastest a run of that config could
go, whatever its accelerator. The worker counts take turns for --rounds rounds; medians.
"""

import argparse
import os
import statistics
import time

from minireason.bench import cpu_name, git_commit, save
from minireason.config import load
from minireason.sft import Batches


def batches_per_s(cfg, workers: int, start: int, steps: int) -> tuple[float, float]:
    """(seconds to the first batch, batches per second after it) for `workers` worker processes.

    Every timing builds steps no other timing built: some problems' traces are cached once written,
    which would favour the process that built them before (a training run never repeats a step)."""
    t = time.perf_counter()
    batches = Batches(cfg.data, cfg.run.seed, workers)
    batches(start)
    first = time.perf_counter() - t
    t = time.perf_counter()
    for step in range(start + 1, start + steps + 1):
        batches(step)
    return first, steps / (time.perf_counter() - t)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/gpu/mix_sft.toml")
    p.add_argument("--workers", default="0,1,2", help="comma-separated worker counts (0: in the training process)")
    p.add_argument("--steps", type=int, default=40, help="batches per timing")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default="benchmarks/results/batches.json")
    args = p.parse_args(argv)
    cfg = load(args.config)
    counts = [int(w) for w in args.workers.split(",")]
    first, rate = {w: [] for w in counts}, {w: [] for w in counts}
    timings = 0
    for r in range(args.rounds):
        for w in (counts if r % 2 == 0 else counts[::-1]):
            f, b = batches_per_s(cfg, w, timings * (args.steps + 1), args.steps)
            timings += 1
            first[w].append(f)
            rate[w].append(b)
    rows = [dict(workers=w, first_batch_s=round(statistics.median(first[w]), 2),
                 batches_per_s=round(statistics.median(rate[w]), 2), rounds=[round(b, 2) for b in rate[w]])
            for w in counts]
    tokens = cfg.data.batch_size * cfg.data.seq_len
    print(f"{args.config}: batches of {cfg.data.batch_size} x {cfg.data.seq_len} tokens"
          f"{' (packed)' if cfg.data.pack else ''}; {cpu_name()}, {os.cpu_count()} cores; medians of {args.rounds}")
    print(f"{'workers':>7} {'first batch':>12} {'batches/s':>10} {'ms a batch':>11} {'tokens/s':>10} {'vs 0':>6}")
    for row in rows:
        print(f"{row['workers']:>7} {row['first_batch_s']:>11.2f}s {row['batches_per_s']:>10.2f} "
              f"{1000 / row['batches_per_s']:>11.0f} {row['batches_per_s'] * tokens:>10,.0f} "
              f"{row['batches_per_s'] / rows[0]['batches_per_s']:>5.2f}x")
    result = dict(config=args.config, commit=git_commit(), cpu=cpu_name(), cores=os.cpu_count(), steps=args.steps,
                  tokens_per_batch=tokens, rows=rows)
    save(result, args.out)
    return result


if __name__ == "__main__":
    main()
