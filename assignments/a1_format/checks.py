"""Grader of assignment a1: the format against minireason's tokenizer, the verifier against the
package's equation solver on generated, hand-picked and hostile inputs, and a tiny model that must
learn the format from the student's rendered examples."""

import functools
import random
import time

import jax
import numpy as np
from flax import nnx

from gradelib import Fail, Parts, require
from minireason.config import OptimConfig
from minireason.model import ModelConfig, Transformer
from minireason.sampler import SampleConfig, pad_prompts, sample
from minireason.sft import make_optimizer, make_train_step
from minireason.tasks import Example, draw, get_task
from minireason.tasks.equation import score as ref_score, solve as ref_solve
from minireason.tokenizer import END_THINK_ID, EOS_ID, THINK_ID, BOS_ID, decode, encode, parse_completion, render

PARTS = Parts()
EXAMPLES = [Example("1+2=", "3", "3"), Example("T&(F|!T)", "T&(F|F),T&F,F", "F"), Example("x+5=3", "x=3-5", "-2"),
            Example("count r in strawberry", "s0 t0 r1", "3"), Example("a", "", "")]


def _render(mod, ex, think):
    out = mod.render(ex, think=think)
    require(isinstance(out, tuple) and len(out) == 2, f"render must return a pair (ids, loss_mask); got {out!r}")
    ids, mask = (list(map(int, x)) for x in out)
    require(len(ids) == len(mask), f"render({ex}, think={think}): ids and loss_mask differ in length "
                                   f"({len(ids)} and {len(mask)})")
    return ids, mask


def _names(ids):
    return [decode([i]) for i in ids]


@PARTS("render", 10, "render: the token ids of <bos> PROMPT <think> THINKING </think> ANSWER <eos>, both formats")
def render_ids(mod):
    for think in (True, False):
        for ex in EXAMPLES:
            ids, _ = _render(mod, ex, think)
            want = render(ex, think)[0]
            require(ids == want, f"render({ex}, think={think}) ids: expected {_names(want)}, got {_names(ids)}")


@PARTS("loss_mask", 10, "render: the loss mask covers the thinking, </think>, the answer and <eos>, never the prompt")
def loss_mask(mod):
    for think in (True, False):
        for ex in EXAMPLES:
            ids, mask = _render(mod, ex, think)
            want = render(ex, think)[1]
            if mask != want:
                on = [n for n, m in zip(_names(ids), mask) if m]
                raise Fail(f"render({ex}, think={think}) loss_mask: expected {want}, got {mask} (your mask is 1 on "
                           f"{on}; it must be 1 exactly on the tokens after <think>)")


def _completions():
    """Hand-made completions (the tricky cases first), then random ones over a small alphabet."""
    d = lambda s: encode(s)
    cases = [d("ab") + [END_THINK_ID] + d("7") + [EOS_ID], d("ab") + [END_THINK_ID] + d("7") + [EOS_ID] + d("zz"),
             [END_THINK_ID, EOS_ID], d("ab") + [END_THINK_ID] + d("7"), d("ab") + [EOS_ID],
             d("a") + [END_THINK_ID] + d("7") + [END_THINK_ID] + d("8") + [EOS_ID],
             d("a") + [END_THINK_ID] + d("7") + [EOS_ID, END_THINK_ID], [THINK_ID] + d("a") + [END_THINK_ID, EOS_ID],
             d("a") + [END_THINK_ID, BOS_ID] + d("1") + [EOS_ID], [EOS_ID], [], d("a") + [END_THINK_ID, 0, 0] + d("1"),
             d("a") + [END_THINK_ID] + d("1") + [EOS_ID, 0, 0]]
    rng = random.Random(0)
    alphabet = [0, BOS_ID, EOS_ID, THINK_ID, END_THINK_ID, *d("7x ")]
    cases += [[rng.choice(alphabet) for _ in range(rng.randint(0, 8))] for _ in range(300)]
    return cases


@PARTS("parse", 15, "parse_completion: thinking, answer and well-formedness of what a model wrote")
def parse(mod):
    for ids in _completions():
        got, want = mod.parse_completion(list(ids)), parse_completion(list(ids))
        require(got is not None and tuple(got) == tuple(want) and type(got[2]) in (bool, np.bool_),
                f"parse_completion({_names(ids)}): expected {want!r}, got {got!r}")


def _equations():
    rng, task = random.Random(0), get_task("equation")
    made = [task.generate(rng, level).prompt for level in (1, 2, 3, 4) for _ in range(40)]
    return ["x+5=20", "-x+4=1", "7-2x=-3", "20=3x+5", "4x=-12", "x=7", "2x=3", "0x=5", "x=x", "3x+5=20=1", "2x-x=4",
            "x+x+x+x=8", "x+x+x+x+x=10", "-0x+x=0", "0=x", "5=x-0"] + made


def _checked_solve(mod, equation):
    t0 = time.time()
    got = mod.solve(equation)
    require(got is None or (isinstance(got, int) and not isinstance(got, bool)),
            f"solve({equation!r}) must return an int or None; got {got!r} ({type(got).__name__})")
    require(time.time() - t0 < 1.0, f"solve({equation[:40]!r}...) took {time.time() - t0:.1f} s; a verifier must "
                                    "be quick on any input (check the length first)")
    return got


@PARTS("solve", 15, "solve: the integer solution of a linear equation written as people write it")
def solve(mod):
    for eq in _equations():
        got, want = _checked_solve(mod, eq), ref_solve(eq)
        require(got == want, f"solve({eq!r}): expected {want!r}, got {got!r}")


HOSTILE = ["", "=", "x", "==", "x==3", "=x", "x=", "3x+5=20=1", "x=" + "9" * 10, "9" * 5000 + "x=1",
           "x=" + "1" * 5000, "x" * 70 + "=1", "\u0663x=6", "3x=\uff16", "3X=6", "3*x=6", "3 x=6", "x = 6", "+x=3",
           "--x=3", "x--3=0", "x+-3=0", "07x=14", "x=07", "1e3x=1", "x=1.5", "x=1_000", "2(x+1)=4", "x^2=4",
           "x=\x00", "x=3\n", "\ud800=x", "x+1+1+1+1=5", "1=2", "0=0", "x-x=0", "-x=-0", "x=-", "x=+", "-=x"]


@PARTS("solve_hostile", 10, "solve: None, never an exception, on malformed and hostile text")
def solve_hostile(mod):
    rng = random.Random(1)
    fuzz = ["".join(rng.choice("0123456789x+-=") for _ in range(rng.randint(1, 12))) for _ in range(400)]
    for eq in HOSTILE + fuzz:
        got, want = _checked_solve(mod, eq), ref_solve(eq)
        require(got == want, f"solve({eq[:60]!r}{'...' if len(eq) > 60 else ''}): expected {want!r}, got {got!r}")


def _answers(prompt):
    x = ref_solve(prompt)
    if x is None:
        return ["0", "1", "", "x"]
    return [str(x), f" {x} ", str(x + 1), f"+{x}", f"0{abs(x)}", f"{x}.0", f"x={x}", f"{x} or {x + 1}",
            f"{x + 1} or {x}", f"{x},{x + 1}", f"{x} {x}", f"{x}x", "", " ", "-" + str(x), f"{x}\n", f"\t{x}", f"{x}=x",
            "".join(chr(0x660 + int(c)) if c.isdigit() else c for c in str(x))]


@PARTS("score", 10, "score: exact answers only (spaces around forgiven), wrong spellings and hedges rejected")
def score(mod):
    for prompt in _equations()[:60]:
        for answer in _answers(prompt):
            got, want = mod.score(prompt, answer), ref_score(prompt, answer)
            require(got in (0.0, 1.0) and got == want, f"score({prompt!r}, {answer!r}): expected {want}, got {got!r}")


@PARTS("score_hostile", 10, "score: 0.0, never an exception, on hostile prompts and answers")
def score_hostile(mod):
    for prompt in HOSTILE:
        for answer in ["3", "٣", "9" * 5000, "", "\x00", "3 or 4"]:
            t0 = time.time()
            got, want = mod.score(prompt, answer), ref_score(prompt, answer)
            require(got in (0.0, 1.0) and got == want,
                    f"score({prompt[:60]!r}, {answer[:20]!r}): expected {want}, got {got!r}")
            require(time.time() - t0 < 1.0, f"score({prompt[:40]!r}, ...) took {time.time() - t0:.1f} s")


# --- behaviour: a tiny model learns the format from examples rendered by the student's `render` ---

MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=2, mlp_hidden=64)
STEPS, BATCH, SEQ = 60, 16, 32


@functools.cache
def _trainer():
    """Compiled once per process: the package's own train step and sampler (only the data is the student's)."""
    graphdef, params = nnx.split(Transformer(MODEL, nnx.Rngs(0)))
    tx = make_optimizer(OptimConfig(lr=1e-2, warmup_steps=5), STEPS)
    return graphdef, params, tx, make_train_step(graphdef, tx)


@PARTS("behaviour_format", 20, "a tiny model trained on your rendered examples learns the format; your parser reads "
       "its completions as the package does", timeout=90)
def behaviour_format(mod):
    graphdef, params, tx, step = _trainer()
    opt_state, rng, task = tx.init(params), random.Random(0), get_task("logic")
    for _ in range(STEPS):
        tokens, mask = np.zeros((BATCH, SEQ), np.int32), np.zeros((BATCH, SEQ), np.float32)
        for i in range(BATCH):
            ids, m = _render(mod, draw(task, rng, 1, heldout=False), True)
            tokens[i, :len(ids)], mask[i, :len(ids)] = ids[:SEQ], m[:SEQ]
        params, opt_state, _ = step(params, opt_state, tokens, mask)
    prompts = [draw(task, rng, 1, heldout=False).prompt for _ in range(32)]
    out = sample(graphdef, params, *pad_prompts(prompts), jax.random.key(0), SampleConfig(max_new=24))
    rows = [list(map(int, r)) for r in np.asarray(out["tokens"])]
    formed = np.mean([parse_completion(r)[2] for r in rows])
    require(formed >= 0.9, f"a tiny model trained {STEPS} steps on logic problems rendered by your `render` should "
                           f"write well-formed completions (one </think>, then <eos>) at least 90% of the time (the "
                           f"reference: 100%); it did {formed:.0%}, e.g. {_names(rows[0])}")
    for r in rows:
        got, want = mod.parse_completion(r), parse_completion(r)
        require(tuple(got) == tuple(want), f"parse_completion of the model's completion {_names(r)}: expected "
                                           f"{want!r}, got {got!r}")
