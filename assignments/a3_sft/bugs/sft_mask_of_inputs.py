"""The mask is taken at the inputs (mask[:, :-1]), one step early: <think> -> first thought token is skipped
and the token after <eos> is a target."""

from flax import nnx

from minireason.sft import masked_ce


def sft_loss(graphdef, params, tokens_BT, mask_BT):
    logits_BTV, _ = nnx.merge(graphdef, params)(tokens_BT[:, :-1])
    return masked_ce(logits_BTV, tokens_BT[:, 1:], mask_BT[:, :-1])
