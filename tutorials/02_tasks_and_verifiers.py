# %% [markdown]
# # 02 · Tasks and verifiers: where examples come from, and how an answer is judged
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/02_tasks_and_verifiers.ipynb)
#
# **You will learn:**
# - what a task is in minireason: a generator of worked examples and a strict scorer;
# - how a generator draws data that matches what people type, and how the held-out split works;
# - why scoring is strict (`042` is not `42`), and what a loose verifier lets through;
# - why a verifier must never call Python's `eval()` on a model's answer;
# - how to fuzz a verifier yourself, and how to tell that a fuzzer can find bugs at all.
#
# **Time on a 2-core CPU:** about 10 s (fast mode, `MINIREASON_FAST=1`: about 3 s).
#
# **Assumes:** Python and a little NumPy; tutorial 01.

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %%
import ast
import inspect
import random
import time
from collections import Counter
from fractions import Fraction

from minireason.tasks import TASKS, base, draw, get_task
from minireason.tasks import arithmetic, countdown

# %% [markdown]
# ## 1. A task is two functions
#
# Reasoning models are trained where answers can be *checked*: maths with a known result, code
# with tests. minireason's tasks are small problems of that kind. Each one is a plain record:
# `generate(rng, level)` returns a worked `Example` (prompt, thinking trace, answer) and
# `score(prompt, answer)` returns 1.0 for an exactly right answer and 0.0 for anything else.
# The scorer is the *verifier*: evaluation counts with it, and in reinforcement learning
# (tutorial 07) it is the reward.

# %%
source = inspect.getsource(base)
print(source[source.index("@dataclass(frozen=True)\nclass Example"):source.index("    def bucket")])

# %%
rng = random.Random(0)
print(f"{'task':10} {'levels':7} {'prompt':24} {'answer':10} thinking")
for name, task in TASKS.items():
    ex = task.generate(rng, task.min_level)
    print(f"{name:10} {task.min_level}..{task.max_level:<4} {ex.prompt:24} {ex.answer:10} {ex.thinking[:48]}")
    assert task.score(ex.prompt, ex.answer) == 1.0, f"{name}: a generated answer must pass its own scorer"

# %% [markdown]
# The level is a difficulty knob: for the arithmetic tasks, how many digits each operand may
# have. The traces are what a person writes on paper, one small local step at a time, so that
# a tiny model can learn each step.
#
# ## 2. A generator: data that matches what people type
#
# Here is addition. The digit count of each operand is drawn uniformly *first* and then the
# value: drawing the value uniformly from 0..999 would make 90% of the operands 3-digit, and a
# model trained that way stumbles on `7+5=`. About one draw in eight is made an edge case people
# try first: an operand 0 or 1, or two equal operands (with the one-digit operands that are 0 or 1
# by chance, about a quarter of all draws; a uniform draw from 0..999 would give well under 1%).

# %%
print(inspect.getsource(arithmetic._operand_pair))
print(inspect.getsource(arithmetic._add_columns))
print(inspect.getsource(arithmetic.generate_add))

# %%
rng = random.Random(1)
pairs = [arithmetic._operand_pair(rng, 3) for _ in range(6000)]
digits = Counter(len(str(a)) for a, _ in pairs)
shares = {d: digits[d] / len(pairs) for d in (1, 2, 3)}
edge = sum(a in (0, 1) or b in (0, 1) or a == b for a, b in pairs) / len(pairs)
print("share of first operands by digit count:", {d: round(s, 3) for d, s in shares.items()})
print(f"share of edge cases (0, 1 or equal operands): {edge:.3f}")
assert all(0.27 < s < 0.40 for s in shares.values()), "1, 2 and 3 digits are about equally common"
uniform = sum(a in (0, 1) or b in (0, 1) or a == b for a, b in ((rng.randint(0, 999), rng.randint(0, 999))
                                                                  for _ in range(6000))) / 6000
print(f"the same share if values were drawn uniformly from 0..999: {uniform:.3f}")
assert edge > 0.18 and uniform < 0.02, "edge cases: one in eight by design, and one-digit operands are often 0 or 1"

# %% [markdown]
# Every generated answer must pass the task's own scorer, and a wrong answer must fail it. The
# project's tests check this for every task and level; here is the same check, on 30 examples of
# each:

# %%
for name, task in TASKS.items():
    for level in range(task.min_level, task.max_level + 1):
        rng = random.Random(f"{name}/{level}")
        for _ in range(30):
            ex = task.generate(rng, level)
            assert task.score(ex.prompt, ex.answer) == 1.0, (name, level, ex)
            assert task.score(ex.prompt, ex.answer + "1") == 0.0, f"{name}: a changed answer must fail: {ex}"
print("every generated answer passes its scorer; every changed one fails")

# %% [markdown]
# ### The held-out split
#
# To measure whether a model *generalises*, we evaluate it on problems it never trained on. A
# stable hash of the problem puts every prompt in one of ten buckets; bucket 0 is held out.
# The hash is over the *problem*, not its spelling: `5+3=` and `3+5=` are one problem, so a
# model that trained on one is not credited with "generalising" to the other. One exception,
# `Task.trained`: `0+0=` hashes to bucket 0 but stays in training. It is the only addition whose
# answer is `0`; held out, a model never sees an answer start with 0 and writes `00` after working
# the column right. A held-out set should test what training could have taught.

# %%
print(inspect.getsource(base.Task.bucket))
add = get_task("add")
print("bucket of 5+3= and 3+5=:", add.bucket("5+3="), add.bucket("3+5="))
assert add.bucket("5+3=") == add.bucket("3+5="), "one problem, one bucket"
assert "0+0=" in add.trained and not add.is_heldout("0+0="), "the only sum 0 is trained"

rng = random.Random(2)
prompts = [add.generate(rng, 3).prompt for _ in range(5000)]
held = sum(add.is_heldout(p) for p in prompts) / len(prompts)
print(f"share of held-out prompts: {held:.3f}")
assert 0.08 < held < 0.12, "one problem in ten is held out"
train = {draw(add, rng, 3, heldout=False).prompt for _ in range(500)}
test = {draw(add, rng, 3, heldout=True).prompt for _ in range(500)}
assert not any(add.is_heldout(p) for p in train) and all(add.is_heldout(p) for p in test)
assert not train & test, "training and held-out draws never share a prompt"

# %% [markdown]
# ## 3. Strict scoring
#
# The answer format is part of the task: integers are written in decimal, with a leading `-`
# when negative, no `+`, no leading zeros, no spaces inside. Only spaces around the answer are
# forgiven. The scorer compares text exactly:

# %%
print(inspect.getsource(base.exact))
print(inspect.getsource(arithmetic._scorer))

# %%
answers = ["42", " 42 ", "042", "+42", "42.0", "4 2", "4_2", "forty-two", "42=42", ""]
strict = {a: add.score("12+30=", a) for a in answers}
print({a: s for a, s in strict.items()})
assert [a for a, s in strict.items() if s == 1.0] == ["42", " 42 "], "only the exact answer (and spaces) pass"

# %% [markdown]
# Why so strict? Compare a verifier that looks reasonable: convert the answer with `int()` and
# compare numbers. Python's `int()` is generous: it accepts a sign, leading zeros, spaces and
# even underscores between digits.

# %%
def loose_score(prompt: str, answer: str) -> float:
    """A verifier one might write in a hurry. Do not use it."""
    a, b = prompt[:-1].split("+")
    try:
        return float(int(answer) == int(a) + int(b))
    except ValueError:
        return 0.0


loose = {a: loose_score("12+30=", a) for a in answers}
let_through = [a for a in answers if loose[a] == 1.0 and strict[a] == 0.0]
print("the loose verifier also accepts:", let_through)
assert set(let_through) == {"042", "+42", "4_2"}, "int() accepts what the task format forbids"

# %% [markdown]
# In evaluation a loose verifier only inflates a number. In reinforcement learning it is much
# worse: the model is *optimised* to get reward, and it will find whatever the verifier lets
# through. Tutorial 07 shows a policy doing exactly that ("reward hacking").
#
# ## 4. Never `eval()` a model's answer
#
# A countdown answer is an arithmetic expression: `make 24 from 2 5 7` is solved by `(7+5)*2`.
# The shortest possible verifier is `eval(answer) == target`. Never write it:
#
# - `eval` runs any Python. An answer such as `__import__('os').system('rm -rf ~')` would run a
#   shell command on your machine. A model trained by RL explores strange strings, and the text it
#   writes is not under your control.
# - Even plain arithmetic can hang: `9**9**9` has hundreds of millions of digits.
# - It checks the wrong thing: `24` evaluates to 24, but does not use the numbers 2, 5 and 7.
#
# (We do not run any of these with `eval` here, of course.) minireason parses the expression
# with a small recursive-descent parser of its own: numbers, `+ - * /` and parentheses, and
# nothing else; exact fractions instead of floats; limits on length, nesting depth and the size
# of intermediate values. Then it checks that each given number is used exactly once.

# %%
print(inspect.getsource(countdown.score))
print(inspect.getsource(countdown._Parser))

# %%
prompt = "make 24 from 2 5 7"
hostile = ["(7+5)*2", "2*(5+7)", "24", "(7+5)*2+0", "(7+5)*2*1", "7+5+12", "(7+5)*2.0", "-2*-12+0*5*7",
           "__import__('os').system('rm -rf ~')", "9**9**9", "(" * 9 + "2" + ")" * 9 + "*(7+5)",
           "(7+5)*2" + " " * 1_000_000]
for answer in hostile:
    start = time.perf_counter()
    s = countdown.score(prompt, answer)
    ms = 1000 * (time.perf_counter() - start)
    print(f"{answer[:40]!r:44} score {s}  ({ms:.2f} ms)")
    assert ms < 100, "the scorer answers fast, whatever the input"
    assert s == (1.0 if answer in ("(7+5)*2", "2*(5+7)") else 0.0), f"{answer[:40]!r}"

# %% [markdown]
# ## 5. Fuzz a verifier yourself
#
# A verifier is a parser of hostile text, so test it the way parsers are tested: throw thousands
# of random inputs at it. A useful fuzzer needs two things:
#
# 1. inputs that are *near* the interesting boundary (random bytes are almost always rejected
#    at the first character, which tests little): here, expressions built from the prompt's own
#    numbers, sometimes with a number dropped, repeated or added, then randomly mutated;
# 2. an *oracle* that says what the answer should be, written independently. Ours uses Python's
#    `ast` module. `ast.parse` only *parses* text into a tree, it never runs it, so it is
#    safe; we then accept only integer literals and `+ - * /`, and compute with exact fractions.
#
# (The project's own tests do the same with the `hypothesis` library, which also shrinks a
# failing input to a minimal one; a plain loop is enough to see the idea.)

# %%
OPS = {ast.Add: Fraction.__add__, ast.Sub: Fraction.__sub__, ast.Mult: Fraction.__mul__, ast.Div: Fraction.__truediv__}


def reference_score(prompt: str, answer: str, as_set: bool = False) -> float:
    """The countdown rules, by a different route: Python's parser (never its evaluator) and exact fractions.

    as_set=True plants a bug: it compares the sets of numbers, so a number may be used more than once.
    """
    target, numbers = countdown.parse_prompt(prompt)
    text = answer.strip(" ")
    depth = max(text[:i].count("(") - text[:i].count(")") for i in range(len(text) + 1))
    if not text or len(text) > countdown.MAX_CHARS or depth > countdown.MAX_DEPTH:  # the task's size limits
        return 0.0
    used = []

    def value(node) -> Fraction:
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return OPS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Constant) and type(node.value) is int:
            used.append(node.value)
            return Fraction(node.value)
        raise ValueError("not allowed")

    try:
        result = value(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return 0.0
    numbers_ok = set(used) == set(numbers) if as_set else sorted(used) == sorted(numbers)
    return float(result == target and numbers_ok)


def random_answer(rng: random.Random, right: str, numbers: list[int]) -> str:
    """Near-misses: a right answer or a random expression of the numbers, then rewritten and mutated."""
    if rng.random() < 0.5:
        text = right
    else:
        items = [str(n) for n in rng.sample(numbers, len(numbers))]
        change = rng.random()
        if change < 0.15:
            items = items[1:]  # a number dropped
        elif change < 0.3:
            items.append(rng.choice(items))  # a number used twice
        elif change < 0.4:
            items.append(str(rng.randint(0, 13)))  # a number that was not given
        while len(items) > 1:  # join neighbours with a random operator, sometimes in parentheses
            i = rng.randrange(len(items) - 1)
            term = items[i] + rng.choice("+-*/") + items[i + 1]
            items[i:i + 2] = [f"({term})" if rng.random() < 0.5 else term]
        text = items[0]
    if rng.random() < 0.2:  # a rewrite that keeps the value but uses a number once more
        n = rng.choice(numbers)
        text = rng.choice([f"{text}+{n}-{n}", f"({text})*{n}/{n}"])
    for _ in range(rng.choice([0, 0, 1, 2])):  # then a few random character edits
        i = rng.randint(0, len(text))
        text = text[:i] + rng.choice("0123456789+-*/() x.") + text[i + 1:]
    return text


def fuzz(score, n: int, seed: int = 0) -> tuple[list[tuple[str, str, float, float]], int]:
    """(disagreements (prompt, answer, score, reference), answers the reference accepts) over n random answers."""
    rng, task, found, right = random.Random(seed), get_task("countdown"), [], 0
    for _ in range(n):
        ex = task.generate(rng, rng.randint(2, 4))
        answer = random_answer(rng, ex.answer, countdown.parse_prompt(ex.prompt)[1])
        got, want = score(ex.prompt, answer), reference_score(ex.prompt, answer)
        assert got in (0.0, 1.0), f"a score is 0 or 1, got {got!r}"
        right += want == 1.0
        if got != want:
            found.append((ex.prompt, answer, got, want))
    return found, right


# %% [markdown]
# Before trusting a fuzzer that finds nothing, check that it *can* find something. Plant a bug: a
# verifier that checks the *set* of numbers used instead of counting them (it would accept
# `(7+5)*2+7-7` for `make 24 from 2 5 7`). A fuzzer that misses this bug would be worthless.

# %%
def buggy_score(prompt: str, answer: str) -> float:
    return reference_score(prompt, answer, as_set=True)


N = 1000 if FAST else 5000  # fast mode: fewer random answers (the planted bug shows up dozens of times in 1000)
start = time.perf_counter()
planted, right = fuzz(buggy_score, N)
print(f"{len(planted)} disagreements with the planted bug in {N} answers; the first few:")
for case in planted[:3]:
    print("  ", case)
assert planted and all(got == 1.0 and want == 0.0 for *_, got, want in planted), "the fuzzer finds the planted bug"

real, right = fuzz(countdown.score, N)
print(f"{len(real)} disagreements between countdown.score and the reference in {N} answers "
      f"({time.perf_counter() - start:.1f} s for both runs)")
assert not real, f"countdown.score disagrees with the reference: {real[:3]}"

# %% [markdown]
# The same fuzzer found the planted bug and found nothing in the real scorer. One more thing to
# check: agreement is cheap if almost every random answer is wrong (both verifiers say 0 to
# everything). The near-miss inputs make sure both sides of the verifier are exercised:

# %%
print(f"{right} of {N} random answers were right ({right / N:.0%})")
assert 0.1 < right / N < 0.9, "the fuzzer reaches both the accepting and the rejecting side of the verifier"

# %% [markdown]
# ## Exercises
#
# 1. (graded in assignment a1) Write a strict scorer for `sub` (`503-78=`): parse the prompt
#    yourself, reject leading zeros, `+`, `-0` and anything that is not a plain integer, and never
#    raise, whatever the text. Fuzz it against `get_task("sub").score` with a loop like the one above.
# 2. Plant another bug in a copy of `reference_score` (for example: forget the depth limit, or use
#    floats instead of fractions: can you find a prompt where `6/(1-3/4)` goes wrong in floats?).
#    Does the fuzzer find it? If not, change `random_answer` until it does.
# 3. Rewrite the fuzz loop with `hypothesis` (`pip install hypothesis`; see `tests/test_tasks.py`)
#    and compare the failing examples it reports with those of the plain loop.
# 4. `draw(task, rng, level, heldout=True)` rejects about nine draws in ten. For which task and
#    level would that be slow, and what does `heldout_examples` do about tiny levels?
#
# Next: [03 · The transformer](03_transformer.ipynb): the model that will learn to write these traces.
