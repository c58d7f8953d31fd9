"""A decoder-only transformer in Flax NNX: RoPE, RMSNorm pre-norm, causal attention, SwiGLU.

Dimension letters, used in names and comments everywhere in the package:
    B batch   T time (query positions)   S key/cache positions   D model width
    H heads   K head dim                 F MLP hidden width       V vocabulary

The module holds parameters only. Everything that changes while sampling (the KV cache, the
write index, where each row's tokens start) is passed in and returned, so the hot path stays
pure and jit-friendly. Rows may be left-padded: `start_B` is the index of each row's first
real token; positions count from there and keys before it are masked out.

Each weight matrix says, where it is built, how it is split over a device mesh: `_sharded`
names the mesh axis of each of its dimensions (the rows of every kernel over "fsdp"). The
annotation is only a label here; minireason/mesh.py places the arrays by it. `by_rows` keeps
the activations split by rows between blocks. On one device neither changes anything.

Attention is computed one of two ways, which agree (`ModelConfig.attention`): "naive" writes
out softmax(QK^T / sqrt(K)) V with the mask, to be read; "dot_product" calls JAX's fused
`jax.nn.dot_product_attention` (XLA's kernel), and "cudnn" the same function with cuDNN's flash
attention (NVIDIA GPUs, bfloat16/float16). Each takes the same boolean mask, so packing, left
padding and the KV cache work with all of them.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from .mesh import by_rows
from .tokenizer import VOCAB_SIZE

ATTENTION = ("naive", "dot_product", "cudnn")


@dataclass(frozen=True)
class ModelConfig:
    d_model: int = 128  # D
    n_layers: int = 4
    n_heads: int = 4  # H; head dim K = D / H
    mlp_hidden: int = 384  # F
    rope_base: float = 10_000.0
    dtype: str = "float32"  # compute dtype; "bfloat16" on accelerators. Parameters stay float32.
    attention: str = "naive"  # "naive" (written out), "dot_product" (jax.nn.dot_product_attention) or "cudnn"
    vocab_size: int = VOCAB_SIZE  # V


# Per layer: (k_BHSK, v_BHSK). Heads before positions: a decode step reads each head's keys as one
# contiguous block: 2.4x the decode speed of (B, S, H, K) on a 2-core CPU (README, speed table).
Cache = tuple[tuple[jax.Array, jax.Array], ...]


def init_cache(cfg: ModelConfig, batch: int, length: int) -> Cache:
    shape = (batch, cfg.n_heads, length, cfg.d_model // cfg.n_heads)
    zeros = jnp.zeros(shape, jnp.dtype(cfg.dtype))
    return tuple((zeros, zeros) for _ in range(cfg.n_layers))


def rope(x_BTHK: jax.Array, pos_BT: jax.Array, base: float) -> jax.Array:
    """Rotary position embedding: rotate each pair of channels by an angle proportional to position."""
    half = x_BTHK.shape[-1] // 2
    freq_K = base ** (-jnp.arange(half) / half)
    angle_BTK = pos_BT[..., None].astype(jnp.float32) * freq_K
    sin, cos = jnp.sin(angle_BTK)[:, :, None, :], jnp.cos(angle_BTK)[:, :, None, :]
    x1, x2 = x_BTHK[..., :half].astype(jnp.float32), x_BTHK[..., half:].astype(jnp.float32)
    out = jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
    return out.astype(x_BTHK.dtype)


class RMSNorm(nnx.Module):
    def __init__(self, dim: int):
        self.scale = nnx.Param(jnp.ones((dim,)))

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        x32 = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + 1e-6)
        return (x32 * self.scale[...]).astype(x.dtype)


def _sharded(init, *axes: str | None):
    """`init`, labelled with the mesh axis each dimension is split over (None: not split). mesh.py places the
    arrays by these labels; eager_sharding=False keeps Flax from placing them itself, which needs a mesh."""
    return nnx.with_partitioning(init, axes, eager_sharding=False)


def _linear(d_in: int, d_out: int, cfg: ModelConfig, rngs: nnx.Rngs, scale: float = 1.0) -> nnx.Linear:
    init = _sharded(nnx.initializers.normal(scale / d_in**0.5), "fsdp", None)  # rows split over fsdp
    return nnx.Linear(d_in, d_out, use_bias=False, kernel_init=init, dtype=jnp.dtype(cfg.dtype), rngs=rngs)


class Attention(nnx.Module):
    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        self.qkv = _linear(cfg.d_model, 3 * cfg.d_model, cfg, rngs)
        self.out = _linear(cfg.d_model, cfg.d_model, cfg, rngs, scale=(2 * cfg.n_layers) ** -0.5)

    def __call__(self, x_BTD, pos_BT, mask_BTS, kv, index):
        B, T, D = x_BTD.shape
        H = self.cfg.n_heads
        qkv = self.qkv(x_BTD).reshape(B, T, 3 * H, D // H)
        # Queries and keys rotated in one call, not two: the same numbers, ~10% faster train step on CPU
        qk = rope(qkv[:, :, :2 * H], pos_BT, self.cfg.rope_base)
        q, k, v = qk[:, :, :H], qk[:, :, H:], qkv[:, :, 2 * H:]  # (B, T, H, K) each
        q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))  # (B, H, T, K)
        if kv is not None:  # write this call's keys/values into the cache, then attend over all of it
            k = jax.lax.dynamic_update_slice(kv[0], k.astype(kv[0].dtype), (0, 0, index, 0))
            v = jax.lax.dynamic_update_slice(kv[1], v.astype(kv[1].dtype), (0, 0, index, 0))
            kv = (k, v)
        if self.cfg.attention == "naive":
            scores_BHTS = jnp.einsum("bhtk,bhsk->bhts", q, k).astype(jnp.float32) / (D // H) ** 0.5
            scores_BHTS = jnp.where(mask_BTS[:, None], scores_BHTS, -1e30)
            probs_BHTS = jax.nn.softmax(scores_BHTS, axis=-1).astype(v.dtype)
            y_BTHK = jnp.einsum("bhts,bhsk->bthk", probs_BHTS, v)
        else:  # JAX's fused attention takes (B, T, H, K) and the same mask; it scales by 1 / sqrt(K) itself
            q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))
            y_BTHK = jax.nn.dot_product_attention(q, k, v, mask=mask_BTS[:, None],
                                                  implementation="cudnn" if self.cfg.attention == "cudnn" else None)
        return self.out(y_BTHK.reshape(B, T, D)), kv


class MLP(nnx.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.gate_up = _linear(cfg.d_model, 2 * cfg.mlp_hidden, cfg, rngs)
        self.down = _linear(cfg.mlp_hidden, cfg.d_model, cfg, rngs, scale=(2 * cfg.n_layers) ** -0.5)

    def __call__(self, x_BTD):
        gate_BTF, up_BTF = jnp.split(self.gate_up(x_BTD), 2, axis=-1)
        return self.down(jax.nn.silu(gate_BTF) * up_BTF)


class Block(nnx.Module):
    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.norm1, self.attn = RMSNorm(cfg.d_model), Attention(cfg, rngs)
        self.norm2, self.mlp = RMSNorm(cfg.d_model), MLP(cfg, rngs)

    def __call__(self, x_BTD, pos_BT, mask_BTS, kv, index):
        h, kv = self.attn(self.norm1(x_BTD), pos_BT, mask_BTS, kv, index)
        x_BTD = x_BTD + h
        return x_BTD + self.mlp(self.norm2(x_BTD)), kv


class Transformer(nnx.Module):
    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        # Not split: with V ~ 100 characters it is a sliver of the model, and split along D it made the
        # compiler gather the whole (B, T, D) gradient of the embedding output onto every device.
        self.embed = nnx.Embed(cfg.vocab_size, cfg.d_model, embedding_init=nnx.initializers.normal(0.02), rngs=rngs)
        self.blocks = nnx.List([Block(cfg, rngs) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.d_model)

    def features(self, tokens_BT, start_B=None, cache: Cache | None = None, index=0, segment_BT=None):
        """Final hidden states (B, T, D). With a cache, `tokens_BT` are written at `index`.

        `segment_BT` (training only) numbers the examples packed into each row: a token attends
        only to earlier tokens of its own example, and positions restart at each example's first
        token, so a packed example is computed exactly as it would be alone in its row.
        """
        B, T = tokens_BT.shape
        start_B = jnp.zeros((B,), jnp.int32) if start_B is None else start_B
        q_idx_T = index + jnp.arange(T)
        k_idx_S = jnp.arange(T if cache is None else cache[0][0].shape[2])
        causal_BTS = k_idx_S[None, None, :] <= q_idx_T[None, :, None]
        mask_BTS = causal_BTS & (k_idx_S[None, None, :] >= start_B[:, None, None])  # and not left padding
        pos_BT = jnp.maximum(q_idx_T[None, :] - start_B[:, None], 0)
        if segment_BT is not None:
            mask_BTS = causal_BTS & (segment_BT[:, :, None] == segment_BT[:, None, :])
            first_BT = jnp.concatenate([jnp.ones((B, 1), bool), segment_BT[:, 1:] != segment_BT[:, :-1]], axis=1)
            pos_BT = q_idx_T - jax.lax.cummax(jnp.where(first_BT, q_idx_T, 0), axis=1)  # since the example began
        x_BTD = by_rows(self.embed(tokens_BT).astype(jnp.dtype(self.cfg.dtype)))
        new_cache = []
        for i, block in enumerate(self.blocks):
            x_BTD, kv = block(x_BTD, pos_BT, mask_BTS, None if cache is None else cache[i], index)
            x_BTD = by_rows(x_BTD)
            new_cache.append(kv)
        return self.norm(x_BTD), (None if cache is None else tuple(new_cache))

    def __call__(self, tokens_BT, start_B=None, cache: Cache | None = None, index=0, segment_BT=None):
        """Next-token logits (B, T, V) in float32, and the updated cache (None without one)."""
        x_BTD, cache = self.features(tokens_BT, start_B, cache, index, segment_BT)
        logits_BTV = self.embed.attend(x_BTD).astype(jnp.float32)  # output weights tied to the embedding
        return logits_BTV, cache


def count_params(model: nnx.Module) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
