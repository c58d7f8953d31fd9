"""The 'log-probability' is the raw logit: no log_softmax, so the loss is unbounded below."""

import jax.numpy as jnp


def masked_ce(logits_BTV, targets_BT, mask_BT):
    nll = -jnp.take_along_axis(logits_BTV, targets_BT[..., None], axis=-1)[..., 0]
    return jnp.sum(nll * mask_BT) / jnp.maximum(jnp.sum(mask_BT), 1.0)
