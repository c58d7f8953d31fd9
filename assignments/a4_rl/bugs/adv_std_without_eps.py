"""GRPO advantages divide by the std without eps and without a flat-group case: NaN when all rewards are equal."""

import jax.numpy as jnp


def group_advantages(rewards_BG, mode="grpo", eps=1e-6):
    r = jnp.asarray(rewards_BG, jnp.float32)
    adv = r - r.mean(axis=1, keepdims=True)
    return adv / r.std(axis=1, keepdims=True) if mode == "grpo" else adv
