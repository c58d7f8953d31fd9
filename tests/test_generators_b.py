"""The equation, countdown and logic generators write what people type, at every shipped level.

Edge cases come at useful rates (short constants, constant first, x on the right, countdown numbers
in any order, a logic literal alone, minimal parentheses), every answer scores, every trace step
holds, the held-out split keys on the problem, and `heldout_examples` stops when a pool runs out.
"""

import functools
import itertools
import random
import re

import pytest

from minireason.tasks import TASKS, Example, _heldout_examples, heldout_examples
from minireason.tasks import countdown, equation, logic

N = 2000


@functools.cache
def drawn(name: str, level: int) -> tuple:
    rng = random.Random(f"generators_b/{name}/{level}")
    return tuple(TASKS[name].generate(rng, level) for _ in range(N))


def share(examples, pred) -> float:
    return sum(bool(pred(ex)) for ex in examples) / len(examples)


# --- equation ---------------------------------------------------------------------------------

def x_side(prompt: str) -> str:
    return next(s for s in prompt.split("=") if "x" in s)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_equation_writes_every_form(level):
    exs = drawn("equation", level)
    constants = lambda ex: re.findall(r"\d+(?![\dx])", ex.prompt)  # noqa: E731
    assert share(exs, lambda ex: any(len(c) == 1 for c in constants(ex))) >= 0.2
    assert share(exs, lambda ex: re.match(r"-?\d+[-+]", x_side(ex.prompt))) >= 0.3  # `5+x`, `7-2x`
    assert share(exs, lambda ex: "x" in ex.prompt.split("=")[1]) >= 0.3  # `20=3x+5`
    assert share(exs, lambda ex: re.fullmatch(r"-?\d*x", x_side(ex.prompt))) >= 0.02  # `3x=12`
    assert share(exs, lambda ex: "0" in ex.prompt.split("=")) >= 0.01  # `x+5=0`
    assert share(exs, lambda ex: x_side(ex.prompt) == "x") >= 0.005  # `x=7`, `7=x`
    assert share(exs, lambda ex: re.search(r"(^|=)0[-+]|[-+]0($|=)", ex.prompt)) >= 0.01  # `x+0=7`, `0-3x=6`
    assert share(exs, lambda ex: re.search(r"(^|[-+=])x", ex.prompt)) >= 0.05  # coefficient 1 or -1 as `x`, `-x`


@pytest.mark.parametrize("level", [1, 2, 3])
def test_equation_answers_score_and_every_step_holds(level):
    for ex in drawn("equation", level):
        assert equation.score(ex.prompt, ex.answer) == 1.0, ex
        assert ex.thinking.split(",")[-1] == f"x={ex.answer}", ex
        for step in ex.thinking.split(","):
            if re.fullmatch(r"-?\d*x=-?\d+", step):  # `3x=15`, `-x=16`: still the same equation
                assert equation.solve(step) == int(ex.answer), (ex, step)


@pytest.mark.parametrize("form", [r"\d+\+x=-?\d+", r"-?\d+=\d+\+x", r"-x=-?\d+", r"0=\d+x-\d+", r"x=-?\d+", r"-?\d+=x"])
def test_equation_hand_written_forms_are_drawn_and_solved(form):  # `5+x=8`, `8=5+x`, `-x=3`, `0=2x-6`, `x=7`, `7=x`
    found = [ex for level in (1, 2, 3) for ex in drawn("equation", level) if re.fullmatch(form, ex.prompt)]
    assert found
    assert all(equation.score(ex.prompt, ex.answer) == 1.0 for ex in found)
    assert all(ex.thinking.split(",")[-1] == f"x={ex.answer}" for ex in found)


def test_equation_written_zero_is_dropped_first():
    zeros = [ex for ex in drawn("equation", 2) if re.search(r"(^|=)0[-+]|[-+]0($|=)", ex.prompt)]
    assert {"+0", "-0"} <= {z for ex in zeros for z in re.findall(r"[-+]0(?=$|=)", ex.prompt)}
    for ex in zeros:  # `0-3x=6` thinking `-3x=6,...`: the same equation with the 0 gone
        first = ex.thinking.split(",")[0]
        assert "0" not in re.sub(r"=-?\d+$", "", first) and equation.solve(first) == int(ex.answer), ex


def test_equation_x_alone_is_restated():
    lone = [ex for ex in drawn("equation", 1) if x_side(ex.prompt) == "x"]
    assert lone
    assert all(ex.thinking == f"x={ex.answer}" for ex in lone)


def test_equation_problem_joins_spellings():
    spellings = ["x+5=20", "5+x=20", "20=x+5", "20=5+x"]
    assert len({equation.problem(p) for p in spellings}) == 1
    assert len({TASKS["equation"].is_heldout(p) for p in spellings}) == 1
    assert equation.problem("x+5=20") != equation.problem("x+5=21")
    assert equation.problem("3x+5=20") == equation.problem("20=5+3x")


# --- countdown --------------------------------------------------------------------------------

def numbers(ex) -> list[int]:
    return [int(n) for n in ex.prompt.split(" ")[3:]]


@pytest.mark.parametrize("level", [2, 3])
def test_countdown_numbers_come_in_any_order(level):
    exs = drawn("countdown", level)
    assert share(exs, lambda ex: numbers(ex)[0] != min(numbers(ex))) >= 0.4
    orders = {tuple(sorted(range(level), key=numbers(ex).__getitem__)) for ex in exs if len(set(numbers(ex))) == level}
    assert orders == set(itertools.permutations(range(level)))
    assert share(exs, lambda ex: int(ex.prompt.split(" ")[1]) < 10) >= 0.05  # small targets: `make 5 from 2 3`


@pytest.mark.parametrize("level", [2, 3])
def test_countdown_answers_score_and_traces_check_out(level):
    for ex in drawn("countdown", level):
        assert countdown.score(ex.prompt, ex.answer) == 1.0, ex
        assert countdown.check_thinking(ex.prompt, ex.thinking), ex


def test_countdown_problem_joins_orders():
    spellings = [f"make 24 from {' '.join(p)}" for p in itertools.permutations(["3", "5", "7", "12"])]
    assert len({countdown.problem(p) for p in spellings}) == 1
    assert len({TASKS["countdown"].is_heldout(p) for p in spellings}) == 1
    assert countdown.problem("make 24 from 3 5 7 12") != countdown.problem("make 25 from 3 5 7 12")


def test_countdown_check_rejects_a_partial_ok():
    assert not countdown.check_thinking("make 12 from 3 3 4 10", "3*4=12 vs 12 ok;10+3-4+3=12")
    good = "3*4=12 vs 12 no;10+3=13 13-4=9 9+3=12 vs 12 ok;10+3-4+3=12"
    assert countdown.check_thinking("make 12 from 3 3 4 10", good)
    assert not countdown.check_thinking("make 12 from 3 3 4 10", good.replace("vs 12 ok", "vs 13 ok"))
    assert not countdown.check_thinking("make 12 from 3 3 4 10", good.replace(" vs 12 ok", " ok"))


def test_countdown_check_rejects_non_ascii_digits():
    assert countdown.check_thinking("make 24 from 2 5 7", "7+5=12 12*2=24 vs 24 ok;(7+5)*2=24")
    assert not countdown.check_thinking("make 24 from 2 5 7", "7+5=12 12*2=2\u0664 vs 24 ok;(7+5)*2=24")  # Arabic-Indic 4


# --- logic ------------------------------------------------------------------------------------

def top_level_operators(prompt: str) -> int:
    depth, count = 0, 0
    for c in prompt:
        depth += {"(": 1, ")": -1}.get(c, 0)
        count += depth == 0 and c in "&^|"
    return count


def test_logic_level_1_has_literals():
    exs = drawn("logic", 1)
    assert share(exs, lambda ex: ex.prompt in ("T", "F")) >= 0.005
    assert share(exs, lambda ex: re.fullmatch(r"!+[TF]", ex.prompt)) >= 0.01
    assert all(ex.thinking == ex.prompt == ex.answer for ex in exs if ex.prompt in ("T", "F"))
    assert [ex.thinking for ex in exs if ex.prompt == "!!F"][0] == "!T,F"


@pytest.mark.parametrize("level", [2, 3])
def test_logic_minimal_parentheses_are_drawn(level):
    # Full parentheses leave one binary operator outside them; two or more means minimal ones.
    assert share(drawn("logic", level), lambda ex: top_level_operators(ex.prompt) >= 2) >= 0.08


@pytest.mark.parametrize("level", [1, 2, 3])
def test_logic_whole_expression_and_unneeded_parentheses_are_drawn(level):
    exs = drawn("logic", level)
    assert share(exs, lambda ex: ex.prompt.startswith("(") and top_level_operators(ex.prompt) == 0) >= 0.08
    assert share(exs, lambda ex: ex.prompt.startswith("((") and re.search(r"[&^|]", ex.prompt)
                 and top_level_operators(ex.prompt[1:-1]) == 0) >= 0.01  # `((T|F))`
    if level > 1:  # `T|(F&F)|T`: minimal form (two operators outside parentheses) with an unneeded pair
        assert share(exs, lambda ex: top_level_operators(ex.prompt) >= 2 and "(" in ex.prompt) >= 0.03


@pytest.mark.parametrize("level", [1, 2, 3])
def test_logic_parenthesised_negations_are_drawn(level):
    exs = drawn("logic", level)
    assert share(exs, lambda ex: re.search(r"\(![TF]\)", ex.prompt)) >= 0.02
    if level == 1:  # `!(!T)` spelled the way people spell it
        assert share(exs, lambda ex: re.fullmatch(r"!\(![TF]\)", ex.prompt)) >= 0.005


@pytest.mark.parametrize("level", [1, 2, 3])
def test_logic_twice_negated_literals_inside_expressions_are_drawn(level):  # `F|!!T`, `T&!!(F)`
    inside = lambda ex: re.search(r"!!\(*[TF]", ex.prompt) and re.search(r"[&^|]", ex.prompt)
    assert share(drawn("logic", level), inside) >= 0.03


@pytest.mark.parametrize("level", [1, 2, 3])
def test_logic_parenthesised_literals_are_drawn(level):  # `(T)|F`, `!(F)`: redundant, and people write them
    exs = drawn("logic", level)
    assert share(exs, lambda ex: re.search(r"\([TF]\)", ex.prompt)) >= 0.02
    if level == 1:
        rng = random.Random(1)
        traces = {ex.prompt: ex.thinking for ex in (logic.generate(rng, 1) for _ in range(20_000))}
        assert {"(T)", "(F)", "!(T)", "!(F)", "((T))", "!((F))", "!!(T)", "!(!(F))"} <= traces.keys()
        assert traces["!((F))"] == "!F,T" and traces["!!(T)"] == "!!T,!F,T"


class Heads:
    """An rng whose every coin comes up below 0.25: the minimal rendering, the whole expression wrapped twice."""

    def random(self) -> float:
        return 0.0


def test_logic_minimal_prompt_has_a_minimal_trace(monkeypatch):
    monkeypatch.setattr(logic, "_tree", lambda rng, height: ("|", True, ("&", ("^", False, True), False)))
    assert logic.generate(Heads(), 2) == Example("((T|(F^T)&F))", "((T|T&F)),((T|F)),T", "T")


@pytest.mark.parametrize("level", [1, 2, 3])
def test_logic_every_step_evaluates_to_the_answer(level):
    for ex in drawn("logic", level):
        assert logic.score(ex.prompt, ex.answer) == 1.0, ex
        for step in ex.thinking.split(","):
            assert logic.evaluate(step) == (ex.answer == "T"), (ex, step)


def test_logic_minimal_rendering_means_the_same():
    rng = random.Random(3)
    for _ in range(2000):
        node = logic._tree(rng, rng.randint(1, 4))
        full, minimal = logic._render(node), logic._render(node, minimal=True)
        assert logic.evaluate(minimal) == logic.evaluate(full), (full, minimal)
        assert logic.problem(minimal) == logic.problem(full)
    assert logic._render(("|", True, ("&", False, False)), minimal=True) == "T|F&F"
    assert logic._render(("&", ("|", True, False), True), minimal=True) == "(T|F)&T"
    assert logic._render(("|", True, ("|", False, True)), minimal=True) == "T|(F|T)"  # left grouping kept


def test_logic_problem_joins_spellings():
    assert logic.problem("T|(F&T)") == logic.problem("T|F&T")
    assert TASKS["logic"].is_heldout("T|(F&T)") == TASKS["logic"].is_heldout("T|F&T")


# --- heldout_examples -------------------------------------------------------------------------

@pytest.mark.parametrize("name,level", [("add", 1), ("logic", 1), ("countdown", 2), ("equation", 1)])
def test_heldout_examples_stop_when_the_pool_runs_out(name, level):
    exs = heldout_examples(name, level, 100_000)
    assert 0 < len(exs) < 100_000
    assert len({ex.prompt for ex in exs}) == len(exs)
    assert all(TASKS[name].is_heldout(ex.prompt) for ex in exs)


def test_heldout_examples_are_deterministic():
    first = heldout_examples("equation", 2, 300)
    _heldout_examples.cache_clear()
    assert heldout_examples("equation", 2, 300) == first
    assert heldout_examples("equation", 2, 100) == first[:100]
    assert heldout_examples("equation", 2, 300, seed=7) != first
