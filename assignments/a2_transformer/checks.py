"""Grader of assignment a2: the student's rope, mask, attention and cache dropped into minireason's transformer
(its weights, its layers) must give the package's numbers; cached greedy decoding must equal recomputing the
whole sequence; and a tiny model built from the student's pieces must learn to copy and decode it right."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from gradelib import Parts, close, require, show
from minireason.model import ModelConfig, Transformer, init_cache, rope as ref_rope
from minireason.tokenizer import BOS_ID, THINK_ID, TOKEN_ID

PARTS = Parts()
MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=2, mlp_hidden=64)
DIGITS = np.array([TOKEN_ID[str(d)] for d in range(10)])
N_COPY, STEPS = 5, 150  # the behaviour check copies 5 digits
P = N_COPY + 2  # its prompt: <bos> digits <think>


def forward(mod, graphdef, params, tokens_BT, start_B=None, cache=None, index=0):
    """minireason's Transformer.__call__ with the student's rope, causal_mask, attention and write_cache in it."""
    model = nnx.merge(graphdef, params)
    B, T = tokens_BT.shape
    H, D = model.cfg.n_heads, model.cfg.d_model
    start_B = jnp.zeros((B,), jnp.int32) if start_B is None else start_B
    S = T if cache is None else cache[0][0].shape[2]
    mask_BTS = mod.causal_mask(T, S, index, start_B)
    pos_BT = jnp.maximum(index + jnp.arange(T)[None, :] - start_B[:, None], 0)
    x_BTD, new_cache = model.embed(tokens_BT), []
    for i, block in enumerate(model.blocks):
        q, k, v = jnp.split(block.attn.qkv(block.norm1(x_BTD)).reshape(B, T, 3 * H, D // H), 3, axis=2)
        q, k = mod.rope(q, pos_BT, model.cfg.rope_base), mod.rope(k, pos_BT, model.cfg.rope_base)
        q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))  # (B, H, T, K)
        if cache is not None:
            k, v = mod.write_cache(cache[i][0], k, index), mod.write_cache(cache[i][1], v, index)
            new_cache.append((k, v))
        y_BHTK = mod.attention(q, k, v, mask_BTS)
        x_BTD = x_BTD + block.attn.out(y_BHTK.transpose(0, 2, 1, 3).reshape(B, T, D))
        x_BTD = x_BTD + block.mlp(block.norm2(x_BTD))
    return model.embed.attend(model.norm(x_BTD)), (None if cache is None else tuple(new_cache))


@functools.cache
def _model():
    return Transformer(MODEL, nnx.Rngs(0))


_jitted = {}


def _forward(mod):
    """`forward` with the student's functions, jitted once per graded module; weights are arguments, so the
    random model of the numeric checks and the trained one of the behaviour check share its compilations."""
    if mod not in _jitted:
        graphdef = nnx.graphdef(_model())
        _jitted[mod] = jax.jit(lambda p, t, s, c, i: forward(mod, graphdef, p, t, s, c, i))
    return _jitted[mod]


@functools.cache
def _ref_logits():
    """minireason's own forward pass, jitted once per process (its eager form compiles op by op: slow)."""
    model = _model()
    return jax.jit(lambda tokens_BT, start_B: model(tokens_BT, start_B)[0])


def _tokens(seed, B=2, T=9):
    return jax.random.randint(jax.random.key(seed), (B, T), 5, MODEL.vocab_size)


@PARTS("rope", 15, "rope: minireason's rotation (half-split pairs); norms kept; scores depend on relative position")
def rope(mod):
    x = np.random.default_rng(0).normal(size=(2, 4, 2, 8)).astype(np.float32)
    pos = np.array([[0, 1, 2, 7], [3, 3, 9, 100]], np.int32)
    close(mod.rope(x, pos, 10_000.0), ref_rope(x, pos, 10_000.0), "rope", "x of shape (2, 4, 2, 8), positions "
          f"{show(pos)}")
    tiny = np.array([[[[1.0, 2.0, 3.0, 4.0]]]], np.float32)
    close(mod.rope(tiny, np.array([[1]]), 10_000.0), ref_rope(tiny, np.array([[1]]), 10_000.0), "rope",
          "x = [1, 2, 3, 4] at position 1 (pairs are (x0, x2) and (x1, x3))")
    close(mod.rope(x, np.zeros((2, 4), np.int32), 10_000.0), x, "rope at position 0 must change nothing", "x random")
    close(np.linalg.norm(np.asarray(mod.rope(x, pos, 10_000.0)), axis=-1), np.linalg.norm(x, axis=-1),
          "rope must keep each head vector's norm (it is a rotation)", "x random")
    q, k = x[:1, :1], x[1:, :1]
    score = lambda m, n: float(np.sum(np.asarray(mod.rope(q, np.array([[m]]), 1e4)) *
                                      np.asarray(mod.rope(k, np.array([[n]]), 1e4))))
    close(score(7, 3), score(24, 20), "q.k after rope must depend only on the distance between positions",
          "positions (7, 3) and (24, 20)")


@PARTS("causal_mask", 10, "causal_mask: no attention to the future, nor to left padding; offset by the cache index")
def causal_mask(mod):
    for T, S, index, start in [(4, 4, 0, [0, 2]), (1, 6, 3, [0, 1]), (2, 6, 4, [2, 0])]:
        q, k = index + np.arange(T), np.arange(S)
        want = (k[None, None] <= q[None, :, None]) & (k[None, None] >= np.array(start)[:, None, None])
        got = np.asarray(mod.causal_mask(T, S, index, jnp.array(start)))
        require(got.shape == want.shape and got.dtype == bool and (got == want).all(),
                f"causal_mask(T={T}, S={S}, index={index}, start_B={start}): expected\n{want.astype(int)}\ngot\n"
                f"{got.astype(int) if got.dtype == bool else got}")


@PARTS("attention", 15, "attention: scaled dot-product attention with the mask, equal to jax.nn.dot_product_attention")
def attention(mod):
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 2, 3, 4)).astype(np.float32) for _ in range(3))
    mask = np.tril(np.ones((3, 3), bool))[None].repeat(2, 0)
    mask[1, :, 0] = False  # row 1 is left-padded by one
    want = jax.nn.dot_product_attention(*(a.transpose(0, 2, 1, 3) for a in (q, k, v)), mask=mask[:, None])
    close(mod.attention(q, k, v, mask), want.transpose(0, 2, 1, 3), "attention", "q, k, v of shape (2, 2, 3, 4), a "
          f"causal mask, row 1 left-padded by one:\n{mask.astype(int)}")
    out = np.asarray(mod.attention(q, k, v, np.zeros_like(mask)))
    require(np.isfinite(out).all(), "attention with every key masked (a padding query) must stay finite: use -1e30, "
                                    "not -inf, for masked scores")


@PARTS("full_forward", 10, "your rope, mask and attention inside minireason's transformer give its logits, padding too")
def full_forward(mod):
    params, x, zeros = nnx.state(_model()), _tokens(1), jnp.zeros(2, jnp.int32)
    close(_forward(mod)(params, x, zeros, None, 0)[0], _ref_logits()(x, zeros), "logits of the transformer built with "
          "your functions (minireason's weights)", "2 rows of 9 random tokens", rtol=1e-3, atol=1e-4)
    padded = jnp.concatenate([jnp.zeros((2, 3), jnp.int32), x[:, :6]], axis=1)
    close(_forward(mod)(params, padded, jnp.array([3, 3]), None, 0)[0][:, 3:], _ref_logits()(x[:, :6], zeros),
          "logits of a left-padded row (3 pads) at its real tokens must equal the unpadded row's", "random tokens",
          rtol=1e-3, atol=1e-4)


@PARTS("kv_cache", 15, "write_cache: prefill then one token at a time with the cache equals the full forward")
def kv_cache(mod):
    cache = np.zeros((1, 1, 5, 2), np.float32)
    new = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 2, 2)
    want = np.asarray(cache).copy()
    want[:, :, 2:4] = new
    close(jax.jit(mod.write_cache)(cache, new, 2), want, "write_cache", f"an empty cache of 5 positions, new = "
          f"{show(new[0, 0])} written at index 2 (under jit, so index is traced)")
    # the shapes of the behaviour check's decoding (B = 32, prompt 7, 5 new tokens), so it reuses these compilations
    params, x, zeros = nnx.state(_model()), _tokens(3, B=32, T=P + N_COPY), jnp.zeros(32, jnp.int32)
    logits, c = _forward(mod)(params, x[:, :P], zeros, init_cache(MODEL, 32, P + N_COPY), 0)
    pieces = [logits]
    for t in range(P, P + N_COPY - 1):
        logits, c = _forward(mod)(params, x[:, t:t + 1], zeros, c, t)
        pieces.append(logits)
    close(jnp.concatenate(pieces, axis=1), _ref_logits()(x[:, :-1], zeros), f"logits of a {P}-token prefill then "
          f"{N_COPY - 1} cached one-token steps (your functions) against minireason's full forward",
          f"32 rows of {P + N_COPY - 1} random tokens", rtol=1e-3, atol=1e-4)


def _naive_greedy(prompt_BP, n_new):
    """The whole sequence recomputed for every token (one buffer of fixed length: the model is causal)."""
    B, P = prompt_BP.shape
    buf, start = jnp.concatenate([prompt_BP, jnp.zeros((B, n_new), jnp.int32)], axis=1), jnp.zeros(B, jnp.int32)
    for t in range(n_new):
        buf = buf.at[:, P + t].set(jnp.argmax(_ref_logits()(buf, start)[:, P + t - 1], -1))
    return buf[:, P:]


@PARTS("greedy_decode", 15, "greedy_decode with a cache equals recomputing the whole sequence for every token")
def greedy_decode(mod):
    model = _model()
    fwd = jax.jit(lambda t, c, i: model(t, None, c, i))
    prompt = _tokens(4, B=2, T=5)
    got = np.asarray(mod.greedy_decode(fwd, lambda B, S: init_cache(MODEL, B, S), prompt, 6))
    want = np.asarray(_naive_greedy(prompt, 6))
    require(got.shape == want.shape and (got == want).all(), f"greedy_decode (minireason's model as forward) of 2 "
            f"random prompts of 5 tokens, 6 new tokens: expected {want.tolist()} (no cache, whole sequence each "
            f"step), got {got.tolist()}")


# --- behaviour: build a tiny model from the student's pieces, train it to copy 5 digits, decode with the cache ---



def _copy_batch(rng, B):
    d = DIGITS[rng.integers(0, 10, (B, N_COPY))]
    return np.concatenate([np.full((B, 1), BOS_ID), d, np.full((B, 1), THINK_ID), d], axis=1).astype(np.int32)


@PARTS("behaviour_copy", 20, "a tiny transformer made of your functions learns to copy digits; your cached decoding "
       "reads the copies back", timeout=120)
def behaviour_copy(mod):
    graphdef, params = nnx.split(Transformer(MODEL, nnx.Rngs(1)))
    tx = optax.adam(1e-2)

    def loss_fn(p, tokens):
        logits, _ = forward(mod, graphdef, p, tokens[:, :-1])
        logp = jax.nn.log_softmax(logits[:, P - 1:])
        return -jnp.mean(jnp.take_along_axis(logp, tokens[:, P:, None], axis=-1))

    @jax.jit
    def train(p, o, tokens):
        loss, g = jax.value_and_grad(loss_fn)(p, tokens)
        u, o = tx.update(g, o)
        return optax.apply_updates(p, u), o, loss

    rng, opt_state = np.random.default_rng(0), tx.init(params)
    for _ in range(STEPS):
        params, opt_state, loss = train(params, opt_state, _copy_batch(rng, 32))
    test, zeros = _copy_batch(np.random.default_rng(1), 32), jnp.zeros(32, jnp.int32)
    fwd = lambda t, c, i: _forward(mod)(params, t, zeros, c, i)
    got = np.asarray(mod.greedy_decode(fwd, lambda B, S: init_cache(MODEL, B, S), test[:, :P], N_COPY))
    acc = float(np.mean(np.all(got == test[:, P:], axis=1)))
    require(acc >= 0.9, f"a tiny transformer built from your functions, trained {STEPS} steps to copy 5 digits "
                        f"(<bos> 3 8 1 7 2 <think> 3 8 1 7 2), then decoded with your greedy_decode and cache, should "
                        f"copy at least 90% of 32 new strings exactly (the reference: 100%); it copied {acc:.0%} "
                        f"(final training loss {float(loss):.3f}; a loss near 0 with bad copies means training could "
                        f"see the future). E.g. {test[0, 1:P - 1] - DIGITS[0]} -> {got[0] - DIGITS[0]}")
