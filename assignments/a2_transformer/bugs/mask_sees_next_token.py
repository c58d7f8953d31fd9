"""The causal mask is off by one: query t also sees key t + 1 (the token it is trained to predict)."""

import jax.numpy as jnp


def causal_mask(T, S, index, start_B):
    q_T, k_S = index + jnp.arange(T), jnp.arange(S)
    return (k_S[None, None, :] <= q_T[None, :, None] + 1) & (k_S[None, None, :] >= jnp.asarray(start_B)[:, None, None])
