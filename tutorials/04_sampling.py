# %% [markdown]
# # 04 · Sampling: from next-token scores to a thought and an answer
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/04_sampling.ipynb)
#
# **You will learn:**
# - how a model writes text one token at a time, and why the naive way wastes almost all its work;
# - the KV cache: the same tokens as the naive decode, many times faster (measured here);
# - temperature and top-p: how randomness is dialled in, checked against the maths;
# - reasoning tokens reported apart from answer tokens, and the thinking budget
#   (budget forcing): what happens to accuracy when the model may not think long enough.
#
# **Time on a 2-core CPU:** about 4 min on a busy shared CPU, most of it a short training run (fast
# mode, `MINIREASON_FAST=1`: about 55 s, with a few training steps only).
#
# **Assumes:** Python and a little NumPy; tutorials 01-03.

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %%
import inspect
import shutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from minireason import sampler
from minireason.evaluate import budget_sweep
from minireason.model import ModelConfig, Transformer, init_cache
from minireason.tasks import heldout_examples
from minireason.tokenizer import decode

OUT = Path("runs/t04_sampling")
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)

# %% [markdown]
# ## 1. Decoding, the naive way
#
# A model maps tokens to next-token scores (logits). To *generate*, give it the prompt
# `<bos> PROMPT <think>`, pick a token from the scores at the last position, append it, and
# repeat until `<eos>`. Picking the highest score every time is *greedy* decoding.
#
# The naive implementation runs the whole model over the whole sequence for every new token.
# minireason keeps it as the reference that the fast path is tested against:

# %%
print(inspect.getsource(sampler.sample_naive))

# %% [markdown]
# Prompts of different lengths are *left-padded* to a common length, so that all rows of a batch
# write their next token at the same position; `start_B` says where each row's real tokens begin
# and the model ignores the padding. Lengths are rounded up to a multiple of 16 so that a few
# shapes cover every batch (each new shape would mean a new compilation).

# %%
print(inspect.getsource(sampler.pad_prompts))
tokens_BP, start_B = sampler.pad_prompts(["1+2=", "123+456="])
print(tokens_BP, start_B)
assert tokens_BP.shape[1] % 16 == 0 and list(start_B) == [16 - 6, 16 - 10], "left-padded to 16 tokens"

# %% [markdown]
# ## 2. The KV cache
#
# In the naive loop, step t recomputes the keys and values of every earlier token, although
# they never change: the model is causal (tutorial 03), so a token's keys and values depend only
# on the tokens before it. The **KV cache** stores them. One *prefill* call processes the prompt
# and fills the cache; then each *decode* step runs the model on the single newest token, writes
# its key and value into the cache at position `index`, and attends over the cache.
#
# minireason's sampler jits the whole loop: `jax.lax.while_loop` runs the decode steps inside
# the compiled code and stops when every row has written `<eos>`. The rules for the thinking
# budget (section 4) are shared with the naive path, so both decode exactly the same way.

# %%
print(inspect.getsource(sampler.sample))

# %% [markdown]
# The claim "the cached decode gives the same tokens as the naive one" does not depend on what
# the model has learned, so we check it with random weights, at the project's default model size
# (4 layers of width 128; a smaller one in fast mode).
# A random model may write `<eos>` at any moment; `min_thinking = max_new` forbids `</think>` and
# `<eos>`, so both paths write exactly `max_new` tokens and do the same amount of work.

# %%
cfg = ModelConfig() if not FAST else ModelConfig(d_model=64, n_layers=2, n_heads=4, mlp_hidden=192)  # fast: smaller
graphdef, params = nnx.split(Transformer(cfg, nnx.Rngs(0)))
N = 16 if FAST else 96  # fast mode: shorter generations
prompts = ["1+2=", "123+456=", "9*9=", "make 24 from 2 5 7"] * 2
tokens_BP, start_B = sampler.pad_prompts(prompts)
long = sampler.SampleConfig(max_new=N, min_thinking=N)
key = jax.random.key(0)

cached = sampler.sample(graphdef, params, tokens_BP, start_B, key, long)
naive = sampler.sample_naive(graphdef, params, tokens_BP, start_B, long)
print("first row (random weights, so random text):", repr(decode(np.asarray(cached["tokens"][0]))[:60]))
assert np.array_equal(np.asarray(cached["tokens"]), np.asarray(naive["tokens"])), "cached decode == naive decode"
assert np.all(np.asarray(cached["thinking_tokens"]) == N), "every row wrote max_new thinking tokens"

# %% [markdown]
# Now the speed. Timing on a shared CPU is noisy, and compiling is not decoding, so we time one
# decode step of each path, exactly the call each loop makes per token: the naive path runs the
# model over the whole buffer (prompt + `max_new` positions), the cached path runs it on one token
# with the cache. Both are compiled first (not timed), then each is timed 15 times, alternating
# the two so that a burst of load from elsewhere hits both, and we compare the medians.

# %%
B, P = tokens_BP.shape
buffer_BT = jnp.concatenate([tokens_BP, cached["tokens"]], axis=1)  # what the naive loop sees at its last step
naive_step = jax.jit(lambda p, x: nnx.merge(graphdef, p)(x, start_B)[0])
cached_step = jax.jit(lambda p, tok, cache, index: nnx.merge(graphdef, p)(tok, start_B, cache, index))
cache = init_cache(cfg, B, P + N)  # what is in the cache does not change the cost of a step: zeros will do
last_B1 = buffer_BT[:, P:P + 1]
jax.block_until_ready((naive_step(params, buffer_BT), cached_step(params, last_B1, cache, P)))  # compile


def seconds(fn) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


t_naive, t_cached = [], []
for _ in range(15):
    t_naive.append(seconds(lambda: naive_step(params, buffer_BT)))
    t_cached.append(seconds(lambda: cached_step(params, last_B1, cache, P)))
speedup = np.median(t_naive) / np.median(t_cached)
print(f"one decode step for {B} rows: naive {1000 * np.median(t_naive):.2f} ms, "
      f"cached {1000 * np.median(t_cached):.2f} ms (medians of 15): the cache is {speedup:.1f}x faster")
whole = seconds(lambda: sampler.sample(graphdef, params, tokens_BP, start_B, key, long)["tokens"])
print(f"the whole cached sample, {N} tokens for each of {B} rows: {1000 * whole:.0f} ms")
assert speedup > 1, f"a cached decode step is faster than a naive one (got {speedup:.2f}x)"

# %% [markdown]
# The gap grows with length: a naive step runs every layer over the whole buffer, a cached step
# runs them over one position and only *reads* the buffer in attention. (`benchmarks/` measures this at larger sizes.)
#
# ## 3. Temperature and top-p
#
# Greedy decoding always gives the same answer. To *sample* (for several attempts at a problem
# in tutorial 08, or for exploration in RL in tutorial 07), turn the logits into probabilities
# with a softmax and draw from them. Two knobs shape the distribution:
#
# - **temperature** T divides the logits before the softmax: T < 1 sharpens the distribution
#   toward the top token, T > 1 flattens it; T = 0 means greedy.
# - **top-p** (nucleus sampling) keeps only the smallest set of top tokens whose probabilities
#   add up to p, and renormalises: the long tail of unlikely tokens can never be drawn.
#
# Each row gets its own random key, folded with the step number (`jax.random.fold_in(key, t)`
# makes a new key from a key and a number), so a row's sample does not depend on what else is in
# the batch. `jax.vmap(f)` turns a function of one row into a function of a batch of rows, here
# drawing one token per row with `jax.random.categorical` (a draw from the softmax of the logits).
# `top-k`, the third knob in the code, keeps the k most likely tokens.

# %%
print(inspect.getsource(sampler._pick))

# %% [markdown]
# We check `_pick` against the maths on made-up logits for a six-token vocabulary, drawing
# 20,000 samples at once (one row per sample).

# %%
logits_V = jnp.array([2.0, 1.5, 1.0, 0.0, -1.0, -2.0])
R = 5_000 if FAST else 20_000  # fast mode: fewer draws, so the frequency tolerance below is wider
keys_B = jax.random.split(jax.random.key(1), R)
tol = 0.03 if FAST else 0.015


def frequencies(temperature, top_p=1.0):
    picks, _ = sampler._pick(jnp.tile(logits_V, (R, 1)), keys_B, 0,
                             sampler.SampleConfig(temperature=temperature, top_p=top_p))
    return np.bincount(np.asarray(picks), minlength=len(logits_V)) / R


def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


rows = {T: frequencies(T) for T in (0.0, 0.5, 1.0, 2.0)}
for T, freq in rows.items():
    print(f"T={T}: frequencies {np.round(freq, 3)}  entropy {entropy(freq):.3f}")
    if T > 0:
        exact = np.asarray(jax.nn.softmax(logits_V / T))
        assert np.abs(freq - exact).max() < tol, f"T={T}: samples follow softmax(logits / T)"
assert rows[0.0][0] == 1.0, "T = 0 is greedy: always the top token"
assert entropy(rows[0.5]) < entropy(rows[1.0]) < entropy(rows[2.0]), "higher temperature, flatter distribution"

probs = np.asarray(jax.nn.softmax(logits_V))
nucleus = int(np.searchsorted(np.cumsum(probs), 0.8) + 1)  # tokens needed to reach p = 0.8 (logits are sorted)
top_p = frequencies(1.0, top_p=0.8)
print(f"top-p 0.8: frequencies {np.round(top_p, 3)}; by hand the nucleus is the top {nucleus} tokens")
assert top_p[nucleus:].sum() == 0, "nothing outside the nucleus is ever drawn"
assert np.abs(top_p[:nucleus] - probs[:nucleus] / probs[:nucleus].sum()).max() < tol, "inside it, renormalised"

fig, ax = plt.subplots(figsize=(6, 3))
for i, (label, freq) in enumerate([*((f"T={T}", f) for T, f in rows.items()), ("T=1, top-p 0.8", top_p)]):
    ax.bar(np.arange(len(logits_V)) + 0.15 * (i - 2), freq, width=0.15, label=label)
ax.set_xlabel("token"); ax.set_ylabel("share of samples"); ax.legend(fontsize=8)
fig.tight_layout(); fig.savefig(OUT / "temperature.png")
plt.show()

# %% [markdown]
# ## 4. A model that thinks, and its thinking budget
#
# For the rest we need a model that has learned the format. We train one on two-digit addition
# with the project's trainer, the same code as `python train.py CONFIG.toml key=value ...`
# (tutorial 05 explains training properly). In full mode this takes a minute or two; fast mode
# runs a few steps only, enough to show the mechanics but not to learn addition.

# %%
from minireason import train
from minireason.runs import load_run

steps = 30 if FAST else 400  # fast mode: far too few steps to learn; the accuracy asserts below are full mode only
# The repository's configs/tiny.toml, written out here so the tutorial also runs where only the package is
# installed (Colab); the overrides below make it a real model.
(OUT / "tiny.toml").write_text("""
[model]
d_model = 32
n_layers = 2
n_heads = 2
mlp_hidden = 64

[data]
tasks = { add = 1.0 }
levels = { add = [1, 1] }
batch_size = 8
seq_len = 24

[train]
steps = 20
log_every = 5
eval_every = 10
save_every = 10

[eval]
n = 16
n_periodic = 8
max_new = 16
batch_size = 16
show = 1
""")
argv = [str(OUT / "tiny.toml"), f"run.out_dir={OUT}", "run.name=add", f"train.steps={steps}",
        "model.d_model=128", "model.n_layers=3", "model.n_heads=4", "model.mlp_hidden=384",
        "data.levels={add=[1,2]}", "eval.levels={add=2}", "data.batch_size=32", "data.seq_len=40",
        "optim.lr=3e-3", "optim.warmup_steps=30",
        f"train.eval_every={steps}", f"train.save_every={steps}", f"eval.n={16 if FAST else 100}", "eval.max_new=32"]
if FAST:
    argv += ["model.d_model=32", "model.n_layers=2", "model.n_heads=2", "model.mlp_hidden=64"]
report = train.main(argv)
_, graphdef, params = load_run(OUT / "add")

# %% [markdown]
# `sampler.generate` samples a list of prompts and reports, for every completion, the thinking
# and the answer *and how many tokens each took*: reasoning tokens are billed apart, as
# tutorial 01 promised.

# %%
examples = heldout_examples("add", 2, 200)
# 16 prompts, the shape and settings of the trainer's final evaluation in fast mode: its compiled sampler is reused
outs = sampler.generate(graphdef, params, [e.prompt for e in examples[:16]], sampler.SampleConfig(max_new=32),
                        jax.random.key(0))
for e, o in zip(examples[:4], outs):
    print(f"{e.prompt:8} thinking {o['thinking']!r:28} answer {o['answer']!r:6} "
          f"({o['thinking_tokens']} thinking + {o['answer_tokens']} answer tokens)")
    if o["well_formed"]:
        assert o["thinking_tokens"] == len(o["thinking"]) and o["answer_tokens"] == len(o["answer"]), "counted apart"

# %% [markdown]
# **Budget forcing** (from the s1 paper, Muennighoff et al. 2025): cap the thinking at
# `max_thinking` tokens. When a row reaches the cap without having closed its thought, the
# sampler writes `</think>` for it, and the model must answer with what it has worked out so
# far. (`min_thinking` does the opposite: it forbids `</think>` until a row has thought that
# long.) Both rules live in one small function shared by the cached and the naive decode:

# %%
print(inspect.getsource(sampler._step_rules))
print(inspect.getsource(budget_sweep))

# %% [markdown]
# A two-digit addition trace takes about 21 thinking tokens. Sweep the budget from 0 (answer
# at once) to unlimited (−1), on 200 held-out problems:

# %%
outs = sampler.generate(graphdef, params, [e.prompt for e in examples[:4]],
                        sampler.SampleConfig(max_new=32, max_thinking=8), jax.random.key(0))
for e, o in zip(examples, outs):
    print(f"budget 8: {e.prompt:8} thinking {o['thinking']!r:12} answer {o['answer']!r:6} (right: {e.answer})")
    assert o["thinking_tokens"] <= 8, "no row thinks past its budget"

budgets = [0, -1] if FAST else [0, 5, 10, 15, 20, 25, -1]  # fast mode: fewer budgets (each one compiles)
n_eval = 16 if FAST else 200  # and fewer held-out problems (16 reuses the evaluation's compiled sampler)
sweep = budget_sweep(graphdef, params, "add", 2, n_eval, budgets, 32, jax.random.key(0))
for r in sweep:
    print(f"budget {r['budget']:>3}: accuracy {r['accuracy']:.3f}, thinking {r['thinking_tokens']:.1f} tokens, "
          f"format {r['format_rate']:.2f}")
    if r["budget"] >= 0:
        assert r["thinking_tokens"] <= r["budget"], "the budget is never exceeded"

fig, ax = plt.subplots(figsize=(5, 3))
xs = [r["thinking_tokens"] for r in sweep]
ax.plot(xs, [r["accuracy"] for r in sweep], "o-")
ax.set_xlabel("mean thinking tokens (budget forcing)"); ax.set_ylabel("held-out accuracy")
ax.set_title("2-digit addition: accuracy needs thinking")
fig.tight_layout(); fig.savefig(OUT / "budget.png")
plt.show()

if not FAST:  # fast mode trains 30 steps of a tiny model: it has not learned addition, so these are full mode only
    full, none = sweep[-1]["accuracy"], sweep[0]["accuracy"]
    assert full >= 0.8, f"the trained model solves most held-out problems when it may think (got {full:.2f})"
    assert none < full - 0.3, f"cut off before thinking, it mostly fails ({none:.2f} vs {full:.2f})"

# %% [markdown]
# The model was trained to write the whole column-by-column trace and then copy the answer
# from it. Forced to stop early, it has to guess the digits it did not work out, and accuracy
# falls with the budget. This is the simplest form of *test-time compute*: more thinking tokens,
# more accuracy, up to what the model needs. Tutorial 08 returns to it with harder problems,
# many samples and voting.
#
# ## Exercises
#
# 1. (graded in assignment a2) Write a cached greedy decode loop yourself with
#    `model(tokens, start_B, cache, index)` and `init_cache`, and check that it writes the same
#    tokens as `sampler.sample_naive`.
# 2. Measure the speed-up of section 2 for N = 32, 64, 128 and 256 tokens. How does it grow, and
#    why? (Count the work per step of each path.)
# 3. Implement top-k in a copy of `_pick` differently (with `jnp.argsort`) and check that it
#    gives the same samples as the project's `top_k` for the same keys.
# 4. Sample the trained model at T = 1.5 on 200 problems. How does accuracy change, and how does
#    the format rate change? Which fails first: the arithmetic or the format?
#
# Next: [05 · SFT](05_sft.ipynb): training a model to think, properly.
