"""Attention scores are not divided by sqrt(K)."""

import jax
import jax.numpy as jnp


def attention(q_BHTK, k_BHSK, v_BHSK, mask_BTS):
    scores = jnp.where(mask_BTS[:, None], jnp.einsum("bhtk,bhsk->bhts", q_BHTK, k_BHSK), -1e30)
    return jnp.einsum("bhts,bhsk->bhtk", jax.nn.softmax(scores, axis=-1), v_BHSK)
