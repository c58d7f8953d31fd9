"""The update is subtracted (params - updates), but optax updates already point downhill: gradient ascent."""

import jax

from minireason.sft import sft_loss


def make_train_step(graphdef, tx):
    @jax.jit
    def train_step(params, opt_state, tokens_BT, mask_BT):
        loss, grads = jax.value_and_grad(sft_loss, argnums=1)(graphdef, params, tokens_BT, mask_BT)
        updates, opt_state = tx.update(grads, opt_state, params)
        return jax.tree.map(lambda p, u: p - u, params, updates), opt_state, loss

    return train_step
