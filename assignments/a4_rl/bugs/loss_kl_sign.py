"""The KL penalty is subtracted: the loss rewards moving away from the reference policy."""

import jax.numpy as jnp

from minireason import rl


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low=0.2, clip_high=0.28, kl_beta=0.0, ref_logp_BN=None):
    loss = rl.policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low, clip_high, 0.0)[0]
    if kl_beta > 0:
        kl = rl.kl_k3(jnp.where(mask_BN > 0, logp_BN, 0.0), jnp.where(mask_BN > 0, ref_logp_BN, 0.0))
        loss = loss - kl_beta * jnp.mean(jnp.sum(kl * mask_BN, 1) / jnp.maximum(jnp.sum(mask_BN, 1), 1.0))
    return loss
