"""The add, sub, mul, compare and count generators draw what people type: short and long numbers
alike, the edge cases people try first, trailing zeros, words with repeated letters. Each level a
shipped config trains is drawn 2000 times with a fixed seed; answers are checked against plain
Python (int, Decimal, str.count), and the held-out split against re-spelled prompts.
"""

import functools
import random
import re
import zlib
from decimal import Decimal
from fractions import Fraction

import pytest

from minireason.tasks import TASKS
from minireason.tasks import count as count_task

SHIPPED = {"add": 3, "sub": 3, "mul": 2, "compare": 3, "count": 3}  # the level each shipped config claims
CASES = [(name, level) for name, top in SHIPPED.items() for level in range(1, top + 1)]
ARITHMETIC = [(name, level) for name, level in CASES if name in ("add", "sub", "mul")]
N = 2000
OFTEN = 0.01  # "non-trivial frequency"


@functools.cache
def draws(name: str, level: int) -> tuple:
    rng = random.Random(f"gen-a/{name}/{level}")
    return tuple(TASKS[name].generate(rng, level) for _ in range(N))


def share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


def operands(prompt: str) -> tuple[str, str, str]:
    return re.fullmatch(r"(\d+)([-+*])(\d+)=", prompt).groups()


def reference(name: str, prompt: str) -> str:
    if name in ("add", "sub", "mul"):
        a, op, b = operands(prompt)
        return str({"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op])
    if name == "compare":
        a, b = prompt.split(" vs ")
        return a if Decimal(a) > Decimal(b) else b
    _, letter, _, word = prompt.split(" ")
    return str(word.count(letter))


@pytest.mark.parametrize("name,level", CASES)
def test_answers_score_and_match_the_reference(name, level):
    for ex in draws(name, level):
        assert TASKS[name].score(ex.prompt, ex.answer) == 1.0, ex
        assert ex.answer == reference(name, ex.prompt), ex


# --- add, sub, mul ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,level", ARITHMETIC)
def test_arithmetic_edge_cases_are_common(name, level):
    pairs = [operands(ex.prompt)[::2] for ex in draws(name, level)]
    assert share(a == "0" for a, _ in pairs) >= OFTEN
    assert share(b == "0" for _, b in pairs) >= OFTEN
    assert share(a == "1" for a, _ in pairs) >= OFTEN
    assert share(b == "1" for _, b in pairs) >= OFTEN
    assert share(a == b for a, b in pairs) >= OFTEN
    assert share(a == b for a, b in pairs) <= 0.2


@pytest.mark.parametrize("name,level", [(name, level) for name, level in ARITHMETIC if level > 1])
def test_arithmetic_short_and_long_operands_alike(name, level):
    pairs = [operands(ex.prompt)[::2] for ex in draws(name, level)]
    for side in (0, 1):
        assert share(len(p[side]) == 1 for p in pairs) >= 0.2, side
        assert share(len(p[side]) == level for p in pairs) >= 0.2, side
    assert share(len(a) < len(b) for a, b in pairs) >= 0.2
    assert share(len(a) > len(b) for a, b in pairs) >= 0.2


@pytest.mark.parametrize("level", range(1, SHIPPED["sub"] + 1))
def test_sub_results_are_often_negative(level):
    assert share(ex.answer.startswith("-") for ex in draws("sub", level)) >= 0.3


def digit_comparison(a: str, b: str) -> str:
    """`53 vs 78:5<7,`, written independently of the task: digit pairs up to the first difference."""
    pairs = list(zip(a, b))
    first = next((i for i, (x, y) in enumerate(pairs) if x != y), len(pairs) - 1)
    signs = ["<=>"[(x > y) - (x < y) + 1] for x, y in pairs[: first + 1]]
    return f"{a} vs {b}:" + " ".join(f"{x}{s}{y}" for (x, y), s in zip(pairs, signs)) + ","


def test_sub_draws_near_neighbours_with_leading_zeros_to_drop():  # `900-899=` -> `001>1`
    exs = draws("sub", 3)
    assert share(bool(re.search(r" 00\d>", ex.thinking)) for ex in exs) >= OFTEN
    assert share(0 < abs(int(ex.answer)) < 10 and len(ex.prompt) == 8 for ex in exs) >= OFTEN  # 3 digits each


def test_sub_draws_operands_with_the_same_leading_digits():  # `205-203=`: the comparison reaches the last digit
    exs = [ex for ex in draws("sub", 3) if len(ex.prompt) == 8]  # 3 digits each
    last = lambda ex: ex.thinking.split(",", 1)[0].split(" ")[-1]  # `5>3` in `205 vs 203:2=2 0=0 5>3,`
    assert share(ex.thinking.count("=", 0, ex.thinking.index(",")) == 2 for ex in exs) >= 0.2  # 1 in 90 uniformly
    assert share(last(ex)[1] == "<" for ex in exs if ex.thinking.count("=", 0, ex.thinking.index(",")) == 2) >= 0.3


@pytest.mark.parametrize("level", range(1, SHIPPED["sub"] + 1))
def test_sub_compares_digits_exactly_when_lengths_are_equal(level):
    for ex in draws("sub", level):
        a, _, b = operands(ex.prompt)
        assert (" vs " in ex.thinking) == (len(a) == len(b)), ex
        rest = ex.thinking
        if len(a) == len(b):
            assert ex.thinking.startswith(digit_comparison(a, b)), ex
            rest = ex.thinking[len(digit_comparison(a, b)):]
        assert rest.startswith("swap,") == (int(a) < int(b)), ex


def generated(name: str, level: int, prompt: str):
    """The generator's own example for `prompt`, drawn until it comes up (in at most a million draws)."""
    rng = random.Random(0)
    for _ in range(10**6):
        ex = TASKS[name].generate(rng, level)
        if ex.prompt == prompt:
            return ex
    pytest.fail(f"{name} level {level} never drew {prompt}")


def test_sub_trace_compares_then_swaps():
    assert generated("sub", 2, "53-78=").thinking == "53 vs 78:5<7,swap,8-3-0=5b0 5,7-5-0=2b0 25"


@pytest.mark.parametrize("name,level", [(n, level) for n, level in ARITHMETIC if n != "sub"])
def test_commutative_problems_share_a_key_and_a_side_of_the_split(name, level):
    task = TASKS[name]
    for ex in draws(name, level):
        a, op, b = operands(ex.prompt)
        swapped = f"{b}{op}{a}="
        assert task.problem(ex.prompt) == task.problem(swapped), ex
        assert task.is_heldout(ex.prompt) == task.is_heldout(swapped), ex
    assert task.problem("5" + "+*"[name == "mul"] + "3=") != task.problem("5" + "+*"[name == "mul"] + "4=")


@pytest.mark.parametrize("name", ["sub", "count"])
def test_each_prompt_is_its_own_problem(name):
    for ex in draws(name, SHIPPED[name]):
        assert TASKS[name].bucket(ex.prompt) == zlib.crc32(ex.prompt.encode()) % 10, ex


def test_sub_keeps_order_in_the_split():
    heldout = TASKS["sub"].is_heldout
    prompts = [ex.prompt for ex in draws("sub", 3)]
    assert share(heldout(p) != heldout(re.sub(r"(\d+)-(\d+)=", r"\2-\1=", p)) for p in prompts) >= 0.05


@pytest.mark.parametrize("a,b", [(0, 47), (47, 0), (1, 38), (38, 1), (7, 38), (38, 7), (0, 0), (1, 1), (10, 99)])
def test_mul_trace_ends_in_the_product(a, b):
    ex = generated("mul", 2, f"{a}*{b}=")
    assert int(re.split(r"[>,; ]", ex.thinking)[-1]) == a * b, ex
    assert ex.thinking.count(";") == 2 * (len(str(b)) - 1), ex  # a partial product per digit of b, then the sums


# --- compare ------------------------------------------------------------------------------------

def numbers(level: int) -> list[str]:
    return [p for ex in draws("compare", level) for p in ex.prompt.split(" vs ")]


@pytest.mark.parametrize("level", range(1, SHIPPED["compare"] + 1))
def test_compare_writes_trailing_zeros_sometimes(level):
    nums = numbers(level)
    assert 0.1 <= share("." in p and p.endswith("0") for p in nums) <= 0.3
    assert share(re.fullmatch(r"\d+\.0+", p) is not None for p in nums) >= OFTEN  # `7.0`
    answers = [ex.answer for ex in draws("compare", level)]
    assert share("." in a and a.endswith("0") for a in answers) >= OFTEN  # `19.00` is the answer as written


@pytest.mark.parametrize("level", range(1, SHIPPED["compare"] + 1))
def test_compare_decimal_count_stays_within_the_level(level):
    decimals = [len(p.partition(".")[2]) for p in numbers(level)]
    assert max(decimals) == level


@pytest.mark.parametrize("level", range(1, SHIPPED["compare"] + 1))
def test_compare_never_ties(level):
    for ex in draws("compare", level):
        a, b = ex.prompt.split(" vs ")
        assert Decimal(a) != Decimal(b), ex


def test_compare_one_and_two_digit_integer_parts_alike():
    wholes = [p.partition(".")[0] for p in numbers(3)]
    assert share(len(w) == 1 for w in wholes) >= 0.35
    assert share(len(w) == 2 for w in wholes) >= 0.35


@pytest.mark.parametrize("level", range(1, SHIPPED["compare"] + 1))
def test_compare_trace_lines_the_numbers_up(level):
    for ex in draws("compare", level):
        head = ex.thinking.split(",")[0]
        padded = head.split(" vs ")
        assert [Fraction(p) for p in padded] == [Fraction(p) for p in ex.prompt.split(" vs ")], ex
        assert len({len(p.partition(".")[2]) for p in padded}) == 1, ex


def respell(number: str, zeros: int) -> str:
    return number + ("" if "." in number else ".") + "0" * zeros if zeros else number


@pytest.mark.parametrize("level", range(1, SHIPPED["compare"] + 1))
def test_compare_spellings_of_one_problem_share_a_key(level):
    task, rng = TASKS["compare"], random.Random(level)
    for ex in draws("compare", level):
        a, b = ex.prompt.split(" vs ")
        other = f"{respell(b, rng.randint(0, 2))} vs {respell(a, rng.randint(0, 2))}"
        assert task.problem(ex.prompt) == task.problem(other), (ex, other)
        assert task.is_heldout(ex.prompt) == task.is_heldout(other), (ex, other)
    assert task.problem("9.11 vs 9.8") != task.problem("9.11 vs 9.9")


# --- count --------------------------------------------------------------------------------------

def word_and_letter(prompt: str) -> tuple[str, str]:
    _, letter, _, word = prompt.split(" ")
    return word, letter


def has_repeats(word: str) -> bool:
    return max(map(word.count, word)) >= 3 or re.search(r"(.)\1", word) is not None


@pytest.mark.parametrize("level", range(1, SHIPPED["count"] + 1))
def test_count_draws_repeated_letter_words_and_one_letter_words(level):
    words = [word_and_letter(ex.prompt)[0] for ex in draws("count", level)]
    assert share(has_repeats(w) for w in words) >= 0.35
    assert share(w in ("a", "i") for w in words) >= OFTEN
    assert share(len(w) == 1 and w not in ("a", "i") for w in words) >= OFTEN  # `count q in q`
    assert share(len(w) > 1 and len(set(w)) == 1 for w in words) >= OFTEN  # `sss`, `zzzzzz`
    assert max(map(len, words)) == count_task.MAX_WORD[level]


@pytest.mark.parametrize("level", range(1, SHIPPED["count"] + 1))
def test_count_asks_for_the_most_frequent_letter(level):
    pairs = [word_and_letter(ex.prompt) for ex in draws("count", level)]
    assert share(w.count(c) == max(map(w.count, w)) >= 2 for w, c in pairs) >= 0.15


@pytest.mark.parametrize("level", range(1, SHIPPED["count"] + 1))
def test_count_asks_for_absent_letters(level):
    assert 0.1 <= share(ex.answer == "0" for ex in draws("count", level)) <= 0.3
    one_letter = [ex for ex in draws("count", level) if len(word_and_letter(ex.prompt)[0]) == 1]
    assert 0.3 <= share(ex.answer == "0" for ex in one_letter) <= 0.7  # `count q in z` as often as `count q in q`


def test_count_word_list_has_the_words_people_try():
    people_try = ("mississippi banana bookkeeper committee success balloon coffee assess possess strawberry parallel "
                  "address letter apple cheese").split()
    for word in people_try:
        assert word in count_task.WORDS, word
        assert word in count_task.REPEATS, word
    for level, longest in count_task.MAX_WORD.items():
        assert sum(len(w) <= longest for w in count_task.REPEATS) >= 100, level


def test_sub_trace_drops_leading_zeros_in_a_step_of_its_own():
    rng = random.Random(7)
    for ex in (TASKS["sub"].generate(rng, 3) for _ in range(2000)):
        written = ex.thinking.split(" ")[-1]
        if ">" in written:  # `083>83`: the digits written, then the number
            digits, value = written.split(">")
            assert digits.startswith("0"), ex
            assert int(digits) == int(value) == abs(int(ex.answer)), ex
        else:
            assert not (written.startswith("0") and len(written) > 1), ex
