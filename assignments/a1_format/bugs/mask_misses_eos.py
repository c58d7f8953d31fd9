"""The loss mask is 0 on <eos>: the model is never taught to stop."""

from minireason.tokenizer import render as _render


def render(example, think=True):
    ids, mask = _render(example, think)
    return ids, mask[:-1] + [0]
