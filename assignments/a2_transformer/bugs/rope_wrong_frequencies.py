"""RoPE's frequencies use exponent -i/K instead of -i/(K/2): the slowest pair turns far too fast."""

import jax.numpy as jnp


def rope(x_BTHK, pos_BT, base=10_000.0):
    half = x_BTHK.shape[-1] // 2
    freq = base ** (-jnp.arange(half) / x_BTHK.shape[-1])
    angle = pos_BT[..., None].astype(jnp.float32) * freq
    sin, cos = jnp.sin(angle)[:, :, None, :], jnp.cos(angle)[:, :, None, :]
    x1, x2 = x_BTHK[..., :half].astype(jnp.float32), x_BTHK[..., half:].astype(jnp.float32)
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).astype(x_BTHK.dtype)
