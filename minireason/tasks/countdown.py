"""Countdown: reach a target from a few numbers with + - * / and parentheses.

Prompt `make 24 from 2 5 7`; the answer is any expression that uses each given number exactly
once and evaluates exactly to the target, e.g. `(7+5)*2`.

Why it is in the suite: what stood out in o1's published traces was search: try an approach,
notice that it fails, back up and try another. Countdown has no left-to-right recipe, so it
needs exactly that: search plus checking (the game used by "Stream of Search", Gandhi et al.
2024). Many answers are right, so the scorer checks the expression instead of comparing text.

Trace: a depth-first search that combines two numbers at a time, the move that lands closest to
the target first. One attempt is one path down to a single number, steps separated by spaces
(larger number first); with two numbers left it writes only the best last move, since that one
hits the target whenever any does. Each attempt ends by setting its last number against the
target, `vs 24`, then `no` for a dead end or `ok` for the success: copying the target next to the
number first turns the verdict into a comparison of two neighbours, where a model that had to
look back at the prompt learned to say `ok` after a few attempts whatever the number. Attempts
are joined by `;`, and the trace ends by checking the final expression:

    make 24 from 2 5 7
    7*2=14 14+5=19 vs 24 no;7*5=35 35-2=33 vs 24 no;7+5=12 12*2=24 vs 24 ok;(7+5)*2=24   -> (7+5)*2

At most MAX_DEAD_ENDS dead ends are shown, the first ones in search order; `...` marks that the
search went on longer (only with 4 or more numbers: 3 numbers need at most 9). Failed sets of
numbers are remembered and not searched twice.

Levels: the level is how many numbers are given (2..5), each 1..12, written in any order (the
search runs over them in the prompt's order); targets are 1..60 for up to 3 numbers, 1..100 for
4, 1..200 for 5. The generator keeps every intermediate a positive integer; the scorer accepts
any exact rational arithmetic (e.g. `6/(1-3/4)` for 24).
"""

import functools
import operator
import random
import re
from fractions import Fraction

from .base import Example, Task, parse_int

TARGETS = {2: (1, 60), 3: (1, 60), 4: (1, 100), 5: (1, 200)}
MAX_DEAD_ENDS = 10
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

# A number in the search: (value, expression that makes it, top operator of that expression).
Node = tuple[int, str, str]


def _combine(a: Node, b: Node, op: str) -> Node | None:
    """a op b, for a >= b, when the result is a positive integer (the generator's rule)."""
    x, y = a[0], b[0]
    value = {"+": x + y, "-": x - y, "*": x * y, "/": x // y if y > 1 and x % y == 0 else 0}[op]
    if value <= 0:
        return None
    # Parenthesise only where precedence needs it: `(7+5)*2`, `12-(3+4)`, `12/(3*2)`.
    left = f"({a[1]})" if a[2] and PRECEDENCE[a[2]] < PRECEDENCE[op] else a[1]
    tight = b[2] and (PRECEDENCE[b[2]] < PRECEDENCE[op] or (PRECEDENCE[b[2]] == PRECEDENCE[op] and op in "-/"))
    right = f"({b[1]})" if tight else b[1]
    return value, left + op + right, op


def _moves(nums: list[Node], target: int) -> list[tuple[str, list[Node]]]:
    """Every (step text, numbers after the step), closest to the target first."""
    moves, seen = [], set()
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            a, b = sorted((nums[i], nums[j]), key=lambda n: n[0], reverse=True)
            rest = [n for k, n in enumerate(nums) if k not in (i, j)]
            for op in "+-*/":
                node = _combine(a, b, op)
                if node is None:
                    continue
                step = f"{a[0]}{op}{b[0]}={node[0]}"
                if step not in seen:  # equal numbers give the same step twice
                    seen.add(step)
                    moves.append((abs(node[0] - target), step, rest + [node]))
    moves.sort(key=lambda m: m[0])  # stable: ties keep pair and operator order
    return [(step, after) for _, step, after in moves]


def _search(nums: list[Node], target: int, path: list[str], attempts: list[list[str]], failed: set) -> Node | None:
    """Depth-first search; records every attempt (a list of steps) and returns the solution."""
    if len(nums) == 2:
        step, after = _moves(nums, target)[0]
        attempts.append(path + [step])
        return after[0] if after[0][0] == target else None
    key = tuple(sorted(n[0] for n in nums))
    if key in failed:
        return None
    for step, after in _moves(nums, target):
        found = _search(after, target, path + [step], attempts, failed)
        if found:
            return found
    failed.add(key)
    return None


def _random_target(rng: random.Random, values: list[int]) -> int:
    """Combine the numbers in a random order with random operators: a target that is reachable."""
    nodes: list[Node] = [(v, str(v), "") for v in values]
    while len(nodes) > 1:
        i, j = rng.sample(range(len(nodes)), 2)
        a, b = sorted((nodes[i], nodes[j]), key=lambda n: n[0], reverse=True)
        options = [n for op in "+-*/" if (n := _combine(a, b, op))]
        nodes = [n for k, n in enumerate(nodes) if k not in (i, j)] + [rng.choice(options)]
    return nodes[0][0]


@functools.lru_cache(maxsize=1 << 15)
def _solve(values: tuple[int, ...], target: int) -> tuple[str, str]:
    """(thinking, answer) for numbers in the prompt's order. Cached: the held-out draw rejects 9 in 10."""
    attempts: list[list[str]] = []
    solution = _search([(v, str(v), "") for v in values], target, [], attempts, set())
    ends = [" ".join(a) + f" vs {target} " + ("ok" if a is attempts[-1] else "no") for a in attempts]
    shown = ends[:-1][:MAX_DEAD_ENDS] + (["..."] if len(ends) - 1 > MAX_DEAD_ENDS else [])
    return ";".join(shown + [ends[-1], f"{solution[1]}={target}"]), solution[1]


def generate(rng: random.Random, level: int) -> Example:
    lo, hi = TARGETS[level]
    while True:
        values = tuple(rng.randint(1, 12) for _ in range(level))  # in any order, as a person writes them
        target = _random_target(rng, list(values))
        if lo <= target <= hi:
            break
    thinking, answer = _solve(values, target)
    return Example(f"make {target} from {' '.join(map(str, values))}", thinking, answer)


# --- scoring: a recursive-descent parser over exact fractions, with size limits --------------

MAX_CHARS = 64
MAX_DEPTH = 8  # nested parentheses
MAX_MAGNITUDE = 10**12  # bound on numerators and denominators of intermediates


class _Invalid(Exception):
    pass


def _tokens(text: str) -> list:
    """Numbers (ints, no leading zeros) and the characters + - * / ( ); spaces separate."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c in "+-*/()":
            out.append(c)
            i += 1
        elif "0" <= c <= "9":
            j = i
            while j < len(text) and "0" <= text[j] <= "9":
                j += 1
            if text[i] == "0" and j - i > 1:
                raise _Invalid
            out.append(int(text[i:j]))
            i = j
        elif c == " ":
            i += 1
        else:
            raise _Invalid
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := NUMBER | '(' expr ')'"""

    def __init__(self, tokens: list):
        self.tokens, self.pos, self.depth, self.numbers = tokens, 0, 0, []

    def next(self):
        tok = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        self.pos += 1
        return tok

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def binary(self, ops: str, operand) -> Fraction:
        value = operand()
        while self.peek() in tuple(ops):
            op, rhs = self.next(), operand()
            if op == "/" and rhs == 0:
                raise _Invalid
            value = ARITHMETIC[op](value, rhs)
            if abs(value.numerator) > MAX_MAGNITUDE or value.denominator > MAX_MAGNITUDE:
                raise _Invalid
        return value

    def expr(self) -> Fraction:
        return self.binary("+-", lambda: self.binary("*/", self.factor))

    def factor(self) -> Fraction:
        tok = self.next()
        if isinstance(tok, int):
            self.numbers.append(tok)
            return Fraction(tok)
        if tok != "(":
            raise _Invalid  # also rejects unary minus
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Invalid
        value = self.expr()
        if self.next() != ")":
            raise _Invalid
        self.depth -= 1
        return value


def parse_prompt(prompt: str) -> tuple[int, list[int]] | None:
    """`make 24 from 3 5 7` -> (24, [3, 5, 7]); None for anything else."""
    parts = prompt.split(" ") if len(prompt) <= 100 else []
    if len(parts) < 4 or len(parts) > 9 or parts[0] != "make" or parts[2] != "from":
        return None
    numbers = [parse_int(p, max_digits=6) for p in parts[1:2] + parts[3:]]
    if any(n is None for n in numbers):
        return None
    return numbers[0], numbers[1:]


def problem(prompt: str) -> str:
    """Target and sorted numbers: `make 24 from 7 2 5` and `make 24 from 2 5 7` are one problem."""
    parsed = parse_prompt(prompt)
    return prompt if parsed is None else f"{parsed[0]} {sorted(parsed[1])}"


def score(prompt: str, answer: str) -> float:
    parsed = parse_prompt(prompt)
    text = answer.strip(" ") if len(answer) <= 4 * MAX_CHARS else ""
    if parsed is None or not text or len(text) > MAX_CHARS:
        return 0.0
    target, numbers = parsed
    try:
        parser = _Parser(_tokens(text))
        value = parser.expr()
    except _Invalid:
        return 0.0
    if parser.pos != len(parser.tokens) or sorted(parser.numbers) != sorted(numbers):
        return 0.0
    return 1.0 if value == target else 0.0


# --- checking the thinking: is every step of a trace true? (an optional RL reward) ---

STEP = re.compile(r"([0-9]+)([-+*/])([0-9]+)=([0-9]+)")  # not \d: that matches non-ASCII digits too


def check_thinking(prompt: str, thinking: str) -> bool:
    """True when every checkable step of a trace holds: a right answer can hide wrong steps.

    Each attempt starts from the prompt's numbers; every step `a op b = c` must use two numbers
    still available and compute c exactly; an attempt ends `vs TARGET` and then `ok` exactly when
    it is left with one number, the target (reaching it with numbers unused is no solution), and
    the last one (before the closing check) ends `ok`; the closing `EXPR=N` has N = target and EXPR right by `score`.
    `...` (skipped dead ends) is allowed between attempts.
    """
    parsed = parse_prompt(prompt)
    if parsed is None or len(thinking) > 1000:
        return False
    target, numbers = parsed
    *attempts, closing = thinking.split(";")
    if not attempts or not attempts[-1].endswith(" ok"):
        return False
    for attempt in attempts:
        if attempt == "...":
            continue
        words = attempt.split(" ")
        if len(words) < 3:  # not even `vs TARGET ok`: a malformed trace is wrong, never an error
            return False
        *steps, vs, against, verdict = words
        if vs != "vs" or against != str(target):
            return False
        pool, c = list(numbers), None
        for step in steps:
            m = STEP.fullmatch(step)
            if not m:
                return False
            a, op, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
            for n in (a, b):
                if n not in pool:  # a number this attempt does not have, or has used already
                    return False
                pool.remove(n)
            if (op == "/" and b == 0) or ARITHMETIC[op](Fraction(a), Fraction(b)) != c:
                return False
            pool.append(c)
        if c is None or verdict not in ("ok", "no") or (verdict == "ok") != (pool == [target]):
            return False
    expression, _, value = closing.rpartition("=")
    return value == str(target) and score(prompt, expression) == 1.0


TASK = Task(
    name="countdown",
    min_level=2,
    max_level=5,
    level_help="how many numbers (each 1..12, in any order); targets 1..60 up to 3 numbers, 1..100 for 4, 1..200 for 5",
    generate=generate,
    score=score,
    check_thinking=check_thinking,
    problem=problem,
)
