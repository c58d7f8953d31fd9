"""A completion that never wrote <eos> (cut off at the length cap) counts as well formed."""

from minireason.tokenizer import BOS_ID, END_THINK_ID, EOS_ID, THINK_ID, decode


def parse_completion(ids):
    ids = list(ids)
    body = ids[:ids.index(EOS_ID)] if EOS_ID in ids else ids
    closes = [i for i, t in enumerate(body) if t == END_THINK_ID]
    cut = closes[0] if closes else len(body)
    ok = len(closes) == 1 and THINK_ID not in body and BOS_ID not in body
    return decode(body[:cut]), decode(body[cut + 1:]), ok
