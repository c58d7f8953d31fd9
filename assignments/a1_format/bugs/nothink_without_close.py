"""The no-think format leaves out </think>: <bos> PROMPT <think> ANSWER <eos>."""

from minireason.tokenizer import BOS_ID, END_THINK_ID, EOS_ID, THINK_ID, encode


def render(example, think=True):
    head = [BOS_ID] + encode(example.prompt) + [THINK_ID]
    tail = (encode(example.thinking) + [END_THINK_ID] if think else []) + encode(example.answer) + [EOS_ID]
    return head + tail, [0] * len(head) + [1] * len(tail)
