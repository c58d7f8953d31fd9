"""Compare two decimals: `9.11 vs 9.8` -> `9.8` (the larger one, exactly as written).

Why it is in the suite: "which is bigger, 9.11 or 9.8?" became the emblem of models that answer
at a glance (11 > 8) instead of reasoning; o1-style thinking fixes it by doing what a person
does: line the digits up, then compare place by place.

Trace: pad the decimals with zeros to the same length, compare the integer parts as numbers,
then the decimal digits left to right, stopping at the first difference:

    9.11 vs 9.8     thinking `9.11 vs 9.80,9=9,1<8`     answer `9.8`
    12 vs 9.75      thinking `12.00 vs 9.75,12>9`       answer `12`
    19.00 vs 5      thinking `19.00 vs 5.00,19>5`       answer `19.00`

Levels: level L writes up to L decimals (1..4), trailing zeros included; integer parts are 0..9
up to level 2, 0..20 at level 3, 0..99 at level 4, with one and two digits equally common where
both occur. Some numbers are integers without a decimal point, integer parts are equal most of
the time (the interesting case), and the two numbers often share leading decimal digits (9.1 vs
9.11). One number in five is written with trailing zeros, as people write prices and
measurements (`2.50`, `19.00`, `7.0`): the answer keeps them, so the model must copy what it was
given rather than the value. Equal values (`2.5 vs 2.50`) have no right answer (the scorer gives
0) and are redrawn. `a vs b`, `b vs a` and every zero-padding of the same two values are one
problem for the held-out split.
"""

import random
from fractions import Fraction

from .base import Example, Task, exact

INT_MAX = {1: 9, 2: 9, 3: 20, 4: 99}


def _whole(rng: random.Random, level: int) -> int:
    """An integer part with its digit count drawn first, so 7 is as common as 17 at level 3."""
    if INT_MAX[level] < 10 or rng.random() < 0.5:
        return rng.randint(0, 9)
    return rng.randint(10, INT_MAX[level])


def _significant(rng: random.Random, n: int) -> str:
    """n decimal digits, the last one nonzero (none for n = 0)."""
    if n == 0:
        return ""
    return "".join(str(rng.randint(0, 9)) for _ in range(n - 1)) + str(rng.randint(1, 9))


def _fraction_digits(rng: random.Random, max_decimals: int) -> str:
    if rng.random() < 0.2:  # trailing zeros, at least one, within the level's count of decimals
        n = rng.randint(0, max_decimals - 1)
        return _significant(rng, n) + "0" * rng.randint(1, max_decimals - n)
    if rng.random() < 0.2:
        return ""  # an integer, written without a decimal point
    return _significant(rng, rng.randint(1, max_decimals))


def _join(whole: int, digits: str) -> str:
    return f"{whole}.{digits}" if digits else str(whole)


def _trace(a: str, b: str) -> str:
    (ai, _, af), (bi, _, bf) = a.partition("."), b.partition(".")
    width = max(len(af), len(bf))
    af, bf = af.ljust(width, "0"), bf.ljust(width, "0")
    steps = [f"{_join(int(ai), af)} vs {_join(int(bi), bf)}"]
    for x, y in [(int(ai), int(bi))] + [(int(p), int(q)) for p, q in zip(af, bf)]:
        steps.append(f"{x}{'=' if x == y else '<' if x < y else '>'}{y}")
        if x != y:
            break
    return ",".join(steps)


def generate(rng: random.Random, level: int) -> Example:
    while True:
        ai = _whole(rng, level)
        bi = ai if rng.random() < 0.6 else _whole(rng, level)
        af, bf = _fraction_digits(rng, level), _fraction_digits(rng, level)
        if rng.random() < 0.4:  # share leading digits, so the comparison must look further
            k = rng.randint(0, min(len(af), len(bf)))
            bf = af[:k] + bf[k:]
        a, b = _join(ai, af), _join(bi, bf)
        if Fraction(a) != Fraction(b):
            break
    return Example(f"{a} vs {b}", _trace(a, b), a if Fraction(a) > Fraction(b) else b)


def _decimal(text: str) -> Fraction | None:
    """A plain decimal such as `9`, `9.8` or `0.125`; None for anything else (signs, exponents, `09`)."""
    whole, dot, digits = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (len(whole) > 1 and whole[0] == "0"):
        return None
    if dot and not (digits.isascii() and digits.isdigit()):
        return None
    return Fraction(int(whole + digits), 10 ** len(digits))


def larger(prompt: str) -> str | None:
    """The larger number of `A vs B` as written, or None when the prompt is malformed or a tie."""
    a, sep, b = prompt.partition(" vs ") if len(prompt) <= 64 else ("", "", "")
    x, y = (_decimal(a), _decimal(b)) if sep else (None, None)
    if x is None or y is None or x == y:
        return None
    return a if x > y else b


def score(prompt: str, answer: str) -> float:
    expected = larger(prompt)
    return 0.0 if expected is None else exact(answer, expected)


def problem(prompt: str) -> str:
    """The two values, smaller first, as fractions: `2.50 vs 9.8` and `9.80 vs 2.5` are one problem."""
    a, sep, b = prompt.partition(" vs ") if len(prompt) <= 64 else ("", "", "")
    x, y = (_decimal(a), _decimal(b)) if sep else (None, None)
    return prompt if x is None or y is None else f"{min(x, y)} vs {max(x, y)}"


TASK = Task(
    name="compare",
    min_level=1,
    max_level=4,
    level_help="up to `level` decimals, trailing zeros included; integer parts 0..9 (levels 1-2), 0..20 (3), 0..99 (4)",
    generate=generate,
    score=score,
    problem=problem,
)
