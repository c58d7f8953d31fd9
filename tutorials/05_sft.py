# %% [markdown]
# # 05 · Supervised fine-tuning on worked traces
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/05_sft.ipynb)
#
# **You will learn:**
# - how a training batch is built from worked examples, and why it is a pure function of (seed, step);
# - the masked cross-entropy that teaches the model to think and answer but never to predict the prompt;
# - what one optimizer step does (gradient, clipping, AdamW, a warmup-then-cosine learning rate);
# - how to train addition of 1-3 digit numbers to at least 95% held-out accuracy with the project's recipe;
# - how to read the TensorBoard scalars a run writes, and plot its loss curve;
# - why a run that is stopped and started again ends with exactly the same weights as one that never stopped.
#
# **Time on a 2-core CPU:** about 4 min (fast mode, `MINIREASON_FAST=1`: about 40 s).
#
# **Assumes:** Python and a little NumPy; tutorials 01-04.

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %%
import inspect
import math
import random
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from minireason import config as config_lib, sft, train
from minireason.checkpoint import Checkpointer
from minireason.errors import UserError
from minireason.model import Transformer, count_params
from minireason.runs import load_run
from minireason.tasks import get_task
from minireason.tokenizer import PAD_ID, VOCAB, VOCAB_SIZE, render

for old in Path("runs").glob("t05_*"):  # a re-run starts from nothing, so it gives the same results
    shutil.rmtree(old)
RUN_ROOT = Path("runs/t05_sft")
RUN_ROOT.mkdir(parents=True)

# %% [markdown]
# ## 1. The recipe
#
# Supervised fine-tuning (SFT) is the first stage of training a reasoning model: show it many
# *worked* examples, a question followed by the steps a careful person would write and then the
# answer, and train it to predict each next token. Here the examples come from the `add` task of
# tutorial 02, which writes the column-by-column sum you learned at school.
#
# A training run is described by a *config*: a TOML file with a section for the model, the data,
# the optimizer, the training loop and the evaluation. The repository ships one per task in
# `configs/`; below is the part of `configs/add_sft.toml` that says *what* is trained (the model,
# data and optimizer). We write it to a file of our own so that this tutorial also runs where only
# the package is installed (on Colab), and give the rest (how long, where the output goes) as
# `section.key=value` overrides, exactly as you would on the command line:
#
#     python train.py configs/add_sft.toml train.steps=600 run.out_dir=runs/t05_sft run.name=add

# %%
RECIPE = """\
# Addition, 1-3 digits per operand, with column-by-column traces (configs/add_sft.toml)
[model]
d_model = 128
n_layers = 3
n_heads = 4
mlp_hidden = 384

[data]
tasks = { add = 1.0 }
levels = { add = [1, 3] }
batch_size = 64
seq_len = 56

[optim]
lr = 3e-3
warmup_steps = 50
"""
config_path = RUN_ROOT / "add.toml"
config_path.write_text(RECIPE)

STEPS = 60 if FAST else 600  # configs/add_sft.toml packs rows (data.pack); unpacked, 600 steps pass 95%
SAVE_AT = STEPS - 10 if FAST else STEPS - 100  # a checkpoint near the end, for the resume demo of section 7
EVAL_N = 16 if FAST else 200  # held-out problems per level in the final eval (level 1 has only 16)
ARGV = [str(config_path), f"run.out_dir={RUN_ROOT}", "run.name=add", f"train.steps={STEPS}",
        f"train.save_every={SAVE_AT}", f"train.eval_every={STEPS}", f"eval.n={EVAL_N}", "eval.max_new=56"]
if FAST:
    ARGV.append("data.batch_size=16")  # fast mode: a quarter of the examples per step
cfg = config_lib.load(ARGV[0], ARGV[1:])
print(cfg.model)
print(cfg.data)
print(cfg.optim)
assert (cfg.model.d_model, cfg.data.levels, cfg.train.steps) == (128, {"add": (1, 3)}, STEPS), cfg
shipped = Path("../configs/add_sft.toml")
if shipped.exists():  # in a checkout of the repository: the recipe above is the shipped one
    ref = config_lib.load(str(shipped))
    assert (ref.model, ref.optim, ref.data.tasks, ref.data.levels) == (cfg.model, cfg.optim, cfg.data.tasks,
                                                                       cfg.data.levels), "recipe out of date"

# %% [markdown]
# Every field has a default (`minireason/config.py`), and every override is checked: a typo in a
# key or a value of the wrong type stops the run at once with one line that says what is wrong
# (a `UserError`).

# %%
try:
    config_lib.load(ARGV[0], ["train.step=10"])
except UserError as e:
    message = str(e)
print(message)
assert "train.steps" in message, "the error should suggest the key that was meant"

# %% [markdown]
# ## 2. A batch of worked traces
#
# Tutorial 01 showed `render`: one example becomes token ids and a *loss mask*, 0 on the prompt
# (`<bos> PROMPT <think>`) and 1 on everything the model must learn to write.

# %%
def show(ids, mask):
    """Tokens on one line and, under each token, ^ if it is in the loss; padding past the first is cut."""
    n = next((i + 1 for i, t in enumerate(ids) if t == PAD_ID), len(ids))
    pieces = [VOCAB[t] for t in ids[:n]]
    print("".join(pieces))
    print("".join(("^" if m else " ") * len(p) for p, m in zip(pieces, mask[:n])), " <- ^ marks the loss mask")


example = get_task("add").generate(random.Random(0), 3)
print(example)
show(*render(example))

# %% [markdown]
# A batch is `batch_size` such rows, right-padded with `<pad>` to a fixed length `seq_len`, so
# that every step has the same array shapes (then the compiled step is reused; see section 4).
# `batch_at` builds the batch of a given step. Its random generator is seeded with the string
# `"{seed}/{step}"`: the batch depends on nothing but the run's seed and the step number. Keep
# that in mind for section 7.

# %%
print(inspect.getsource(sft.batch_at))

# %%
tokens_BT, mask_BT = sft.batch_at(cfg.data, cfg.run.seed, step=0)
print("tokens", tokens_BT.shape, tokens_BT.dtype, " mask", mask_BT.shape, mask_BT.dtype)
for row in range(3):
    show(tokens_BT[row], mask_BT[row])

again_BT, _ = sft.batch_at(cfg.data, cfg.run.seed, step=0)
other_BT, _ = sft.batch_at(cfg.data, cfg.run.seed, step=1)
assert (again_BT == tokens_BT).all(), "the same (seed, step) must give the same batch"
assert not (other_BT == tokens_BT).all(), "another step must give another batch"
assert (mask_BT[tokens_BT == 0] == 0).all(), "padding (id 0) is never a target"

# %% [markdown]
# ## 3. The masked cross-entropy
#
# A language model outputs, at every position t, a score (a *logit*) for each of the V tokens of
# the vocabulary; softmax turns scores into probabilities. The loss at position t is
# `-log p(correct next token)`: 0 when the model is sure and right, large when it is sure and
# wrong. SFT averages it over the positions whose mask is 1 and ignores the others.
#
# The project's code uses `jax.numpy` (imported as `jnp`), which has the same functions as NumPy
# (`jnp.sum`, `jnp.maximum`, ...) but can run on a GPU and be differentiated (tutorial 03).

# %%
print(inspect.getsource(sft.masked_ce))

# %% [markdown]
# `log_softmax` gives log-probabilities `logp_BTV` (B batch rows, T positions, V vocabulary);
# `take_along_axis` picks, at every (row, position), the entry of the target token; the mask
# zeroes the positions that do not count, and dividing by the mask's sum makes it a mean over the
# counted positions (`maximum(..., 1)` avoids dividing by zero on an all-masked batch).
#
# Check it against a loop in plain NumPy on random numbers, then check the two properties that
# matter: what sits at a masked-out position changes nothing, and a model that knows nothing
# (all logits equal) scores `log V`.

# %%
rng = np.random.default_rng(0)
B, T, V = 2, 5, 7
logits = rng.normal(size=(B, T, V)).astype(np.float32)
targets = rng.integers(0, V, size=(B, T))
mask = np.array([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]], np.float32)

total, count = 0.0, 0
for b in range(B):
    for t in range(T):
        if mask[b, t]:
            p = np.exp(logits[b, t]) / np.exp(logits[b, t]).sum()
            total += -np.log(p[targets[b, t]])
            count += 1
ours = float(sft.masked_ce(logits, targets, mask))
print(f"masked_ce {ours:.6f}   NumPy loop {total / count:.6f}")
assert abs(ours - total / count) < 1e-5

scrambled = logits.copy()
scrambled[mask == 0] = 100 * rng.normal(size=scrambled[mask == 0].shape)
assert float(sft.masked_ce(scrambled, targets, mask)) == ours, "masked-out positions must not change the loss"
uniform = float(sft.masked_ce(np.zeros((B, T, V)), targets, mask))
assert abs(uniform - math.log(V)) < 1e-6, uniform

# %% [markdown]
# `sft_loss` connects the loss to the model. A causal transformer (tutorial 03) reads tokens
# `0..t` and predicts token `t+1`, so the inputs are the row without its last token and the
# targets are the row without its first; the mask is shifted with the targets. The mask of the
# token `<think>` is 0 and the mask of the first thinking token is 1: the model is trained to
# start thinking right after `<think>`, and is never asked to guess the question.
#
# `nnx.merge(graphdef, params)` rebuilds the model from its structure and its parameters
# (tutorial 03 split it in two, so that the parameters are a plain tree of arrays that can be
# differentiated and updated).

# %%
print(inspect.getsource(sft.sft_loss))

model = Transformer(cfg.model, nnx.Rngs(0))
graphdef, params = nnx.split(model)
# jit: section 4. static_argnums=0: the graphdef (argument 0) is not an array; it is part of what gets compiled
loss0 = float(jax.jit(sft.sft_loss, static_argnums=0)(graphdef, params, tokens_BT, mask_BT))
print(f"{count_params(model):,} parameters; untrained loss {loss0:.3f}, log V = {math.log(VOCAB_SIZE):.3f}")
assert abs(loss0 - math.log(VOCAB_SIZE)) < 0.1, "a fresh model should be close to uniform over the V tokens"

# %% [markdown]
# ## 4. One optimizer step
#
# Training repeats one step: compute the loss on a batch, its gradient with respect to every
# parameter, and move each parameter a little against its gradient. Three JAX and Optax pieces
# do the work:
#
# - `jax.value_and_grad(f)` returns a function that computes `f` and its gradient with respect to
#   `f`'s first argument (here the whole tree of parameters), by automatic differentiation;
# - `jax.jit` compiles a function the first time it is called with arrays of given shapes; later
#   calls with the same shapes run the compiled code, much faster. (That is why batches have a
#   fixed shape.) A jitted function must be *pure*: its output depends only on its inputs, so the
#   parameters and the optimizer's state go in and come out explicitly;
# - `optax` is a library of optimizers. `make_optimizer` chains gradient clipping (if the
#   gradient's global norm exceeds `clip_norm`, scale it down) with AdamW (Adam: each
#   parameter's step is its gradient's running mean divided by the root of its running squared
#   mean, so every parameter moves at a similar pace; W: weight decay on the matrices), whose learning rate warms up linearly, then decays along a cosine.

# %%
print(inspect.getsource(sft.make_optimizer))
print(inspect.getsource(sft.make_step))
print(inspect.getsource(sft.make_train_step))

# %% [markdown]
# `make_step` is shared by every training stage of the project (SFT here, RL in tutorial 07): it
# takes any loss function that returns `(loss, metrics)`. Take a few steps by hand, each on the
# batch of its step number, and watch the loss fall.

# %%
HAND_STEPS = 20
tx = sft.make_optimizer(cfg.optim, HAND_STEPS)
train_step = sft.make_train_step(graphdef, tx)
opt_state = tx.init(params)  # AdamW keeps two running averages per parameter
hand_params, losses = params, []
for step in range(HAND_STEPS):
    batch = sft.batch_at(cfg.data, cfg.run.seed, step)
    hand_params, opt_state, metrics = train_step(hand_params, opt_state, *batch)
    losses.append(float(metrics["loss"]))
print("loss every 5 steps:", " ".join(f"{x:.3f}" for x in losses[::5]), f"... {losses[-1]:.3f}")
print(f"gradient norm {float(metrics['grad_norm']):.3f}, parameter norm {float(metrics['param_norm']):.1f}")
assert losses[-1] < 0.75 * losses[0], f"the loss should fall, got {losses[0]:.3f} -> {losses[-1]:.3f}"

# %% [markdown]
# ## 5. The whole run
#
# `minireason.train.main` is what `python train.py CONFIG.toml [overrides]` calls. It builds the
# model and optimizer, resumes from the run directory's latest checkpoint if there is one, runs
# the loop above (with `batch_at(seed, step)` at each step), writes the loss and other scalars
# for TensorBoard every `train.log_every` steps, saves checkpoints every `train.save_every`
# steps, and ends with a held-out evaluation: greedy completions (the sampler of tutorial 04) of
# problems that training never draws, scored by the task's strict scorer, at each trained level.

# %%
report = train.main(ARGV)
levels = report["tasks"]["add"]["levels"]
for level, m in levels.items():
    print(f"level {level}: {m['accuracy']:.1%} of {m['n']} held-out problems, "
          f"{m['thinking_tokens']:.1f} thinking tokens on average")
print(f"trained in {report['train_seconds']:.0f} s")

# %%
n_right = sum(m["accuracy"] * m["n"] for m in levels.values())
n_all = sum(m["n"] for m in levels.values())
print(f"all levels: {n_right:.0f} of {n_all} held-out problems right ({n_right / n_all:.1%})")
for level, m in levels.items():
    assert m["format_rate"] == 1.0, f"level {level}: only {m['format_rate']:.1%} of the completions are well formed"
if not FAST:  # fast mode trains 60 steps of 16 examples: enough for the format, far too few for the sums
    assert n_right / n_all >= 0.95, f"{n_right / n_all:.1%} of the held-out problems, short of 95%"
    for level, m in levels.items():  # level 1 has only 16 held-out problems: one miss costs 6 points
        assert m["accuracy"] >= 0.9, f"level {level}: {m['accuracy']:.1%}"

# %% [markdown]
# ## 6. Reading the TensorBoard scalars
#
# The run directory holds `config.json` (the full config), `checkpoints/`, `eval.json` (the final
# report) and one `events.out.tfevents.*` file: the scalars TensorBoard shows when you run
# `tensorboard --logdir runs`. You can read them without TensorBoard's web page:
# `EventAccumulator` (from the `tensorboard` package, which needs no TensorFlow) loads an events
# file and returns each scalar as a list of (step, value) events.

# %%
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run_dir = RUN_ROOT / "add"
print(sorted(p.name for p in run_dir.iterdir()))
events = EventAccumulator(str(run_dir))
events.Reload()
print(events.Tags()["scalars"])
loss = [(e.step, e.value) for e in events.Scalars("train/loss")]
lr = [(e.step, e.value) for e in events.Scalars("train/lr")]
print("first losses", [f"{v:.3f}" for _, v in loss[:3]], "last", [f"{v:.4f}" for _, v in loss[-3:]])
steps_logged = [s for s, _ in loss]
assert steps_logged[0] == cfg.train.log_every and steps_logged[-1] == STEPS, steps_logged  # every 25 steps and the last

# %%
fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 3.5))
ax_loss.plot(*zip(*loss), marker=".")
ax_loss.set(yscale="log", xlabel="step", ylabel="training loss (nats per token)", title="masked cross-entropy")
ax_lr.plot(*zip(*lr), marker=".")
ax_lr.set(xlabel="step", ylabel="learning rate", title="warmup, then cosine decay")
fig.tight_layout()
fig.savefig(run_dir / "loss.png", dpi=100)
plt.show()
drop = 2 if FAST else 100  # fast mode stops at step 60, early on the curve
assert loss[-1][1] < loss[0][1] / drop, f"the loss should fall {drop}x: {loss[0][1]:.3f} -> {loss[-1][1]:.4f}"

# %% [markdown]
# The loss falls fast for the first hundred steps (the model learns the format and the easy
# columns), then slowly (the carries of long sums). It is measured on a fresh batch each time, so
# it is noisy; the learning rate on the right is the schedule `make_optimizer` builds.
#
# ## 7. Stopping and resuming, bit for bit
#
# A long run gets interrupted: a laptop sleeps, a Colab session ends. Re-running the same command
# continues from the latest checkpoint. The promise is strong: the resumed run ends with *exactly*
# the weights an uninterrupted run would have, to the last bit. That holds because everything a
# step depends on is either saved or recomputed identically:
#
# - the checkpoint holds the parameters, the optimizer's state (its running averages) and the step;
# - the batch of step s is `batch_at(seed, s)`: no data loader position to save;
# - the learning rate is a function of the step; evaluation does not touch the parameters.
#
# Let us check. Our run saved a checkpoint at step `SAVE_AT` and the final one at `STEPS`. Keep a
# copy of the final parameters in memory, then delete the final checkpoint: the directory is now
# what a run killed between those two saves leaves behind. Re-run the same command.

# %%
ckpt = Checkpointer(run_dir)
print("checkpoints on disk:", ckpt.manager.all_steps())
ckpt.close()
_, _, straight = load_run(run_dir)
straight = jax.tree.map(np.array, straight)  # a copy in memory
shutil.rmtree(run_dir / "checkpoints" / str(STEPS))
ckpt = Checkpointer(run_dir)
print("after the 'crash':", ckpt.manager.all_steps())
assert ckpt.latest_step() == SAVE_AT
ckpt.close()

resumed_report = train.main(ARGV)  # prints "resumed from step SAVE_AT" and trains the remaining steps

# %%
_, _, resumed = load_run(run_dir)
pairs = list(zip(jax.tree_util.tree_leaves_with_path(straight), jax.tree.leaves(resumed)))
for (path, a), b in pairs:
    assert a.shape == b.shape and np.array_equal(a, np.asarray(b)), f"{jax.tree_util.keystr(path)} differs"
print(f"all {len(pairs)} parameter arrays are bit-identical "
      f"({sum(a.size for (_, a), _ in pairs):,} numbers)")
assert resumed_report["accuracy"] == report["accuracy"], "same weights, same greedy answers"

# %% [markdown]
# A checkpoint also stores a SHA-256 checksum of its arrays (`minireason/checkpoint.py`), so a
# file damaged on disk is refused with a clear message rather than loaded as garbage.
#
# You now have a trained model in `runs/t05_sft/add` (next to where this tutorial ran); the
# command line can use it, from that same directory:
#
#     minireason sample --checkpoint runs/t05_sft/add "478+96="
#
# ## Exercises
#
# 1. **Masked cross-entropy** (graded in assignment a3). Write `masked_ce(logits_BTV, targets_BT,
#    mask_BT)` yourself from `jax.nn.log_softmax` and check it against `sft.masked_ce` on random
#    inputs, including a batch whose mask is all zeros. Why does the code compute the softmax in
#    float32 even when the model runs in bfloat16?
# 2. **The train step** (graded in assignment a3). Write `train_step(params, opt_state, tokens_BT,
#    mask_BT)` with `jax.value_and_grad`, `tx.update` and `optax.apply_updates`, jit it, and train
#    the model of section 3 until addition reaches the assignment's target.
# 3. Put the prompt in the loss: change the mask of a batch to 1 on every non-padding token and
#    train 300 steps. What happens to the loss, and to the held-out accuracy? Why would a model
#    that spends capacity predicting random operands be no better at adding them?
# 4. Break resuming on purpose: make `batch_at` depend on something other than (seed, step), such
#    as a global counter, and run section 7 again. Which assert fails, and why?
# 5. Lower `optim.warmup_steps` to 0 and raise `optim.lr` to `3e-2`. Plot `train/grad_norm` next to
#    the loss from the events file: what comes first when a run diverges?
#
# Next: [06 · The small reasoning core](06_small_reasoning_core.ipynb): a small model that thinks
# against a bigger one that answers at once.
