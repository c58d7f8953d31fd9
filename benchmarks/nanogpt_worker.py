"""The torch side of nanogpt_compare.py: runs in the torch venv, never imported by the package.

    TORCH_PYTHON benchmarks/nanogpt_worker.py --model PATH/TO/nanoGPT/model.py --threads 2

Reads one JSON command per line on stdin and answers one JSON line on stdout:
    {"cmd": "setup", "n_layers", "d_model", "n_heads", "vocab_size", "tokens": [[...]], "mask": [[...]]}
    {"cmd": "time", "steps": N}       -> seconds for N train steps on the batch given at setup
    {"cmd": "matmul", "n": N, "repeats": R} -> best seconds of R N x N float32 matmuls
    {"cmd": "weight_matmuls", "steps": N} -> seconds for N repeats of the step's weight matmuls alone
A train step is nanoGPT's own training loop body: forward with targets (cross-entropy, prompt
positions ignored), backward, gradient clipping at 1.0, AdamW from `configure_optimizers`.
"""

import argparse
import importlib.util
import json
import sys
import time

import torch


def load_nanogpt(path: str):
    spec = importlib.util.spec_from_file_location("nanogpt_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def weight_products(model, rows: int):
    """The three products a train step makes with each weight matrix on `rows` tokens, as a function, on random
    x and g: forward x W^T (nn.Linear keeps W as (out, in)), backward g W (the input's gradient) and g^T x (W's)."""
    weights = [p.detach() for p in model.parameters() if p.ndim == 2 and p is not model.transformer.wpe.weight]
    xs = [torch.randn(rows, w.shape[1]) for w in weights]
    gs = [torch.randn(rows, w.shape[0]) for w in weights]

    def products():
        for w, x, g in zip(weights, xs, gs):
            x @ w.T, g @ w, g.T @ x
    return products


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reply = sys.stdout
    sys.stdout = sys.stderr  # nanoGPT prints as it builds; keep our stdout for the answers
    nanogpt = load_nanogpt(args.model)
    step = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "setup":
            tokens = torch.tensor(cmd["tokens"], dtype=torch.long)
            targets = tokens[:, 1:].clone()
            targets[torch.tensor(cmd["mask"])[:, 1:] == 0] = -1  # nanoGPT's ignore_index: no loss on the prompt
            idx = tokens[:, :-1]
            cfg = nanogpt.GPTConfig(block_size=idx.shape[1], vocab_size=cmd["vocab_size"], n_layer=cmd["n_layers"],
                                    n_head=cmd["n_heads"], n_embd=cmd["d_model"], dropout=0.0, bias=False)
            model = nanogpt.GPT(cfg)
            opt = model.configure_optimizers(weight_decay=0.01, learning_rate=3e-3, betas=(0.9, 0.98),
                                             device_type="cpu")

            def step():
                _, loss = model(idx, targets)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                return loss

            products = weight_products(model, idx.numel())
            for _ in range(3):  # warm up the allocator and the kernels' caches
                step()
                products()
            params = sum(p.numel() for p in model.parameters())
            out = dict(params=params, torch=torch.__version__, threads=torch.get_num_threads())
        elif cmd["cmd"] == "time":
            t = time.perf_counter()
            for _ in range(cmd["steps"]):
                loss = step()
            out = dict(seconds=time.perf_counter() - t, loss=loss.item())
        elif cmd["cmd"] == "weight_matmuls":  # what the step's matmuls alone cost: see weight_products there
            t = time.perf_counter()
            for _ in range(cmd["steps"]):
                products()
            out = dict(seconds=time.perf_counter() - t)
        elif cmd["cmd"] == "matmul":
            a, b = torch.randn(cmd["n"], cmd["n"]), torch.randn(cmd["n"], cmd["n"])
            times = []
            for _ in range(cmd["repeats"]):
                t = time.perf_counter()
                a @ b
                times.append(time.perf_counter() - t)
            out = dict(seconds=min(times))  # the best run: a peak rate
        else:
            out = dict(error=f"unknown command {cmd['cmd']!r}")
        reply.write(json.dumps(out) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
