"""The cipher task: the scorer decodes exactly what an independent reference decodes (and refuses what has
no one answer), the generator draws what people try at every level, and the trace holds step by step.

The reference below shares no code with the task: it finds the shift by trying all 26, and builds a
substitution with `str.maketrans`.
"""

import functools
import random
import re
import string

import pytest
from hypothesis import given, settings, strategies as st

from minireason.tasks import TASKS, cipher
from minireason.tasks.count import WORDS
from minireason.tokenizer import render

LETTERS = string.ascii_lowercase
SHIFTED = [LETTERS[k:] + LETTERS[:k] for k in range(26)]  # plain letter i -> SHIFTED[k][i]
N = 600


def reference(prompt: str) -> str | None:
    """The decoded message, or None for a prompt that is malformed or has no one answer."""
    m = re.fullmatch(r"decode: ([a-z]+(?: [a-z]+)*)=([a-z]+(?: [a-z]+)*); ([a-z]+(?: [a-z]+)*)", prompt)
    if not m or len(prompt) > cipher.MAX_PROMPT:
        return None
    code, plain, message = m.groups()
    if len(code) != len(plain) or any((a == " ") != (b == " ") for a, b in zip(code, plain)):
        return None
    pairs = set(zip(code, plain))
    if not len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}):  # one-to-one
        return None
    shifts = [k for k in range(26) if plain.translate(str.maketrans(LETTERS, SHIFTED[k])) == code]
    if shifts:
        return message.translate(str.maketrans(SHIFTED[shifts[0]], LETTERS))
    if not set(message) <= set(code + " "):
        return None
    return message.translate(str.maketrans(code, plain))


@functools.cache
def draws(level: int) -> tuple:
    rng = random.Random(f"test_cipher/{level}")
    return tuple(cipher.generate(rng, level) for _ in range(N))


def parts(prompt: str) -> tuple[str, str, str]:
    return cipher.PROMPT.fullmatch(prompt).groups()


def share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


def is_shift(prompt: str) -> bool:
    code, plain, _ = parts(prompt)
    return any(plain.translate(str.maketrans(LETTERS, s)) == code for s in SHIFTED)


def covered(prompt: str) -> bool:
    """Every letter of the message is in the example."""
    code, _, message = parts(prompt)
    return set(message) <= set(code + " ")


# --- the scorer -----------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt,answer", [
    ("decode: ifmmp=hello; xpsme", "world"),
    ("decode: ifmmp=hello; jgnnq", "ifmmp"),
    ("decode: khoor=hello; zruog", "world"),  # Caesar's shift of 3
    ("decode: uryyb=hello; jbeyq", "world"),  # rot13
    ("decode: gdkkn=hello; vnqkc", "world"),  # 25: one place back
    ("decode: hello=hello; world", "world"),  # 0
    ("decode: d=a; khoor zruog", "hello world"),  # one letter is example enough for a shift
    ("decode: a=z; a b z", "z a y"),  # the alphabet wraps around
    ("decode: zyx=abc; xyz", "cba"),  # atbash is no shift: every letter of the message is in the example
    ("decode: qwe rty=abc def; ewq y", "cba f"),
    ("decode: qwe rty=abc def; qqq", "aaa"),
])
def test_right_answers_score_and_others_do_not(prompt, answer):
    assert reference(prompt) == answer
    assert cipher.score(prompt, answer) == 1.0
    assert cipher.score(prompt, f"  {answer} ") == 1.0
    for wrong in [answer.upper(), answer + "a", answer[:-1], answer.replace(" ", ""), answer.replace(" ", "  "),
                  " ".join(answer), answer + ".", "", f"{answer}\n", answer[::-1] if answer != answer[::-1] else "x"]:
        if wrong.strip(" ") != answer:
            assert cipher.score(prompt, wrong) == 0.0, wrong


@pytest.mark.parametrize("prompt", [
    "decode: qwe rty=abc def; ewz",  # substitution, and z is not in the example
    "decode: abc de=abcd e; a",  # word lengths differ
    "decode: aa=bc; a", "decode: ab=cc; a",  # a letter enciphered two ways; two letters as one
    "decode: ifmmp=hello; xpsme ", "decode: ifmmp=hello;  xpsme", "decode: ifmmp=hello; xpsme  x",  # spacing
    "decode: ifmmp=hello;xpsme", "decode:ifmmp=hello; xpsme", "Decode: ifmmp=hello; xpsme", "decode: ifmmp=hello",
    "decode: IFMMP=HELLO; XPSME", "decode: ifmmp=hello; xps\u00e9", "decode: =; x", "decode: ifmmp=hello; ",
    "decode: ifmmp = hello; xpsme", "decode: ifmmp=hello; xpsme; x", "decode: i=h=g; x", "ifmmp=hello; xpsme",
    "decode: " + "a" * 95 + "=" + "b" * 95 + "; ab",  # over the size limit
])
def test_prompts_without_one_answer_score_zero(prompt):
    assert reference(prompt) is None
    assert cipher.solve(prompt) is None
    for answer in ["", "world", "a", "x", "aa", "ab", "cba f", "hello"]:
        assert cipher.score(prompt, answer) == 0.0, answer


@settings(max_examples=300, deadline=None)
@given(st.text("ab c", min_size=1, max_size=8), st.text("abz ", min_size=1, max_size=8), st.text("abcz ", max_size=6))
def test_scorer_agrees_with_the_reference(code, plain, message):
    """Small alphabets make consistent examples, shifts and uncovered letters all common."""
    prompt = f"decode: {code}={plain}; {message}"
    expected = reference(prompt)
    solved = cipher.solve(prompt)
    assert (solved and solved[3]) == expected, prompt
    if expected is not None:
        assert cipher.score(prompt, expected) == 1.0


# --- the generator ---------------------------------------------------------------------------------

@pytest.mark.parametrize("level", range(1, 6))
def test_answers_match_the_reference_and_traces_check_out(level):
    for ex in draws(level):
        assert reference(ex.prompt) == ex.answer, ex
        assert cipher.check_thinking(ex.prompt, ex.thinking), ex


@pytest.mark.parametrize("level", range(1, 6))
def test_levels_keep_their_cipher_kind_and_lengths(level):
    kind, ex_words, ex_letters, msg_words, msg_letters = cipher.LEVELS[level]
    exs = draws(level)
    shifts = share(is_shift(ex.prompt) for ex in exs)
    if kind == "shift":
        assert shifts == 1.0
        assert share(not covered(ex.prompt) for ex in exs) >= 0.5  # letters the example lacks: the key decodes them
    else:
        assert all(covered(ex.prompt) or (kind == "either" and is_shift(ex.prompt)) for ex in exs)
        assert shifts < (0.02 if kind == "substitution" else 0.7)
        assert shifts > (0.3 if kind == "either" else -1)
    examples = [parts(ex.prompt)[1] for ex in exs]
    messages = [ex.answer for ex in exs]
    for texts, words, letters in ((examples, ex_words, ex_letters), (messages, msg_words, msg_letters)):
        assert max(len(t.split(" ")) for t in texts) == words
        assert max(len(t.replace(" ", "")) for t in texts) == letters


@pytest.mark.parametrize("level", [1, 2])
def test_shift_levels_draw_the_shifts_people_try(level):
    keys = [ex.thinking.split(";")[0][-1] for ex in draws(level)]
    for special in "abdnz":  # shifts 0, 1, 3 (Caesar), 13 (rot13), 25
        assert share(k == special for k in keys) >= 0.04, special
    assert set(keys) == set(LETTERS)
    examples = [parts(ex.prompt)[1] for ex in draws(level)]
    assert share(len(e) == 1 for e in examples) >= 0.02  # `d=a`
    assert share(len(e) >= 3 and e in LETTERS for e in examples) >= 0.02  # `abc`


@pytest.mark.parametrize("level", [1, 2, 3])
def test_messages_hold_what_people_try(level):
    words = [w for ex in draws(level) for w in ex.answer.split(" ")]
    assert share(w in WORDS for w in words) >= 0.4
    assert share(w not in WORDS and len(w) > 1 for w in words) >= 0.1  # random letters
    assert share(len(w) == 1 for w in words) >= 0.02
    assert share(len(w) == 1 and w not in "ai" for w in words) >= 0.05  # `a=z; b c d`
    assert share(re.search(r"(.)\1", w) is not None for w in words) >= 0.1  # doubled letters
    assert share(ex.answer in parts(ex.prompt)[1].split(" ") for ex in draws(level)) >= 0.02  # a word of the example


def test_substitutions_include_atbash():
    assert share(parts(ex.prompt)[0] == parts(ex.prompt)[1].translate(str.maketrans(LETTERS, LETTERS[::-1]))
                 for ex in draws(3)) >= 0.05


@pytest.mark.parametrize("level,longest", [(1, 128), (2, 128)])  # configs/cipher_sft.toml: seq_len 128
def test_trained_levels_fit_the_config(level, longest):
    assert max(len(render(ex)[0]) for ex in draws(level)) <= longest


# --- the trace, the split ------------------------------------------------------------------------

def test_worked_example():
    prompt = "decode: ifmmp=hello; xpsme"
    assert cipher._trace(*cipher.solve(prompt)) == "i-h=b;xw po sr ml ed"
    assert TASKS["cipher"].check_thinking(prompt, "i-h=b;xw po sr ml ed")
    for wrong in ["i-h=b;xw po sr ml ee", "i-h=b;xw po sr ed", "i-h=c;xw po sr ml ed", "xw po sr ml ed",
                  "ih fe ml ml po;xw po sr ml ed", ""]:
        assert not cipher.check_thinking(prompt, wrong)
    substitution = "decode: qwe rty=abc def; ewz"  # z is not in the example: no one answer
    assert not cipher.check_thinking(substitution, "")
    assert cipher._trace(*cipher.solve("decode: qwe rty=abc def; ewq")) == "qa wb ec,rd te yf;ec wb qa"


@pytest.mark.parametrize("level", range(1, 6))
def test_trace_gives_the_key_or_reads_the_example_in_step_then_decodes_the_message(level):
    for ex in draws(level):
        code, plain, message = parts(ex.prompt)
        head, decoded = ex.thinking.split(";")
        if is_shift(ex.prompt):
            assert head == f"{code[0]}-{plain[0]}={LETTERS[(ord(code[0]) - ord(plain[0])) % 26]}"
        else:
            pairs = [a + b for a, b in zip(code.replace(" ", ""), plain.replace(" ", ""))]
            assert head.replace(",", " ").split(" ") == pairs
        assert " ".join("".join(p[1] for p in w.split(" ")) for w in decoded.split(",")) == ex.answer, ex
        assert " ".join("".join(p[0] for p in w.split(" ")) for w in decoded.split(",")) == message, ex


def test_one_message_under_one_cipher_is_one_problem():
    task = TASKS["cipher"]
    spellings = ["decode: ifmmp=hello; xpsme", "decode: bcd=abc; xpsme", "decode: xpsme=world; xpsme",
                 "decode: pxs me=owr ld; xpsme"]  # a substitution that holds the letters
    assert len({task.problem(p) for p in spellings}) == 1
    assert len({task.bucket(p) for p in spellings}) == 1
    assert task.problem("decode: jgnnq=hello; xpsme") != task.problem(spellings[0])  # another shift: another answer
    assert task.problem("decode: aa=bc; a") == "decode: aa=bc; a"  # no answer: the prompt is its own problem
