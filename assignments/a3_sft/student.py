"""Assignment a3: supervised fine-tuning. Fill in every function that raises NotImplementedError.

Read README.md next to this file first. Grade yourself with `python assignments/grade.py a3`.
Use jax.numpy (`jnp`): the grader differentiates and jit-compiles your functions.
Dimension letters: B batch, T time, V vocabulary.
"""

import jax
import jax.numpy as jnp
import optax
from flax import nnx


def masked_ce(logits_BTV, targets_BT, mask_BT):
    """Mean negative log-likelihood of the targets over the positions where mask is 1.

    logits_BTV: (B, T, V) float, unnormalised scores of the next token at each position
    targets_BT: (B, T) int, the token that should come next
    mask_BT:    (B, T) float, 1.0 where the position counts, 0.0 where it does not
    Returns a scalar: sum over positions of mask * (-log softmax(logits)[target]) / sum of mask
    (divide by max(sum of mask, 1) so an all-zero mask gives 0, not NaN).
    """
    raise NotImplementedError


def sft_loss(graphdef, params, tokens_BT, mask_BT):
    """The SFT loss of a batch: predict token t + 1 from tokens 0..t, counted where the target's mask is 1.

    graphdef, params: the model split by `nnx.split(model)`; `nnx.merge(graphdef, params)` rebuilds it, and
                      `model(x_BT)` returns (logits_BTV, cache) (use the logits; the cache is None).
    tokens_BT: (B, T) int, rows as minireason's `render` makes them, right-padded
    mask_BT:   (B, T) float, render's loss mask: 1 on the tokens the model must learn to write
    Returns a scalar (use masked_ce).
    """
    raise NotImplementedError


def make_train_step(graphdef, tx):
    """A jitted function train_step(params, opt_state, tokens_BT, mask_BT) -> (params, opt_state, loss).

    tx: an optax GradientTransformation. One step: the loss and its gradient with respect to params
    (jax.value_and_grad of sft_loss), then tx.update and optax.apply_updates. `loss` is the loss
    before the update.
    """
    raise NotImplementedError
