"""The ratio is p_old / p_new (exp(old_logp - logp)) instead of p_new / p_old."""

import jax.numpy as jnp

from minireason import rl


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low=0.2, clip_high=0.28, kl_beta=0.0, ref_logp_BN=None):
    on = mask_BN > 0
    flipped = jnp.where(on, 2 * old_logp_BN - logp_BN, 0.0)  # logp' - old = old - logp
    return rl.policy_loss(flipped, jnp.where(on, old_logp_BN, 0.0), adv_B, mask_BN, clip_low, clip_high, 0.0)[0] + (
        0.0 if kl_beta <= 0 else kl_beta * rl.policy_loss(logp_BN, logp_BN, jnp.zeros_like(adv_B), mask_BN, kl_beta=1.0,
                                                          ref_logp_BN=ref_logp_BN)[0])
