"""Character vocabulary and the chain-of-thought format.

One training example is

    <bos> PROMPT <think> THINKING </think> ANSWER <eos>

and the loss covers everything after `<think>`: the model learns to think and answer, never
to predict the prompt. The no-think format for ablations keeps the same prompt and an empty
thought: `<bos> PROMPT <think></think> ANSWER <eos>`. Because every prompt ends with `<think>`,
one sampler serves both formats; the model decides how long to think.
"""

from collections.abc import Sequence

PAD, BOS, EOS, THINK, END_THINK = "<pad>", "<bos>", "<eos>", "<think>", "</think>"
SPECIALS = [PAD, BOS, EOS, THINK, END_THINK]
CHARS = [chr(c) for c in range(32, 127)]  # printable ASCII, space included
VOCAB = SPECIALS + CHARS
TOKEN_ID = {t: i for i, t in enumerate(VOCAB)}
PAD_ID, BOS_ID, EOS_ID, THINK_ID, END_THINK_ID = range(len(SPECIALS))
VOCAB_SIZE = len(VOCAB)


def encode(text: str) -> list[int]:
    """Plain characters only: a literal "<eos>" in the text is five characters, not a token."""
    ids = []
    for i, ch in enumerate(text):
        if ch not in TOKEN_ID or ch in SPECIALS:
            raise ValueError(f"character {ch!r} at position {i} of {text[:40]!r} is not in the vocabulary "
                             "(printable ASCII only: no newlines, tabs or non-ASCII)")
        ids.append(TOKEN_ID[ch])
    return ids


def decode(ids: Sequence[int]) -> str:
    """Special tokens are shown by name; padding is dropped."""
    return "".join(VOCAB[int(i)] for i in ids if int(i) != PAD_ID)


def prompt_ids(prompt: str) -> list[int]:
    """What the sampler is given: `<bos> PROMPT <think>`."""
    return [BOS_ID] + encode(prompt) + [THINK_ID]


def render(example, think: bool = True) -> tuple[list[int], list[int]]:
    """(ids, loss_mask) for one worked example; the mask is 1 on every token after the prompt."""
    head = prompt_ids(example.prompt)
    tail = (encode(example.thinking) if think else []) + [END_THINK_ID] + encode(example.answer) + [EOS_ID]
    return head + tail, [0] * len(head) + [1] * len(tail)


def parse_completion(completion: Sequence[int] | str) -> tuple[str, str, bool]:
    """Split what the model wrote after `<think>` into (thinking, answer, well_formed).

    Well formed means: exactly one `</think>`, then an `<eos>`; anything after `<eos>` is ignored.
    A string is read as `decode` writes it, so the markers are the literal token names.
    """
    if isinstance(completion, str):
        text = completion.split(EOS, 1)
        has_eos, body = len(text) == 2, text[0]
        parts = body.split(END_THINK)
        ok = has_eos and len(parts) == 2 and THINK not in body and BOS not in body
        return parts[0], (parts[1] if len(parts) > 1 else ""), ok
    ids = [int(i) for i in completion]
    has_eos = EOS_ID in ids
    body = ids[: ids.index(EOS_ID)] if has_eos else ids
    closes = [i for i, t in enumerate(body) if t == END_THINK_ID]
    ok = has_eos and len(closes) == 1 and THINK_ID not in body and BOS_ID not in body
    cut = closes[0] if closes else len(body)
    return decode(body[:cut]), decode(body[cut + 1:]), ok
