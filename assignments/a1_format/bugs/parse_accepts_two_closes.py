"""A completion counts as well formed with one or more </think> (it must be exactly one)."""

from minireason.tokenizer import BOS_ID, END_THINK_ID, EOS_ID, THINK_ID, decode


def parse_completion(ids):
    ids = list(ids)
    has_eos = EOS_ID in ids
    body = ids[:ids.index(EOS_ID)] if has_eos else ids
    cut = body.index(END_THINK_ID) if END_THINK_ID in body else len(body)
    ok = has_eos and END_THINK_ID in body and THINK_ID not in body and BOS_ID not in body
    return decode(body[:cut]), decode(body[cut + 1:]), ok
