"""No shift: position t is trained to predict token t itself, which it can see (it learns to copy)."""

from flax import nnx

from minireason.sft import masked_ce


def sft_loss(graphdef, params, tokens_BT, mask_BT):
    logits_BTV, _ = nnx.merge(graphdef, params)(tokens_BT)
    return masked_ce(logits_BTV, tokens_BT, mask_BT)
