"""The loss mask starts one token early: <think>, the last prompt token, is a target too (loss on the prompt)."""

from minireason.tokenizer import render as _render


def render(example, think=True):
    ids, mask = _render(example, think)
    start = mask.index(1)
    return ids, mask[:start - 1] + [1] * (len(mask) - start + 1)
