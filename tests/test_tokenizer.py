import pytest
from hypothesis import given, strategies as st

from minireason.tasks import Example
from minireason.tokenizer import (CHARS, EOS_ID, END_THINK_ID, THINK_ID, decode, encode, parse_completion,
                                  prompt_ids, render)

printable = st.text(alphabet=CHARS, max_size=60)
no_markers = st.text(alphabet=[c for c in CHARS if c != "<"], max_size=60)  # the text form can't tell "<eos>" typed from the token


@given(printable)
def test_round_trip(text):
    assert decode(encode(text)) == text


def test_special_token_names_are_plain_text_in_prompts():
    assert len(encode("<eos>")) == 5


def test_out_of_vocabulary_names_the_character():
    with pytest.raises(ValueError, match="'\\\\n' at position 3"):
        encode("1+2\n")


def test_render_masks_the_prompt_only():
    ex = Example("12+3=", "2+3+0=05 5,1+0+0=01 15", "15")
    ids, mask = render(ex)
    n_prompt = len(prompt_ids(ex.prompt))
    assert ids[n_prompt - 1] == THINK_ID
    assert mask[:n_prompt] == [0] * n_prompt
    assert all(mask[n_prompt:])
    assert ids[-1] == EOS_ID
    assert decode(ids) == "<bos>12+3=<think>2+3+0=05 5,1+0+0=01 15</think>15<eos>"


def test_no_think_format():
    ids, mask = render(Example("1+1=", "1+1+0=02 2", "2"), think=False)
    assert decode(ids) == "<bos>1+1=<think></think>2<eos>"
    assert sum(mask) == 3  # </think>, the answer, <eos>


@given(no_markers, no_markers)
def test_parse_completion_ids_and_text_agree(thinking, answer):
    ids = encode(thinking) + [END_THINK_ID] + encode(answer) + [EOS_ID]
    assert parse_completion(ids) == (thinking, answer, True)
    assert parse_completion(decode(ids)) == (thinking, answer, True)


@pytest.mark.parametrize("ids", [
    encode("12") + [END_THINK_ID] + encode("3"),  # no <eos>: truncated
    encode("12") + encode("3") + [EOS_ID],  # no </think>
    encode("1") + [END_THINK_ID] + encode("2") + [END_THINK_ID] + encode("3") + [EOS_ID],  # two </think>
])
def test_malformed_completions(ids):
    assert parse_completion(ids)[2] is False


def test_text_after_eos_is_ignored():
    assert parse_completion(encode("a") + [END_THINK_ID] + encode("7") + [EOS_ID] + encode("junk")) == ("a", "7", True)
