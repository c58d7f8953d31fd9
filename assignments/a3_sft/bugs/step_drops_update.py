"""The step computes the update but returns the old parameters: the optimizer state moves, the model never does."""

import jax
import optax

from minireason.sft import sft_loss


def make_train_step(graphdef, tx):
    @jax.jit
    def train_step(params, opt_state, tokens_BT, mask_BT):
        loss, grads = jax.value_and_grad(sft_loss, argnums=1)(graphdef, params, tokens_BT, mask_BT)
        updates, opt_state = tx.update(grads, opt_state, params)
        optax.apply_updates(params, updates)
        return params, opt_state, loss

    return train_step
