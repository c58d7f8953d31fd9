"""Boolean logic: evaluate `T&(F|!T)` -> `F`.

Why it is in the suite: step-by-step evaluation is the textbook case for chain of thought; an
answer at a glance must juggle the whole expression at once, while the trace only ever does a
small local rewrite. It is also a clean test of "more thinking for harder problems": the trace
grows with the nesting depth.

Operators: `!` not, `&` and, `^` xor, `|` or. Precedence, tightest first: `!`, `&`, `^`, `|`,
binary operators grouping to the left (as in C and Python). People parenthesise in every way, so
half the prompts put parentheses around every nested binary operation, a quarter only where
precedence needs them (`T|F&F`), a quarter around some others too (`T|(F&F)|T`, `!(!F)`,
`(T)|F`), and one in eight wraps the whole expression (`(F^!F)`, a fifth of those twice). The
trace keeps the prompt's parentheses (`T|F,T`).

Trace: each step rewrites the whole expression, reducing at once every innermost piece: a
negated literal (`!T` -> `F`), a literal in parentheses (`(T)` -> `T`) or an operator between two
literals, with its parentheses (`(F|F)` -> `F`). Steps are joined by `,`; the last is the answer:

    T&(F|!T)   thinking `T&(F|F),T&F,F`   answer `F`

Levels: the level is the nesting depth of binary operators (1..4): `T^!F`, `(T|F)&!T`, ...
Literals are negated one time in four (a fifth of those twice, `F|!!T`), parenthesised
subexpressions one time in seven. Level 1 also has, one time in twenty, a literal alone or
negated (`T`, `!F`, `!!T`, `(F)`, `!(T)`, `((F))`, `!((T))`, `!(!T)`, `!!(F)`; the trace of `T` is
`T`).
"""

import random

from .base import Example, Task, exact

APPLY = {"&": lambda a, b: a and b, "^": lambda a, b: a != b, "|": lambda a, b: a or b}
BIND = {"|": 1, "^": 2, "&": 3}  # how tightly each operator binds; `!` binds tighter than all

# An expression is a bool (a literal), ("!", x), (op, left, right), or ("()", x): x written in
# parentheses that precedence does not need.


def _tree(rng: random.Random, height: int):
    if height == 0:
        leaf = rng.random() < 0.5
        negations = 0 if rng.random() >= 0.25 else 2 if rng.random() < 0.2 else 1  # `!T`, now and then `!!T`
        for _ in range(negations):
            leaf = ("!", leaf)
        return leaf
    tall, other = _tree(rng, height - 1), _tree(rng, rng.randint(0, height - 1))
    node = (rng.choice("&^|"), *((tall, other) if rng.random() < 0.5 else (other, tall)))
    return ("!", node) if rng.random() < 1 / 7 else node


def _parenthesise(node, rng: random.Random, p: float):
    """Wrap each nested binary operation in parentheses with probability p, a nested negation with p / 2
    (`(!T)&F`, `!(!F)`), a literal with p / 8 (`(T)|F`, `!(F)`)."""
    if isinstance(node, bool):
        return node
    share = lambda x: p / 8 if isinstance(x, bool) else p / 2 if x[0] == "!" else p
    wrap = lambda x: ("()", x) if rng.random() < share(x) else x
    if node[0] == "()":
        return "()", _parenthesise(node[1], rng, p)
    if node[0] == "!":
        inner = _parenthesise(node[1], rng, p)
        return "!", (inner if isinstance(inner, tuple) and inner[0] != "!" else wrap(inner))
    op, a, b = node
    return op, wrap(_parenthesise(a, rng, p)), wrap(_parenthesise(b, rng, p))


def _render(node, minimal: bool = False, outer: int = 0) -> str:
    """The expression as text; `outer` is how tightly the operator around it binds (0: nothing around it).

    Fully parenthesised, every nested binary operation gets parentheses; minimal, only one that binds
    looser than its operator, or as loosely on the right (operators group to the left).
    """
    if isinstance(node, bool):
        return "T" if node else "F"
    if node[0] == "!":
        return "!" + _render(node[1], minimal, outer=len(BIND) + 1)
    if node[0] == "()":
        return "(" + _render(node[1], minimal) + ")"
    op, a, b = node
    text = _render(a, minimal, BIND[op]) + op + _render(b, minimal, BIND[op] + 1)
    return f"({text})" if outer > (BIND[op] if minimal else 0) else text


def _step(node):
    """Reduce every innermost piece at once."""
    if isinstance(node, bool):
        return node
    if node[0] == "!":
        return (not node[1]) if isinstance(node[1], bool) else ("!", _step(node[1]))
    if node[0] == "()":
        inner = _step(node[1])
        return inner if isinstance(inner, bool) else ("()", inner)
    op, a, b = node
    if isinstance(a, bool) and isinstance(b, bool):
        return APPLY[op](a, b)
    return op, _step(a), _step(b)


def generate(rng: random.Random, level: int) -> Example:
    if level == 1 and rng.random() < 0.05:  # edge cases people try first: `T`, `!F`, `(F)`, `!((T))`, `!(!T)`, `!!(F)`
        node = rng.random() < 0.5
        if rng.random() < 0.3:  # in parentheses: `(F)`, or `((F))` two times in five
            node = ("()", ("()", node) if rng.random() < 0.4 else node)
        for i in range(rng.randint(0, 2)):
            node = ("!", ("()", node) if i == 1 and rng.random() < 0.6 else node)  # `!(!T)`
    else:
        node = _tree(rng, level)
    style = rng.random()
    minimal = style < 0.5
    if 0.25 <= style < 0.5:  # minimal parentheses plus some that are not needed
        node = _parenthesise(node, rng, 0.5)
    if isinstance(node, tuple) and node[0] != "!" and rng.random() < 1 / 8:  # the whole expression
        node = ("()", ("()", node) if rng.random() < 0.2 else node)  # now and then twice: `((T|F))`
    prompt, steps = _render(node, minimal), []
    while not isinstance(node, bool):
        node = _step(node)
        steps.append(_render(node, minimal))
    return Example(prompt, ",".join(steps) or prompt, _render(node))


def problem(prompt: str) -> str:
    """The prompt without parentheses, shared by every spelling of one tree (`T|(F&T)`, `T|F&T`). Different
    trees may share it too (`(T|F)&T`); that only puts them on the same side of the split, which is harmless."""
    return prompt.replace("(", "").replace(")", "")


# --- scoring: a small recursive-descent parser with limits ------------------------------------

MAX_CHARS = 256
MAX_DEPTH = 64  # nested parentheses and negations together


class _Invalid(Exception):
    pass


class _Parser:
    ORDER = "|^&"  # loosest first

    def __init__(self, text: str):
        self.text, self.pos, self.depth = text, 0, 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def binary(self, level: int = 0) -> bool:
        if level == len(self.ORDER):
            return self.unary()
        value = self.binary(level + 1)
        while self.peek() == self.ORDER[level]:
            self.pos += 1
            value = APPLY[self.ORDER[level]](value, self.binary(level + 1))
        return value

    def unary(self) -> bool:
        c = self.peek()
        self.pos += 1
        if c in ("T", "F"):
            return c == "T"
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Invalid
        if c == "!":
            value = not self.unary()
        elif c == "(":
            value = self.binary()
            if self.peek() != ")":
                raise _Invalid
            self.pos += 1
        else:
            raise _Invalid
        self.depth -= 1
        return value


def evaluate(expression: str) -> bool | None:
    """The truth value of an expression over T/F, or None if it is malformed or too big."""
    if not expression or len(expression) > MAX_CHARS:
        return None
    parser = _Parser(expression)
    try:
        value = parser.binary()
    except _Invalid:
        return None
    return value if parser.pos == len(expression) else None


def score(prompt: str, answer: str) -> float:
    value = evaluate(prompt)
    return 0.0 if value is None else exact(answer, "T" if value else "F")


TASK = Task(
    name="logic",
    min_level=1,
    max_level=4,
    level_help="nesting depth of the binary operators (! & ^ |); level 1 also `T`, `!!F`",
    generate=generate,
    score=score,
    problem=problem,
)
