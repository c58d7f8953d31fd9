import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from conftest import TINY_MODEL as CFG
from minireason.model import Transformer, init_cache
from minireason.tokenizer import END_THINK_ID, EOS_ID
from minireason.sampler import SampleConfig, pad_prompts, sample, sample_naive



def model():
    return Transformer(CFG, nnx.Rngs(0))


def test_shapes_and_finite():
    logits, cache = model()(jnp.ones((3, 11), jnp.int32))
    assert logits.shape == (3, 11, CFG.vocab_size)
    assert cache is None
    assert bool(jnp.all(jnp.isfinite(logits)))


def test_causal_no_gradient_from_the_future():
    """The loss at position t must not depend on inputs after t."""
    m = model()
    x = jax.random.randint(jax.random.key(1), (2, 12), 5, CFG.vocab_size)
    emb = m.embed(x)
    t = 5

    def loss_at_t(emb_BTD):
        h = emb_BTD
        pos = jnp.broadcast_to(jnp.arange(12), (2, 12))
        mask = jnp.tril(jnp.ones((12, 12), bool))[None].repeat(2, 0)
        for block in m.blocks:
            h, _ = block(h, pos, mask, None, 0)
        return jnp.sum(m.embed.attend(m.norm(h))[:, t])

    g = jax.grad(loss_at_t)(emb)
    assert float(jnp.abs(g[:, t + 1:]).max()) == 0.0
    assert float(jnp.abs(g[:, :t + 1]).max()) > 0.0


def test_causal_through_full_model():
    m = model()
    x = jax.random.randint(jax.random.key(2), (1, 10), 5, CFG.vocab_size)
    y = x.at[:, 7:].set(9)
    a, _ = m(x)
    b, _ = m(y)
    np.testing.assert_allclose(a[:, :7], b[:, :7], atol=1e-5)
    assert float(jnp.abs(a[:, 7:] - b[:, 7:]).max()) > 1e-4


def test_cached_decode_matches_full_forward():
    m = model()
    x = jax.random.randint(jax.random.key(3), (2, 9), 5, CFG.vocab_size)
    full, _ = m(x)
    cache = init_cache(CFG, 2, 16)
    first, cache = m(x[:, :5], cache=cache, index=0)  # prefill five tokens
    steps = [first]
    for t in range(5, 9):  # then one token at a time
        out, cache = m(x[:, t:t + 1], cache=cache, index=t)
        steps.append(out)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), full, atol=1e-4)


def test_left_padding_does_not_change_a_row():
    m = model()
    x = jax.random.randint(jax.random.key(4), (1, 6), 5, CFG.vocab_size)
    padded = jnp.concatenate([jnp.zeros((1, 3), jnp.int32), x], axis=1)
    a, _ = m(x)
    b, _ = m(padded, start_B=jnp.array([3]))
    np.testing.assert_allclose(a, b[:, 3:], atol=1e-4)


def test_sampler_cached_equals_naive_and_is_batch_independent():
    g, p = nnx.split(model())
    tokens, start = pad_prompts(["1+2=", "123+456=", "9*9="])
    cfg = SampleConfig(max_new=20)
    fast = sample(g, p, tokens, start, jax.random.key(0), cfg)
    slow = sample_naive(g, p, tokens, start, cfg)
    np.testing.assert_array_equal(fast["tokens"], slow["tokens"])
    one_t, one_s = pad_prompts(["123+456="])
    alone = sample(g, p, one_t, one_s, jax.random.key(0), cfg)
    np.testing.assert_array_equal(alone["tokens"][0], fast["tokens"][1])


def test_thinking_budget_is_never_exceeded():
    g, p = nnx.split(model())
    tokens, start = pad_prompts(["1+2="] * 8)
    for budget in (0, 3, 7):
        out = sample(g, p, tokens, start, jax.random.key(1), SampleConfig(max_new=24, temperature=1.0, max_thinking=budget))
        assert int(out["thinking_tokens"].max()) <= budget
        for row in np.asarray(out["tokens"]).tolist():  # </think> comes at the budget, unless <eos> came first
            head = row[:budget + 1]
            assert END_THINK_ID in head or EOS_ID in head[:head.index(END_THINK_ID) if END_THINK_ID in head else None]


def test_sampling_options_run_and_respect_top_k():
    g, p = nnx.split(model())
    tokens, start = pad_prompts(["1+2="] * 4)
    out = sample(g, p, tokens, start, jax.random.key(2), SampleConfig(max_new=8, temperature=1.0, top_k=1))
    greedy = sample(g, p, tokens, start, jax.random.key(3), SampleConfig(max_new=8))
    np.testing.assert_array_equal(out["tokens"], greedy["tokens"])  # top-k=1 is greedy
    out = sample(g, p, tokens, start, jax.random.key(2), SampleConfig(max_new=8, temperature=0.7, top_p=0.9))
    assert bool(jnp.all(jnp.isfinite(out["logprobs"])))


def test_bfloat16_compute_stays_close_to_float32():
    import dataclasses

    x = jax.random.randint(jax.random.key(5), (2, 10), 5, CFG.vocab_size)
    a, _ = model()(x)
    b, _ = Transformer(dataclasses.replace(CFG, dtype="bfloat16"), nnx.Rngs(0))(x)
    assert b.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(b)))
    assert float(jnp.abs(a - b).max()) < 0.1 * float(jnp.abs(a).max()) + 0.05


def test_dot_product_attention_matches_the_naive_path():
    """jax.nn.dot_product_attention (model.attention) takes the same masks: packed, left-padded, with a KV cache."""
    import dataclasses

    x = jax.random.randint(jax.random.key(6), (2, 12), 5, CFG.vocab_size)
    segment, start = jnp.array([[1] * 5 + [2] * 7, [1] * 9 + [0] * 3]), jnp.array([0, 4])

    @nnx.jit  # one compile per model, not one per operation
    def logits(m):
        out, cache = m(x[:, :8], start, init_cache(CFG, 2, 12))  # prefill 8 tokens, then decode 4 one by one
        steps = [out]
        for t in range(8, 12):
            out, cache = m(x[:, t:t + 1], start, cache, t)
            steps.append(out)
        return m(x)[0], m(x, segment_BT=segment)[0], m(x, start)[0], jnp.concatenate(steps, axis=1)

    naive = logits(model())
    fused = logits(Transformer(dataclasses.replace(CFG, attention="dot_product"), nnx.Rngs(0)))
    for name, a, b in zip(("plain", "packed", "left-padded", "cached"), naive, fused):
        np.testing.assert_allclose(b, a, atol=1e-5, err_msg=name)
