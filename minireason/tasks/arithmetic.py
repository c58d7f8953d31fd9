"""Column arithmetic: `add` (123+456=), `sub` (503-78=), `mul` (47*38=).

The traces do what a person does on paper, one column at a time, right to left, so that every
step is a small local computation a tiny model can learn:

    add  47+385=   7+5+0=12 2,4+8+1=13 32,0+3+1=04 432                  -> 432
         each column is `digit+digit+carry_in=two-digit sum`, then the digits written so far;
         the tens digit is the next carry.
    sub  78-503=   swap,3-8-0=5b1 5,0-7-1=2b1 25,5-0-1=4b0 425          -> -425
         53-78=    53 vs 78:5<7,swap,8-3-0=5b0 5,7-5-0=2b0 25           -> -25
         `swap` when the result is negative; a column is `digit-digit-borrow=digit b borrow_out`;
         leading zeros of the result are then dropped in a step of their own (`096>96`).
         When both operands have as many digits, their digits are first compared from the left
         up to the first difference (`53 vs 78:5<7,`): deciding `swap` at a glance is where a
         small model slips.
    mul  47*38=    7*8+0=56 6,4*8+5=37 76>376;7*3+0=21 1,4*3+2=14 41>1410;6+0+0=06 6,...
         one partial product per digit of the second operand (`>` gives it, shifted), then
         the partial products are summed with the addition columns above.

Writing the digits so far after each column means the answer is a copy of the last step
(plus the final carry), not a reversal of scattered digits, which small models get wrong.

Levels: each operand has 1..level digits, the digit count drawn uniformly and then the value,
so `7*38` is as common as `38*7` and as 2-digit times 2-digit. About one draw in eight is an
edge case people try first: an operand 0 or 1 (on either side), or two equal operands; sub
also makes one draw in twelve two near neighbours (`900-899=`: leading zeros to drop), and two in
five of its operands of as many digits share leading digits (`205-203=`: the comparison runs on).
`5+3=` and `3+5=` are one problem for the held-out split (so are `5*3=` and `3*5=`);
`5-3=` and `3-5=` are two. `0+0=` is never held out: it is the only addition whose answer is 0,
and a model that never saw an answer start with 0 answers it `0,0` or `00` after right columns.
"""

import random

from .base import Example, Task, exact


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def _operand_pair(rng: random.Random, level: int) -> tuple[int, int]:
    """Each operand has 1..level digits; one draw in eight is made an edge case (0, 1, equal operands)."""
    a, b = _number(rng, rng.randint(1, level)), _number(rng, rng.randint(1, level))
    edge = rng.random()
    if edge < 0.04:
        return (0, b) if rng.random() < 0.5 else (a, 0)
    if edge < 0.08:
        return (1, b) if rng.random() < 0.5 else (a, 1)
    if edge < 0.12:
        return a, a
    return a, b


def _digits(n: int, width: int) -> list[int]:
    """Least significant first, zero-padded to `width`."""
    return [int(c) for c in reversed(str(n).zfill(width))]


def _add_columns(a: int, b: int) -> str:
    width = max(len(str(a)), len(str(b)))
    steps, carry, written = [], 0, ""
    for x, y in zip(_digits(a, width), _digits(b, width)):
        s = x + y + carry
        written = str(s % 10) + written
        steps.append(f"{x}+{y}+{carry}={s:02d} {written}")
        carry = s // 10
    return ",".join(steps)


def _sub_columns(a: int, b: int) -> str:
    """a - b for a >= b."""
    width = len(str(a))
    steps, borrow, written = [], 0, ""
    for x, y in zip(_digits(a, width), _digits(b, width)):
        d = x - y - borrow
        written = str(d % 10) + written
        steps.append(f"{x}-{y}-{borrow}={d % 10}b{int(d < 0)} {written}")
        borrow = int(d < 0)
    return ",".join(steps)


def _compare(m: int, n: int) -> str:
    """`53 vs 78:5<7,`: digits from the left up to the first that differ; empty when the lengths differ."""
    if len(str(m)) != len(str(n)):
        return ""
    steps = []
    for x, y in zip(str(m), str(n)):
        steps.append(f"{x}{'<' if x < y else '>' if x > y else '='}{y}")
        if x != y:
            break
    return f"{m} vs {n}:" + " ".join(steps) + ","


def _mul_trace(a: int, b: int) -> str:
    parts, partials = [], []
    for shift, d in enumerate(_digits(b, len(str(b)))):
        steps, carry, written = [], 0, ""
        for x in _digits(a, len(str(a))):
            p = x * d + carry
            written = str(p % 10) + written
            steps.append(f"{x}*{d}+{carry}={p:02d} {written}")
            carry = p // 10
        partials.append(a * d * 10**shift)
        parts.append(",".join(steps) + f">{partials[-1]}")
    total = partials[0]
    for i, p in enumerate(partials[1:], start=2):
        last = i == len(partials)
        parts.append(_add_columns(total, p) + ("" if last else f">{total + p}"))
        total += p
    return ";".join(parts)


def generate_add(rng: random.Random, level: int) -> Example:
    a, b = _operand_pair(rng, level)
    return Example(f"{a}+{b}=", _add_columns(a, b), str(a + b))


def generate_sub(rng: random.Random, level: int) -> Example:
    a, b = _operand_pair(rng, level)
    draw = rng.random()
    if draw < 0.08:  # near neighbours, `900-899=`: a difference whose leading zeros all go (`001>1`)
        b = min(10**level - 1, max(0, a + rng.randint(-9, 9)))
    elif draw < 0.48 and len(str(a)) == len(str(b)) > 1:  # the same leading digits, `205-203=`: compared on
        j = rng.randint(1, len(str(a)) - 1)
        b = a // 10**j * 10**j + rng.randrange(10**j)
    big, small = max(a, b), min(a, b)
    columns = _sub_columns(big, small)
    if columns.rsplit(" ", 1)[-1] != str(big - small):  # `096>96`: then the answer is a copy that skips nothing
        columns += f">{big - small}"
    trace = _compare(a, b) + ("swap," if a < b else "") + columns
    return Example(f"{a}-{b}=", trace, str(a - b))


def generate_mul(rng: random.Random, level: int) -> Example:
    a, b = _operand_pair(rng, level)
    return Example(f"{a}*{b}=", _mul_trace(a, b), str(a * b))


def _operands(prompt: str, op: str) -> tuple[int, int] | None:
    """Parse our own prompt format `A<op>B=`; None for anything else."""
    if len(prompt) > 64 or not prompt.endswith("="):
        return None
    a, sep, b = prompt[:-1].partition(op)
    if not sep or not (a.isascii() and a.isdigit() and b.isascii() and b.isdigit()):
        return None
    return int(a), int(b)


def _scorer(op: str, fn):
    def score(prompt: str, answer: str) -> float:
        ab = _operands(prompt, op)
        return 0.0 if ab is None else exact(answer, str(fn(*ab)))

    return score


def _unordered(op: str):
    """The problem key of a commutative operation: the prompt with its operands sorted."""
    def problem(prompt: str) -> str:
        ab = _operands(prompt, op)
        return prompt if ab is None else f"{min(ab)}{op}{max(ab)}="

    return problem


TASKS = [
    Task("add", 1, 6, "each operand has 1..level digits", generate_add, _scorer("+", lambda a, b: a + b),
         problem=_unordered("+"), trained=frozenset({"0+0="})),
    Task("sub", 1, 6, "each operand has 1..level digits; the result may be negative", generate_sub,
         _scorer("-", lambda a, b: a - b)),
    Task("mul", 1, 4, "each operand has 1..level digits", generate_mul, _scorer("*", lambda a, b: a * b),
         problem=_unordered("*")),
]
