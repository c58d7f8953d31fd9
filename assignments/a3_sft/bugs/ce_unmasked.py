"""The cross-entropy ignores the mask: the prompt and the padding are targets too."""

import jax
import jax.numpy as jnp


def masked_ce(logits_BTV, targets_BT, mask_BT):
    logp = jax.nn.log_softmax(logits_BTV)
    return -jnp.mean(jnp.take_along_axis(logp, targets_BT[..., None], axis=-1))
