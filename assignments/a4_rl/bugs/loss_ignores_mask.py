"""The loss averages over every one of the N slots, padding after <eos> included."""

import jax.numpy as jnp


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low=0.2, clip_high=0.28, kl_beta=0.0, ref_logp_BN=None):
    ratio = jnp.exp(logp_BN - old_logp_BN)
    adv = jnp.asarray(adv_B)[:, None]
    per_token = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip_low, 1 + clip_high) * adv)
    if kl_beta > 0:
        d = ref_logp_BN - logp_BN
        per_token = per_token + kl_beta * (jnp.exp(d) - d - 1)
    return jnp.mean(per_token)
