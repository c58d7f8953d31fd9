"""The masked sum is divided by every position (B * T), not by the number of masked ones."""

import jax
import jax.numpy as jnp


def masked_ce(logits_BTV, targets_BT, mask_BT):
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits_BTV), targets_BT[..., None], axis=-1)[..., 0]
    return jnp.sum(nll * mask_BT) / mask_BT.size
