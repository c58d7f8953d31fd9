"""RoPE rotates neighbouring channels (2i, 2i+1) together instead of channel i with i + K/2."""

import jax.numpy as jnp


def rope(x_BTHK, pos_BT, base=10_000.0):
    half = x_BTHK.shape[-1] // 2
    freq = base ** (-jnp.arange(half) / half)
    angle = pos_BT[..., None].astype(jnp.float32) * freq
    sin, cos = jnp.sin(angle)[:, :, None, :], jnp.cos(angle)[:, :, None, :]
    x1, x2 = x_BTHK[..., 0::2].astype(jnp.float32), x_BTHK[..., 1::2].astype(jnp.float32)
    out = jnp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).reshape(x_BTHK.shape)
    return out.astype(x_BTHK.dtype)
