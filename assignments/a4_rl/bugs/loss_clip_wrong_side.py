"""The surrogate takes max() instead of min(): the clip never stops a token that has moved far enough."""

import jax.numpy as jnp

from minireason.rl import kl_k3


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low=0.2, clip_high=0.28, kl_beta=0.0, ref_logp_BN=None):
    ratio = jnp.exp(jnp.where(mask_BN > 0, logp_BN - old_logp_BN, 0.0))
    adv = jnp.asarray(adv_B)[:, None]
    per_token = -jnp.maximum(ratio * adv, jnp.clip(ratio, 1 - clip_low, 1 + clip_high) * adv)
    if kl_beta > 0:
        on = mask_BN > 0
        per_token = per_token + kl_beta * kl_k3(jnp.where(on, logp_BN, 0.0), jnp.where(on, ref_logp_BN, 0.0))
    return jnp.mean(jnp.sum(per_token * mask_BN, 1) / jnp.maximum(jnp.sum(mask_BN, 1), 1.0))
