# %% [markdown]
# # 06 · The small reasoning core: think, or be big?
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/06_small_reasoning_core.ipynb)
#
# **You will learn:**
# - the "no-think" format, `<think></think>` then the answer, and why it is the fair control for thinking;
# - to run a controlled experiment: two models that see exactly the same problems, in the same order;
# - that a small model writing its work out beats a model four times its size that answers at once;
# - what thinking costs: tokens at test time, which are compute, billed apart from the answer.
#
# **Time on a 2-core CPU:** about 3 min (fast mode, `MINIREASON_FAST=1`: about 40 s).
#
# **Assumes:** Python and a little NumPy; tutorials 01-05.

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %%
import random
import shutil
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from minireason import config as config_lib, sft, train
from minireason.evaluate import evaluate_task
from minireason.model import Transformer, count_params
from minireason.runs import load_run
from minireason.sampler import SampleConfig
from minireason.tasks import get_task
from minireason.tokenizer import VOCAB, render

for old in Path("runs").glob("t06_*"):  # a re-run starts from nothing, so it gives the same results
    shutil.rmtree(old)
RUN_ROOT = Path("runs/t06_core")
RUN_ROOT.mkdir(parents=True)

# %% [markdown]
# ## 1. The question
#
# OpenAI's o1 made a simple idea famous: a model answers hard questions better if it first writes
# a chain of thought, and the thinking can be trained. Behind it sits a bet about where the skill
# lives. A model answering directly must find the answer inside one pass through its layers per
# answer token; a model that thinks can take many small steps, each easy, and write down what it
# needs to remember. If the bet is right, a *small* model that has learnt the procedure (a "small
# reasoning core") can beat a much bigger one that has to see the answer at a glance.
#
# We test it on 1-3 digit addition, where the difficulty is concrete. Written the usual way,
# the first digit of `478+596=1074` depends on every carry from the right: to write `1` the model
# must already have worked out `8+6`, `7+9+1` and `4+5+1`. Thinking, it writes those columns
# first, right to left (tutorial 02's trace), and copies the answer at the end.
#
# ## 2. Two formats of the same example
#
# The thinking format is the one of tutorials 01-05. The *no-think* format keeps the markers and
# leaves the thought empty: `<bos> PROMPT <think></think> ANSWER <eos>`. Keeping the markers
# means one sampler, one parser and one scorer serve both models; only the thinking differs.
# `render(example, think=False)` writes it, and a config asks for it with `data.think = false`.

# %%
def show(ids, mask):
    """Tokens on one line and, under each token, ^ if it is in the loss."""
    pieces = [VOCAB[t] for t in ids]
    print("".join(pieces))
    print("".join(("^" if m else " ") * len(p) for p, m in zip(pieces, mask)), " <- ^ marks the loss mask")


example = get_task("add").generate(random.Random(3), 3)
think_ids, think_mask = render(example, think=True)
direct_ids, direct_mask = render(example, think=False)
show(think_ids, think_mask)
show(direct_ids, direct_mask)
prompt_len = len(example.prompt) + 2  # <bos> PROMPT <think>
assert think_ids[:prompt_len] == direct_ids[:prompt_len], "both formats share the prompt"
assert VOCAB[direct_ids[prompt_len]] == "</think>", "no-think: the thought closes at once"
assert sum(direct_mask) == len(example.answer) + 2, "no-think trains on </think>, the answer and <eos> only"

# %% [markdown]
# ## 3. Two models
#
# The *thinker* is small: width 64, three layers. The *direct* model is the model of tutorial 05,
# width 128, three layers, about four times as many parameters. Everything else is equal: the
# data (1-3 digit addition, levels 1 to 3), the batch size, the optimizer and its schedule, the
# number of steps. `nnx.eval_shape` builds a model without computing its initial values (shapes
# only), which is all counting needs.

# %%
RECIPE = """\
# Addition, 1-3 digits per operand (the data and optimizer of configs/add_sft.toml)
[data]
tasks = { add = 1.0 }
levels = { add = [1, 3] }
batch_size = 64
seq_len = 56

[optim]
lr = 3e-3
warmup_steps = 50

[eval]
levels = { add = 3 }
show = 2
"""
config_path = RUN_ROOT / "add.toml"
config_path.write_text(RECIPE)

STEPS = 60 if FAST else 400  # fast mode: too few steps for either model to learn to add (see section 5)
EVAL_N = 16 if FAST else 200  # held-out problems of level 3
COMMON = [f"run.out_dir={RUN_ROOT}", f"train.steps={STEPS}", f"train.save_every={STEPS}",
          f"train.eval_every={STEPS}", f"eval.n={EVAL_N}"] + (["data.batch_size=32"] if FAST else [])
ARGS = {
    "thinker": ["run.name=thinker", "model.d_model=64", "model.n_layers=3", "model.n_heads=2",
                "model.mlp_hidden=192", "eval.max_new=56"],
    "direct": ["run.name=direct", "model.d_model=128", "model.n_layers=3", "model.n_heads=4",
               "model.mlp_hidden=384", "data.think=false", "data.seq_len=24", "eval.max_new=16"],
}
cfgs = {name: config_lib.load(str(config_path), COMMON + args) for name, args in ARGS.items()}
n_params = {name: count_params(nnx.eval_shape(lambda: Transformer(c.model, nnx.Rngs(0))))
            for name, c in cfgs.items()}
for name, n in n_params.items():
    print(f"{name:8s} {n:>9,} parameters  {cfgs[name].model}")
ratio = n_params["direct"] / n_params["thinker"]
print(f"the direct model is {ratio:.1f}x larger")
assert ratio > 3.5, ratio

# %% [markdown]
# A fair comparison needs more than equal step counts: the two models should see the *same
# problems*. They do. `batch_at(data, seed, step)` (tutorial 05) draws the examples from a
# generator seeded with `"{seed}/{step}"`, and the format is applied after the draw, so at every
# step both models get the same sums; the direct model just never sees the working. (Its rows
# are shorter, so its `seq_len` is 24 instead of 56; padding does not count in the loss.)

# %%
for step in (0, 123):
    batch = {name: sft.batch_at(c.data, c.run.seed, step)[0] for name, c in cfgs.items()}
    prompts = {name: ["".join(VOCAB[t] for t in row).split("<think>")[0] for row in b] for name, b in batch.items()}
    assert prompts["thinker"] == prompts["direct"], f"step {step}: the two models see different problems"
print("step 0, first rows:", [p.replace("<bos>", "") for p in prompts["thinker"][:4]], "...")

# %% [markdown]
# ## 4. Train both
#
# Each run is `minireason.train.main` (tutorial 05) on the same config file with its own
# overrides; each ends with a greedy evaluation on held-out problems of level 3 (1-3 digits per
# operand, so some short ones too).

# %%
reports = {name: train.main([str(config_path)] + COMMON + args) for name, args in ARGS.items()}

# %% [markdown]
# ## 5. The result

# %%
rows = {}
for name, r in reports.items():
    m = r["tasks"]["add"]
    rows[name] = dict(params=n_params[name], accuracy=m["accuracy"], thinking=m["thinking_tokens"],
                      answer=m["answer_tokens"], seconds=r["train_seconds"])
print(f"{'model':8s} {'parameters':>10s} {'held-out accuracy':>18s} {'thinking tok':>13s} {'answer tok':>11s}"
      f" {'train s':>8s}")
for name, row in rows.items():
    print(f"{name:8s} {row['params']:>10,} {row['accuracy']:>18.1%} {row['thinking']:>13.1f} {row['answer']:>11.1f}"
          f" {row['seconds']:>8.0f}")

# %%
th, di = rows["thinker"], rows["direct"]
assert di["thinking"] == 0 < th["thinking"], "only the thinker thinks"
if not FAST:  # 60 steps of 32 examples teach neither model to add, nor the thinker its whole trace
    assert th["accuracy"] >= 0.8, f"the thinker should pass 80% in {STEPS} steps, got {th['accuracy']:.1%}"
    assert th["accuracy"] > di["accuracy"] + 0.5, (f"the small thinker should win by over 50 points: "
                                                   f"{th['accuracy']:.1%} vs {di['accuracy']:.1%}")
    assert th["thinking"] > 5 * di["answer"], "the thinker pays for its answers in tokens"

# %% [markdown]
# In full mode the thinker is right on about nine problems in ten, the direct model on fewer
# than one in ten. Note what was compared: equal training (the same 400 batches of the same
# problems), not each model at its best. A direct model does learn to add if it trains long
# enough (exercise 1 asks how long); per example seen, the worked trace teaches far more,
# because each of its steps is a one-digit sum the model has met thousands of times.
#
# ## 6. Where the direct model goes wrong
#
# Look at the answers themselves. `evaluate_task` is the function behind the report above (same
# held-out problems, greedy decoding); called directly, it also returns every completion. We
# score each answer digit by digit from the right: is the units digit right, the tens digit, ...

# %%
samples = {}
for name, c in cfgs.items():
    _, graphdef, params = load_run(RUN_ROOT / name)
    r = evaluate_task(graphdef, params, "add", 3, EVAL_N, SampleConfig(max_new=c.eval.max_new), jax.random.key(0))
    assert r["accuracy"] == rows[name]["accuracy"], "the same evaluation as the run's report"
    samples[name] = r["samples"]
for s_th, s_di in list(zip(samples["thinker"], samples["direct"]))[:4]:
    print(f"{s_th['prompt']:9s} thinker <think>{s_th['thinking']}</think>{s_th['answer']}")
    print(f"{'':9s} direct  <think></think>{s_di['answer']}   (expected {s_th['expected']})")


def digit_accuracy(samples, place):
    """Of the answers with a digit at `place` (0 = units), the fraction where that digit is right."""
    pairs = [(s["answer"], s["expected"]) for s in samples if len(s["expected"]) > place]
    return float(np.mean([len(a) > place and a[-1 - place] == e[-1 - place] for a, e in pairs]))


places = ["units", "tens", "hundreds"]
digits = {name: [digit_accuracy(s, i) for i in range(len(places))] for name, s in samples.items()}
length = {name: float(np.mean([len(x["answer"]) == len(x["expected"]) for x in s])) for name, s in samples.items()}
for name in samples:
    print(f"{name:8s} right length {length[name]:.0%}; right digit: "
          + ", ".join(f"{p} {a:.0%}" for p, a in zip(places, digits[name])))

fig, ax = plt.subplots(figsize=(6, 3.5))
for i, name in enumerate(samples):
    ax.bar(np.arange(len(places)) + 0.4 * i - 0.2, digits[name], width=0.4, label=f"{name} ({n_params[name]:,})")
ax.axhline(0.1, color="gray", linestyle=":", label="chance (1 in 10)")
ax.set(xticks=range(len(places)), xticklabels=places, ylim=(0, 1.35), ylabel="fraction right",
       title="answer digits, held out")
ax.legend()
fig.tight_layout()
fig.savefig(RUN_ROOT / "digits.png", dpi=100)
plt.show()
if not FAST:  # after 60 short steps neither model has found the units digit yet
    assert digits["thinker"][0] >= 0.9, digits
    assert digits["direct"][0] < length["direct"] - 0.3, "the direct model knows the length before the units digit"

# %% [markdown]
# The direct model has learnt the *size* of a sum (most of its answers have the right number of
# digits) well before its last digit, which is barely better than a guess, although for a person
# the units digit is the easiest: it is `(a + b) mod 10` of the two units digits, no carry
# involved. The model has to find those two digits first, and where they sit in the prompt
# depends on how long each number is; then it must hold the result through the digits it writes
# before. The thinker does that once, at the start of its trace (`7+5+0=12`), and from there on
# each step reads what the previous step wrote down.
#
# ## 7. What thinking costs
#
# Thinking is not free: the small model writes many more tokens per answer. A transformer does
# about one multiply-add (2 floating-point operations) per parameter for every token it writes, so tokens times parameters is a
# fair measure of the compute an answer costs. (The prompt is read by both models alike and left
# out.) o1's API bills the thinking tokens apart from the answer for the same reason.

# %%
for name, row in rows.items():
    written = row["thinking"] + row["answer"] + 2  # + </think> and <eos>
    print(f"{name:8s} writes {written:5.1f} tokens per answer: {written * row['params'] / 1e6:5.1f}M "
          f"parameter-tokens ({row['thinking']:.1f} thinking)")
cost = {name: (row["thinking"] + row["answer"] + 2) * row["params"] for name, row in rows.items()}
print(f"the thinker's answer costs {cost['thinker'] / cost['direct']:.1f}x the direct model's")
assert cost["thinker"] < 3 * cost["direct"], cost

# %% [markdown]
# The two answers cost compute of the same order (in full mode the thinker's is under twice the
# direct model's): the small model spends it as tokens, the large one as parameters. For this
# problem the tokens buy far more, because each one does a small, easy step. That is the bet of the small reasoning core, and of o1 at large scale: teach the
# procedure, then let the model spend test-time compute on running it. Tutorials 07 and 08 make
# the thinking better with reinforcement learning and spend more of it at test time.

# %% [markdown]
# ## Exercises
#
# 1. Give the direct model more steps: how many does it need to reach the thinker's accuracy
#    (set `train.steps` and compare)? And how much longer does that take on your machine?
# 2. Make the thinker smaller still (`model.d_model=32`, or two layers). Where does thinking stop
#    being enough?
# 3. Cap the thinker's thinking with `SampleConfig(max_thinking=...)` (tutorial 04's budget
#    forcing) and plot accuracy against the budget. What happens when the budget is shorter than
#    the trace of a 3-digit sum?
# 4. Run the same comparison on 2-digit multiplication (`data.tasks={mul=1}`,
#    `data.levels={mul=[1,2]}`, `eval.levels={mul=2}`; its traces are longer: raise the thinker's
#    `data.seq_len` and `eval.max_new`, and the run tells you if they are still too short). Is the
#    gap larger or smaller than for addition, and why?
#
# Next: [07 · Reinforcement learning from the ground up](07_rl.ipynb).
