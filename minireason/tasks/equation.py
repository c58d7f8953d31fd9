"""Linear equations in one unknown: `3x+5=20` -> `5`.

Why it is in the suite: solving for x is the classic worked example of multi-step reasoning:
each step is easy (move a term, subtract, divide) but skipping them is where answers go wrong.
Equations are written as people write them, so the model must also read the notation:
`x+5=20`, `-x+4=1`, `7-2x=-3`, `20=3x+5`, `4x=-12`.

Trace: move the constant to the other side, work the sum out column by column (as `add` and
`sub` do: digits, carry or borrow, digits so far), then divide by the coefficient by long
division (one digit at a time with its remainder, digits so far). Each sum and quotient first
writes its sign, `+(...)` or `-(...)`, as a step of its own: deciding the sign and doing the
column work at once is where a small model slips. When the two numbers of a difference have
as many digits, the trace first compares them digit by digit from the left (`117 vs 109:1=1
1>0`), because which one is larger decides the sign. With coefficient 1 there is nothing to
divide, with -1 the sign flips:

    3x+5=20        thinking `3x=20-5,+(20-5):0-5-0=5b1 5,2-0-1=1b0 15,3x=15,x=15/3,+(15/3):1/3=0r1 0,15/3=5r0 05,x=5`
    20=-x+4        thinking `-x=20-4,+(20-4):0-4-0=6b1 6,2-0-1=1b0 16,-x=16,x=-16`
    2x+56=26       thinking `2x=26-56,26 vs 56:2<5,-(56-26):6-6-0=0b0 0,5-2-0=3b0 30,2x=-30,x=-30/2,
                             -(30/2):3/2=1r1 1,10/2=5r0 15,x=-15`   (one line in the trace)

The small model cannot add two 3-digit numbers or divide in a single step; spelled out like
this, every step is one it has seen many times.

Levels (coefficient a, solution x, constants):
    1: a = +-1,      x in -10..10,   constants up to +-30
    2: a in +-1..5,  x in -10..10,   constants up to +-60
    3: a in +-1..9,  x in -20..20,   constants up to +-200
    4: a in +-1..20, x in -100..100, constants up to +-1000
Every level writes every form: constant first or last, x on either side, `x`/`-x` for a = +-1,
constant 0 left out (`3x=12`) or written (`3x+0=12`, `0-x=4`; the trace first restates it without the 0),
right side 0 (`x+5=0`) and, rarely, `x` alone (`x=7`; the trace restates it).
Numbers are drawn digit count first, then value and sign, so `x+5=3` is as common as `x+150=130`.
The scorer solves any equation `... = ...` whose sides are sums of terms like `7`, `x`, `-2x`.
"""

import random

from .arithmetic import _add_columns, _compare, _sub_columns
from .base import Example, Task, exact

# level: (largest |a|, largest |x|, largest |constant|)
RANGES = {1: (1, 10, 30), 2: (5, 10, 60), 3: (9, 20, 200), 4: (20, 100, 1000)}


def _x_term(a: int) -> str:
    return {1: "x", -1: "-x"}.get(a, f"{a}x")


def _signed(n: int) -> str:
    return f"+{n}" if n >= 0 else str(n)


def _sum_trace(p: int, q: int) -> str:
    """Work out p + q for signed p, q with the column procedures of add and sub."""
    sign = "-" if p + q < 0 else "+"
    if (p >= 0) == (q >= 0):
        return f"{sign}({abs(p)}+{abs(q)}):" + _add_columns(abs(p), abs(q))
    big, small = max(abs(p), abs(q)), min(abs(p), abs(q))
    return _compare(abs(p), abs(q)) + f"{sign}({big}-{small}):" + _sub_columns(big, small)


def _division_trace(n: int, d: int) -> str:
    """n / d by long division of |n| by |d|: each digit brought down, its quotient digit and remainder."""
    sign = "-" if n * d < 0 else "+"  # 0/-3 is +0
    n, d = abs(n), abs(d)
    steps, rem, written = [], 0, ""
    for digit in str(n):
        cur = rem * 10 + int(digit)
        written += str(cur // d)
        steps.append(f"{cur}/{d}={cur // d}r{cur % d} {written}")
        rem = cur % d
    return f"{sign}({n}/{d}):" + ",".join(steps)


def _magnitude(rng: random.Random, limit: int) -> int:
    """0..limit with the digit count uniform, then the value: short numbers as common as long ones."""
    top = len(str(limit // 2))  # a digit count needs room: 10 has no 2-digit range worth the name, 1000 no 4-digit
    d = rng.randint(1, top)
    return rng.randint(10 ** (d - 1) if d > 1 else 0, limit if d == top else 10**d - 1)


def _signed_draw(rng: random.Random, limit: int) -> int:
    return rng.choice((1, -1)) * _magnitude(rng, limit)


def generate(rng: random.Random, level: int) -> Example:
    a_max, x_max, c_max = RANGES[level]
    form = rng.random()
    lone = form < 0.02  # `x=7`: nothing to do but read it off
    zero = 0.02 <= form < 0.05  # `x+0=7`, `0-3x=6`: a constant 0 written out
    while True:
        a = 1 if lone else rng.choice([s * m for m in range(1, a_max + 1) for s in (1, -1)])
        x = _signed_draw(rng, x_max)
        if lone or zero:
            b = 0
        elif rng.random() < 0.5:  # draw one constant, derive the other, so either side can be short
            b = _signed_draw(rng, c_max)
        else:
            b = _signed_draw(rng, c_max) - a * x
        c = a * x + b
        if abs(b) <= c_max and abs(c) <= c_max and (lone or zero or a != 1 or b != 0):
            break
    if b == 0 and not zero:
        side = _x_term(a)
    elif rng.random() < 0.5:  # constant first: `7-2x`
        side = f"{b}{'+' if a > 0 else ''}{_x_term(a)}"
    else:
        side = _x_term(a) + (rng.choice(("+0", "-0")) if zero else _signed(b))
    prompt = f"{c}={side}" if rng.random() < 0.5 else f"{side}={c}"

    if b != 0:
        steps = [f"{_x_term(a)}={c}{_signed(-b)}", _sum_trace(c, -b), f"{_x_term(a)}={c - b}"]
    else:  # `x=7` is restated, `3x+0=12` restated without its 0 (`3x=12`), `3x=12` goes on
        steps = [f"{_x_term(a)}={c}"] if lone or zero else []
    if a == -1:
        steps.append(f"x={b - c}")
    elif a != 1:
        steps += [f"x={c - b}/{a}", _division_trace(c - b, a), f"x={x}"]
    return Example(prompt, ",".join(steps), str(x))


def _side(text: str) -> tuple[int, int] | None:
    """`7-2x` -> (coefficient of x, constant) = (-2, 7); None unless a sum of terms like 7, x, -2x."""
    coef = const = terms = 0
    i = 0
    while i < len(text):
        sign = 1
        if text[i] == "-":
            sign, i = -1, i + 1
        elif text[i] == "+" and i > 0:
            i += 1
        elif i > 0:
            return None  # terms after the first need a sign
        j = i
        while j < len(text) and "0" <= text[j] <= "9":
            j += 1
        digits = text[i:j]
        if len(digits) > 9 or (len(digits) > 1 and digits[0] == "0"):
            return None
        if j < len(text) and text[j] == "x":
            coef, j = coef + sign * int(digits or "1"), j + 1
        elif digits:
            const += sign * int(digits)
        else:
            return None
        i, terms = j, terms + 1
    return (coef, const) if 0 < terms <= 4 else None


def solve(equation: str) -> int | None:
    """The integer solution of a linear equation in x; None if malformed, not unique, or not an integer."""
    left, sep, right = equation.partition("=") if len(equation) <= 64 else ("", "", "")
    sides = (_side(left), _side(right)) if sep else (None, None)
    if sides[0] is None or sides[1] is None:
        return None
    (a1, c1), (a2, c2) = sides
    a, c = a1 - a2, c2 - c1  # a*x = c
    if a == 0 or c % a:
        return None
    return c // a


def problem(prompt: str) -> str:
    """The two sides as (coefficient, constant), sorted: `x+5=20`, `5+x=20` and `20=x+5` are one problem."""
    left, sep, right = prompt.partition("=")
    sides = (_side(left), _side(right)) if sep and len(prompt) <= 64 else (None, None)
    return prompt if None in sides else str(sorted(sides))


def score(prompt: str, answer: str) -> float:
    x = solve(prompt)
    return 0.0 if x is None else exact(answer, str(x))


TASK = Task(
    name="equation",
    min_level=1,
    max_level=4,
    level_help="ranges of coefficient, solution and constants; every level writes every form (`5+x=8`, `8=x+5`)",
    generate=generate,
    score=score,
    problem=problem,
)
