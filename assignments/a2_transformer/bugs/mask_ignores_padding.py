"""The mask is causal but forgets left padding: real tokens attend to the pad tokens before them."""

import jax.numpy as jnp


def causal_mask(T, S, index, start_B):
    q_T, k_S = index + jnp.arange(T), jnp.arange(S)
    return jnp.broadcast_to(k_S[None, None, :] <= q_T[None, :, None], (len(start_B), T, S))
