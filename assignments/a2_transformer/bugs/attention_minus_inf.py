"""Masked scores are -inf: a padding query with every key masked gives NaN, and the NaN spreads."""

import jax
import jax.numpy as jnp


def attention(q_BHTK, k_BHSK, v_BHSK, mask_BTS):
    scores = jnp.einsum("bhtk,bhsk->bhts", q_BHTK, k_BHSK) / q_BHTK.shape[-1] ** 0.5
    scores = jnp.where(mask_BTS[:, None], scores, -jnp.inf)
    return jnp.einsum("bhts,bhsk->bhtk", jax.nn.softmax(scores, axis=-1), v_BHSK)
