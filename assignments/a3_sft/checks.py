"""Grader of assignment a3: the loss and the train step against minireason.sft on random inputs and a tiny
model, and a tiny SFT run with the student's train step that must learn one-digit addition."""

import dataclasses
import functools

import jax
import numpy as np
from flax import nnx

from gradelib import Parts, close, require, show
from minireason import sft
from minireason.config import DataConfig, OptimConfig
from minireason.model import ModelConfig, Transformer
from minireason.sampler import SampleConfig, generate
from minireason.tasks import heldout_examples

PARTS = Parts()
MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=2, mlp_hidden=64)
LOSS_TARGET, REF_LOSS = 0.5, 0.3  # measured: the reference reaches about 0.3


def _ce_inputs(seed, B=2, T=5, V=7):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(B, T, V)).astype(np.float32)
    targets = rng.integers(0, V, (B, T)).astype(np.int32)
    mask = np.zeros((B, T), np.float32)
    mask[0, 2:] = 1.0  # a prompt of two tokens, then targets
    mask[1, 1:3] = 1.0  # then right padding
    return logits, targets, mask


@PARTS("masked_ce", 25, "masked_ce: mean NLL over masked positions; value and gradient")
def masked_ce(mod):
    f = jax.jit(jax.value_and_grad(mod.masked_ce))
    ref = jax.jit(jax.value_and_grad(sft.masked_ce))
    for seed in range(3):
        lg, tg, m = _ce_inputs(seed)
        given = f"logits of shape {lg.shape} (seed {seed}), targets {show(tg)}, mask {show(m)}"
        (got, got_g), (want, want_g) = f(lg, tg, m), ref(lg, tg, m)
        close(got, want, "masked_ce", given)
        close(got_g, want_g, "d masked_ce / d logits (positions with mask 0 must get zero gradient)", given)
    lg = np.zeros((1, 3, 5), np.float32)
    close(f(lg, np.array([[1, 2, 3]], np.int32), np.ones((1, 3), np.float32))[0], np.log(5.0),
          "masked_ce of uniform logits over V = 5 tokens must be log 5", "logits all 0")
    close(f(lg, np.array([[1, 2, 3]], np.int32), np.zeros((1, 3), np.float32))[0], 0.0,
          "masked_ce with an all-zero mask must be 0 (not NaN)", "mask all 0")


STEPS = 150
DATA = DataConfig(tasks={"add": 1.0}, levels={"add": (1, 1)}, batch_size=16, seq_len=24)


@functools.cache
def _setup():
    """Built once per process, shared by every variant: the model, the optimizer, minireason's own step and loss."""
    graphdef, params = nnx.split(Transformer(MODEL, nnx.Rngs(0)))
    tx = sft.make_optimizer(OptimConfig(lr=1e-2, warmup_steps=10), STEPS)
    ref_loss = jax.jit(lambda p, t, m: sft.sft_loss(graphdef, p, t, m))
    return graphdef, params, tx, sft.make_train_step(graphdef, tx), ref_loss


_steps = {}


def _student_step(mod):
    """The student's train step, made once per graded module (its compilation is the slow part)."""
    if mod not in _steps:  # keyed by the module itself: an id() can be reused once a module is freed
        graphdef, _, tx, _, _ = _setup()
        step = mod.make_train_step(graphdef, tx)
        require(callable(step), f"make_train_step must return a function; got {step!r}")
        _steps[mod] = step
    return _steps[mod]


def _batch(seed):
    return sft.batch_at(dataclasses.replace(DATA, levels={"add": (1, 2)}, batch_size=4, seq_len=40), seed, 0)


@PARTS("sft_loss", 20, "sft_loss: next-token targets (shift by one) and the mask of the targets")
def sft_loss(mod):
    graphdef, params, _, _, ref_loss = _setup()
    f = jax.jit(lambda p, t, m: mod.sft_loss(graphdef, p, t, m))
    for seed in range(2):
        tokens, mask = _batch(seed)
        close(f(params, tokens, mask), ref_loss(params, tokens, mask), "sft_loss",
              f"a batch of 4 rendered addition examples (seed {seed}) and a freshly initialised tiny model")


@PARTS("train_step", 20, "make_train_step: its steps equal minireason's, and it returns the loss before each")
def train_step(mod):
    graphdef, params, tx, ref_step, _ = _setup()
    step, mine, ref = _student_step(mod), (params, tx.init(params)), (params, tx.init(params))
    for s in range(12):  # past the 10 warmup steps: at step 0 the learning rate is 0
        tokens, mask = sft.batch_at(DATA, 0, s)
        out = step(*mine, tokens, mask)
        require(isinstance(out, tuple) and len(out) == 3, "train_step must return (params, opt_state, loss)")
        p, o, m = ref_step(*ref, tokens, mask)
        close(out[2], m["loss"], f"the loss train_step returns at step {s + 1} (before the update)",
              "batches of one-digit addition")
        mine, ref = out[:2], (p, o)
    for (path, got), want in zip(jax.tree_util.tree_leaves_with_path(mine[0]), jax.tree.leaves(ref[0])):
        close(got, want, f"parameter {jax.tree_util.keystr(path)} after 12 steps", "AdamW, lr 1e-2 after 10 warmup "
              "steps", rtol=1e-3, atol=1e-5)


@PARTS("behaviour_sft", 35, "your train step teaches a tiny model one-digit addition with its chain of thought",
       timeout=120)
def behaviour_sft(mod):
    graphdef, params, tx, _, ref_loss = _setup()
    step, opt_state, losses = _student_step(mod), tx.init(params), []
    for s in range(STEPS):
        params, opt_state, loss = step(params, opt_state, *sft.batch_at(DATA, 0, s))
        losses.append(float(loss))
    held = float(ref_loss(params, *sft.batch_at(dataclasses.replace(DATA, batch_size=64), 1, 0)))
    prompts = [ex.prompt for ex in heldout_examples("add", 1, 16)]
    outs = generate(graphdef, params, prompts, SampleConfig(max_new=16), jax.random.key(0), batch_size=16)
    formed = float(np.mean([o["well_formed"] for o in outs]))
    require(held <= LOSS_TARGET and formed >= 0.9,
            f"after {STEPS} steps of your train step on one-digit addition (batch 16, AdamW lr 1e-2), a tiny model "
            f"should reach minireason's SFT loss <= {LOSS_TARGET} on 64 fresh examples and write well-formed "
            f"completions >= 90% of the time (the reference: about {REF_LOSS} and 100%); yours reached {held:.3f} and "
            f"{formed:.0%}. The loss your step returned at steps 1, {STEPS // 2}, {STEPS}: {losses[0]:.3f}, "
            f"{losses[STEPS // 2 - 1]:.3f}, {losses[-1]:.3f}. A sample: {prompts[0]} -> thinking "
            f"{outs[0]['thinking']!r}, answer {outs[0]['answer']!r}")
