# %% [markdown]
# # 03 · The transformer in JAX and Flax NNX
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/03_transformer.ipynb)
#
# **You will learn:**
# - just enough JAX: `jax.numpy`, random keys, `jax.grad`, `jax.jit`;
# - Flax NNX modules, and the `nnx.split` / `nnx.merge` pattern the whole project uses;
# - the four parts of minireason's decoder-only transformer: RMSNorm, rotary position
#   embeddings (RoPE), causal self-attention and the SwiGLU MLP, each checked by a property;
# - how to *prove* the model is causal: the gradient of position t's output with respect to
#   every later input is exactly zero.
#
# **Time on a 2-core CPU:** about 1 min on a busy shared CPU (fast mode, `MINIREASON_FAST=1`: about the
# same; nothing here trains).
#
# **Assumes:** Python and a little NumPy; tutorials 01-02.

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

from minireason import model as model_lib
from minireason.tokenizer import VOCAB_SIZE, prompt_ids

OUT = Path("runs/t03_transformer")
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)

# %% [markdown]
# ## 1. JAX in five minutes
#
# **`jax.numpy`** (imported as `jnp`) is NumPy's interface on top of a compiler (XLA) that runs
# the same code on a CPU, a GPU or a TPU. Almost everything you know from NumPy works. One
# difference: JAX arrays are *immutable*. Instead of `x[0, 0] = 10` you write
# `x.at[0, 0].set(10)`, which returns a new array.

# %%
x = jnp.arange(6.0).reshape(2, 3)
y = x.at[0, 0].set(10.0)
print(x, "\n", y)
print("mean over rows:", jnp.mean(x, axis=0), " matrix product shape:", (x @ x.T).shape)
assert float(x[0, 0]) == 0.0 and float(y[0, 0]) == 10.0, "x is unchanged; y is a new array"

# %% [markdown]
# **Random numbers** come from an explicit *key* instead of a hidden global state. The same key
# always gives the same numbers (so every run is reproducible); to get new numbers you *split*
# a key into fresh ones. This is why minireason passes keys around explicitly.

# %%
key = jax.random.key(0)
a, b = jax.random.normal(key, (3,)), jax.random.normal(key, (3,))
k1, k2 = jax.random.split(key)
c = jax.random.normal(k1, (3,))
print(a, b, c, sep="\n")
assert bool(jnp.all(a == b)), "same key, same numbers"
assert not bool(jnp.all(a == c)), "a split key gives new numbers"

# %% [markdown]
# **`jax.grad`** turns a function that returns a number into a function that returns its
# gradient: the derivative with respect to each input. Training (tutorial 05) is nothing more
# than following the gradient of the loss downhill.

# %%
def f(v):
    return jnp.sum(v ** 2)  # f(v) = v1^2 + v2^2 + ...; its gradient is 2v


v = jnp.array([1.0, -2.0, 3.0])
print("f(v) =", f(v), "  grad f(v) =", jax.grad(f)(v))
assert jnp.allclose(jax.grad(f)(v), 2 * v), "the gradient of sum(v^2) is 2v"

# %% [markdown]
# **`jax.jit`** compiles a function. The first call *traces* it (runs it with placeholder
# arrays to record the operations) and compiles the recording; later calls with the same shapes
# run the compiled code, with the Python overhead gone and the operations fused. A jitted
# function must be *pure*: its result depends only on its inputs.

# %%
def layer_stack(w, h):
    for _ in range(20):  # twenty small layers: many small operations, where compiling helps most
        h = jnp.tanh(h @ w)
    return h


w = jax.random.normal(jax.random.key(1), (64, 64)) / 8
h = jax.random.normal(jax.random.key(2), (16, 64))
fast = jax.jit(layer_stack)
fast(w, h).block_until_ready()  # the first call compiles
t0 = time.perf_counter(); slow_out = layer_stack(w, h).block_until_ready(); t1 = time.perf_counter()
fast_out = fast(w, h).block_until_ready(); t2 = time.perf_counter()
print(f"op by op: {1000 * (t1 - t0):.2f} ms   jitted: {1000 * (t2 - t1):.2f} ms")
assert jnp.allclose(slow_out, fast_out, atol=1e-5), "compiling changes the speed, not the result"

# %% [markdown]
# (`block_until_ready` waits for the result: JAX returns control before the computation ends.
# One timing on a shared CPU is noisy; tutorial 04 shows how to measure carefully.)
#
# ## 2. Flax NNX modules
#
# Flax NNX is the neural-network library on top of JAX. A layer is a Python object (an
# `nnx.Module`) whose learnable arrays are wrapped in `nnx.Param`. Creating one needs random
# numbers for the initial weights, passed as `nnx.Rngs(seed)`.

# %%
layer = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
inp = jnp.ones((4, 3))
print("kernel shape:", layer.kernel.shape, " output shape:", layer(inp).shape)

# %% [markdown]
# JAX's `grad` and `jit` work on *pure functions of arrays*, not on Python objects. `nnx.split`
# separates a module into a static description of its structure (the *graphdef*) and a pytree
# (nested dicts) of its arrays (the *state*, here only parameters); `nnx.merge` puts them back
# together. minireason jits functions of the parameters like this one:

# %%
graphdef, params = nnx.split(layer)
print(params)


@jax.jit
def apply(params, x):
    return nnx.merge(graphdef, params)(x)  # rebuilding the module costs nothing once compiled


assert jnp.allclose(apply(params, inp), layer(inp)), "merge(split(m)) computes what m computes"
zeroed = jax.tree.map(jnp.zeros_like, params)  # the parameters are plain arrays: transform them freely
assert float(jnp.abs(apply(zeroed, inp)).max()) == 0.0, "with zero weights and bias, a linear layer outputs 0"

# %% [markdown]
# ## 3. The model, top down
#
# minireason's model is a decoder-only transformer, written to be read top to bottom:
# config → RoPE → RMSNorm → attention → MLP → block → transformer. Array names end with their
# shape in the dimension letters declared at the top of the file (`x_BTD` is batch × time ×
# width):

# %%
print(inspect.getsource(model_lib).split('"""')[1])
print(inspect.getsource(model_lib.ModelConfig))

# %% [markdown]
# ### RMSNorm
#
# Each block normalises its input before using it ("pre-norm"), which keeps training stable.
# RMSNorm divides each vector by its root-mean-square, then multiplies by a learned per-channel
# scale (initially 1). It is LayerNorm without the mean subtraction, and slightly cheaper.

# %%
print(inspect.getsource(model_lib.RMSNorm))
norm = model_lib.RMSNorm(8)
xs = 5.0 * jax.random.normal(jax.random.key(3), (4, 8)) + 2.0
rms = jnp.sqrt(jnp.mean(norm(xs) ** 2, axis=-1))
print("RMS of each row after the norm:", rms)
assert jnp.allclose(rms, 1.0, atol=1e-3), "every vector comes out with RMS 1 (scale starts at 1)"

# %% [markdown]
# ### Rotary position embeddings (RoPE)
#
# Attention by itself does not know the order of tokens. RoPE tells it by *rotating* each pair
# of channels of the queries and keys by an angle proportional to the token's position, at a
# different speed for each pair. Two properties make it work, and we check both:
#
# 1. a rotation does not change a vector's length;
# 2. the dot product of a query at position m and a key at position n depends only on m − n: the
#    model sees *relative* positions, so `7+5=` means the same at any offset.

# %%
print(inspect.getsource(model_lib.rope))

# %%
q = jax.random.normal(jax.random.key(4), (1, 1, 1, 16))  # (B, T, H, K): one head, one position
k = jax.random.normal(jax.random.key(5), (1, 1, 1, 16))


def at(vec, pos):
    return model_lib.rope(vec, jnp.array([[pos]]), 10_000.0)


print("length before and after:", float(jnp.linalg.norm(q)), float(jnp.linalg.norm(at(q, 37))))
assert jnp.allclose(jnp.linalg.norm(q), jnp.linalg.norm(at(q, 37)), atol=1e-4), "rotations keep lengths"
scores = [float(jnp.sum(at(q, m) * at(k, m - 3))) for m in (3, 10, 50)]
print("q·k with the key 3 positions behind, at m = 3, 10, 50:", scores)
assert np.allclose(scores, scores[0], atol=1e-3), "the score depends only on the distance m - n"
assert abs(float(jnp.sum(at(q, 10) * at(k, 3))) - float(jnp.sum(at(q, 10) * at(k, 9)))) > 1e-3, "and on the distance"

# %% [markdown]
# ### Causal self-attention
#
# Each position makes a query, a key and a value (one `qkv` matrix, split in three, and into H
# heads of size K). A query's dot products with all keys, scaled by 1/√K and passed through a
# softmax, say how much of each value to take. The *mask* sets the scores of future positions
# to −10³⁰ before the softmax, so their weight is exactly 0: a token can only look back. The
# cache arguments (`kv`, `index`) are for fast sampling, the subject of tutorial 04.

# %%
print(inspect.getsource(model_lib.Attention))

# %% [markdown]
# ### SwiGLU MLP
#
# After attention mixes information across positions, the MLP transforms each position on its
# own. SwiGLU computes two projections of the input; one, passed through the smooth SiLU
# function, *gates* the other (multiplies it elementwise); then it projects back down to width D.

# %%
print(inspect.getsource(model_lib.MLP))
cfg = model_lib.ModelConfig(d_model=64, n_layers=2, n_heads=4, mlp_hidden=192)
mlp = model_lib.MLP(cfg, nnx.Rngs(0))
x_BTD = jax.random.normal(jax.random.key(6), (2, 5, 64))
print("MLP output shape:", mlp(x_BTD).shape)
assert mlp(x_BTD).shape == x_BTD.shape, "the MLP keeps the shape"
assert jnp.allclose(mlp(x_BTD)[:, 2], mlp(x_BTD[:, 2:3])[:, 0], atol=1e-5), "each position is transformed alone"

# %% [markdown]
# ### Blocks and the whole model
#
# A block is `x + attention(norm(x))` then `x + mlp(norm(x))`: each part adds a correction to a
# running "residual stream". The transformer embeds the tokens, runs the blocks, normalises, and
# turns each final vector into one score (logit) per vocabulary entry, reusing the embedding
# matrix ("tied" weights). `features` also handles left padding and the cache (tutorial 04).

# %%
print(inspect.getsource(model_lib.Block))
print(inspect.getsource(model_lib.Transformer))

# %%
model = model_lib.Transformer(cfg, nnx.Rngs(0))
print(f"{model_lib.count_params(model):,} parameters")
tokens_BT = jnp.array([prompt_ids("47+385=")])
logits_BTV, _ = model(tokens_BT)
print("tokens", tokens_BT.shape, "-> logits", logits_BTV.shape)
assert logits_BTV.shape == (1, tokens_BT.shape[1], VOCAB_SIZE), "one score per vocabulary entry at every position"
probs = jax.nn.softmax(logits_BTV[0, -1])
entropy = float(-jnp.sum(probs * jnp.log(probs)))
print(f"entropy of the next-token distribution: {entropy:.3f} (uniform over {VOCAB_SIZE}: {np.log(VOCAB_SIZE):.3f})")
assert entropy > 0.95 * np.log(VOCAB_SIZE), "an untrained model is almost uniformly unsure"

# %% [markdown]
# ## 4. Causality, proved by gradient
#
# The model is trained to predict token t+1 from tokens 0..t. If position t could see token
# t+1, it would learn to copy it, and the model would be useless for generating text. So we
# check causality directly: the output at position t must have *zero* gradient with respect to
# every input after t, and a non-zero one with respect to inputs up to t.
#
# To take gradients with respect to the inputs we need them as real-valued vectors, so we
# start from the token embeddings and run the rest of the model by hand, exactly as
# `Transformer.features` does (and first check that we really do compute the same logits).

# %%
T = 12
tokens_BT = jax.random.randint(jax.random.key(7), (1, T), 5, VOCAB_SIZE)
pos_BT = jnp.arange(T)[None]
mask_BTS = jnp.tril(jnp.ones((T, T), bool))[None]  # position t sees keys 0..t


def logits_from_embeddings(emb_BTD):
    h = emb_BTD
    for block in model.blocks:
        h, _ = block(h, pos_BT, mask_BTS, None, 0)
    return model.embed.attend(model.norm(h))


emb_BTD = model.embed(tokens_BT)
assert jnp.allclose(logits_from_embeddings(emb_BTD), model(tokens_BT)[0], atol=1e-5), "the by-hand forward is the model"


@jax.jit
def input_gradient(emb_BTD, t):
    """|d (sum of position t's logits) / d input at s| for every s: shape (T,)."""
    g_BTD = jax.grad(lambda e: jnp.sum(logits_from_embeddings(e)[0, t]))(emb_BTD)
    return jnp.abs(g_BTD[0]).sum(axis=-1)


influence_TS = np.stack([np.asarray(input_gradient(emb_BTD, t)) for t in range(T)])
future = influence_TS[np.triu_indices(T, k=1)]  # s > t
past = influence_TS[np.tril_indices(T)]  # s <= t
print(f"largest gradient from the future: {future.max()}; smallest from the past: {past.min():.2e}")
assert future.max() == 0.0, "the output at t does not depend on any input after t: exactly zero"
assert past.min() > 0.0, "and it does depend on every input up to t"

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.imshow(np.log10(influence_TS + 1e-12), cmap="viridis")
ax.set_xlabel("input position s"); ax.set_ylabel("output position t")
ax.set_title("log10 |gradient|: zero above the diagonal")
fig.tight_layout(); fig.savefig(OUT / "causality.png")
plt.show()

# %% [markdown]
# The plot is dark (zero, shown at 10⁻¹²) everywhere above the diagonal. Exactly zero, not
# merely small: the mask puts −10³⁰ into the softmax, whose weight underflows to 0, so no
# gradient can flow back from a future position.
#
# ## Exercises
#
# 1. (graded in assignment a2) Implement `rope(x_BTHK, pos_BT, base)` yourself and check both
#    properties above against `model_lib.rope`.
# 2. (graded in assignment a2) Write causal attention for one head in plain `jnp` (scores,
#    mask, softmax, weighted sum) and check it against `Attention` with a single head.
# 3. Remove the mask (replace `mask_BTS` by all `True`) in the gradient check. What does the
#    influence plot look like now, and why would such a model still train to a low loss?
# 4. Swap RMSNorm for LayerNorm (subtract the mean first). Which property check above changes?
#
# Next: [04 · Sampling](04_sampling.ipynb): turning next-token scores into text, fast, with a
# thinking budget.
