# %% [markdown]
# # 07 · Reinforcement learning from the ground up
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/07_rl.ipynb)
#
# **You will learn:**
# - what a *verifiable reward* is: the task's own strict scorer, applied to the parsed answer;
# - group advantages (GRPO): why each sample is compared with the other samples of its prompt;
# - the clipped policy-gradient loss, and why its value sits at 0 while its gradient does not;
# - a six-armed bandit that learns with the very same two functions;
# - RL on a real task with the project's RL stage, and what it does and does not improve;
# - reward hacking: a loose verifier that the policy exploits while its real accuracy collapses.
#
# **Time on a 2-core CPU:** about 2 min, 4.5 with the CPU shared (fast mode, `MINIREASON_FAST=1`: about 65 s of
# CPU time, 1.5-2 min with the CPU shared).
#
# **Assumes:** Python and a little NumPy; tutorials 01-06 (the format, tasks and verifiers, the
# transformer, sampling, SFT).

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %%
import inspect
import json
import random
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from minireason import rl, train
from minireason.config import OptimConfig, RLConfig
from minireason.evaluate import evaluate_task
from minireason.runs import load_run
from minireason.sampler import SampleConfig, pad_prompts, sample
from minireason.sft import make_optimizer
from minireason.tasks import get_task, training_examples
from minireason.tasks.base import parse_int
from minireason.tokenizer import END_THINK_ID, EOS_ID, encode, parse_completion

OUT = Path("runs/t07_rl")
shutil.rmtree(OUT, ignore_errors=True)  # a re-run starts from scratch and gives the same result
OUT.mkdir(parents=True)

# %% [markdown]
# ## 1. The reward: the task's scorer on the parsed answer
#
# Supervised fine-tuning (tutorial 05) copies worked traces. Reinforcement learning needs no traces:
# the model writes its own completions, a *verifier* says how good each one is, and training makes
# the good ones more likely. Our tasks have exact scorers (tutorial 02), so the reward is simply
# "is the answer right?", checked by code, not by another model. This is RL with *verifiable
# rewards*, the recipe behind DeepSeek-R1 and, by all accounts, o1.
#
# `rl.reward` is the reference version for one completion: parse it (`<think> ... </think> ANSWER
# <eos>`), score the answer with the task's own `score`, and add a small bonus for a well-formed
# completion with a non-empty answer (`format_weight`, 0.1 by default), so that early on even a
# wrong but tidy answer beats a rambling one.

# %%
print(inspect.getsource(rl.reward))

# %% [markdown]
# Four completions of `47+38=`, written by hand as token ids: right, wrong, no `</think>`
# (malformed), and an empty answer. A completion is what the model writes after the prompt's `<think>`.

# %%
task = get_task("add")
prompt = "47+38="
completions = {
    "right": encode("7+8+0=15 5,4+3+1=08 85") + [END_THINK_ID] + encode("85") + [EOS_ID],
    "wrong": encode("7+8+0=15 5,4+3+1=07 75") + [END_THINK_ID] + encode("75") + [EOS_ID],
    "malformed": encode("7+8+0=15 5,4+3+1=08 85 85") + [EOS_ID],
    "empty answer": encode("7+8+0=15 5") + [END_THINK_ID, EOS_ID],
}
cfg_rl = RLConfig()  # the defaults: correct_weight 1, format_weight 0.1
for name, ids in completions.items():
    r, correct, well_formed = rl.reward(task, prompt, ids, cfg_rl)
    print(f"{name:>13}: reward {r:.1f}  correct {correct:.0f}  well formed {well_formed}")

expected = {"right": 1.1, "wrong": 0.1, "malformed": 0.0, "empty answer": 0.0}
got = {name: rl.reward(task, prompt, ids, cfg_rl)[0] for name, ids in completions.items()}
assert all(abs(got[k] - v) < 1e-9 for k, v in expected.items()), f"rewards {got}, expected {expected}"

# %% [markdown]
# In training, the rewards of a whole rollout (hundreds of completions, padded into one array)
# come from `rl.rollout_rewards`, which checks the format for all rows at once with NumPy and
# scores each distinct answer once. The project keeps the slow one-by-one `reward` next to it
# as the reference the fast path must agree with (a pattern you met with the KV cache in 04):

# %%
rows = [(ids + [0] * 40)[:40] for ids in completions.values()]  # pad with <pad> (id 0) to one length
batched = rl.rollout_rewards([task] * 4, [prompt] * 4, np.array(rows), cfg_rl)
print(batched)
assert np.allclose(batched["reward"], list(got.values())), "batched and one-by-one rewards differ"

# %% [markdown]
# ## 2. Group advantages: compare each sample with its siblings
#
# A reward alone is a poor learning signal. If every answer to an easy prompt is right, all get
# reward 1.1, and pushing all of them up teaches nothing. What matters is whether a sample did
# *better than usual for its prompt*. GRPO (DeepSeekMath, 2024) samples a **group** of G completions
# per prompt and uses
#
#     advantage = (reward - mean of the group) / (std of the group)
#
# The group mean is the *baseline*: PPO (the algorithm GRPO grew out of, section 3) learns a second
# network to predict it; GRPO just measures
# it. Dr. GRPO (2025) argues the division by the std over-weights prompts that are nearly always
# right or nearly always wrong, and drops it (`mode="drgrpo"`). A group whose rewards are all equal
# has advantage exactly 0: nothing to learn from it.

# %%
print(inspect.getsource(rl.group_advantages))

# %% [markdown]
# A quick reminder of the JAX you met in tutorial 03: `jax.numpy` (`jnp`) is NumPy's API running
# on JAX arrays, which can live on a GPU and be differentiated. Here three prompts with four
# samples each (B = 3 groups, G = 4):

# %%
rewards_BG = np.array([[1.1, 0.1, 1.1, 0.0],   # a prompt the model sometimes gets right
                       [1.1, 1.1, 1.1, 1.1],   # always right: no signal
                       [0.1, 0.0, 0.1, 1.1]])  # rarely right: the one success stands out
for mode in ("grpo", "drgrpo"):
    adv = np.asarray(rl.group_advantages(rewards_BG, mode))
    print(mode, "\n", adv.round(3))

# %% [markdown]
# The claims, checked on 1,000 random groups: each group's advantages sum to zero (the baseline
# is the group's own mean), adding a constant to every reward of a group changes nothing (only
# differences within a group matter, so a format bonus every sample earns teaches nothing), and
# GRPO's advantages do not change when rewards are scaled either.

# %%
rng = np.random.default_rng(0)
r_BG = rng.random((1000, 8)).astype(np.float32)
shift_B1 = rng.normal(size=(1000, 1)).astype(np.float32) * 5
for mode in ("grpo", "drgrpo"):
    adv = np.asarray(rl.group_advantages(r_BG, mode))
    assert np.abs(adv.sum(axis=1)).max() < 1e-4, f"{mode}: a group's advantages do not sum to zero"
    shifted = np.asarray(rl.group_advantages(r_BG + shift_B1, mode))
    assert np.abs(shifted - adv).max() < 1e-3, f"{mode}: advantages changed under a constant shift of the rewards"
scaled = np.asarray(rl.group_advantages(3 * r_BG, "grpo"))
assert np.abs(scaled - np.asarray(rl.group_advantages(r_BG, "grpo"))).max() < 1e-3, "GRPO is not scale-invariant"
assert np.all(np.asarray(rl.group_advantages(rewards_BG, "grpo"))[1] == 0), "a flat group must have advantage 0"
print("sums to zero, shift-invariant (and scale-invariant for GRPO); flat groups get 0")

# %% [markdown]
# ## 3. The clipped policy-gradient loss
#
# In RL the model is called the **policy**: the rule that picks an action (here, the next token)
# given what it has seen. A token's **log-prob** is the log of the probability the policy gave it.
# The policy gradient says: to raise the expected reward, raise the log-probability of each sampled
# token in proportion to its sample's advantage. As a loss to *minimise*, per token:
#
#     -ratio * A,   ratio = p_new(token) / p_old(token)
#
# where `p_old` is the probability under the policy that wrote the sample. At the first step
# `p_new = p_old`, the ratio is 1 and its gradient is the gradient of log p_new: exactly the policy
# gradient. PPO's addition (Schulman et al. 2017) is the *clip*: once the ratio has moved past
# `1 + clip_high` (for A > 0) or below `1 - clip_low` (for A < 0), the loss stops pulling, so several
# optimizer passes over one batch of samples cannot drag the policy far from the one that wrote
# them. `policy_loss` takes per-token log-probs of shape (B, N) (B samples, N completion tokens),
# a mask (1 on real tokens, 0 on padding) and one advantage per sample; `kl_beta` optionally adds
# a penalty for drifting away from a frozen *reference* policy (a copy of the model before RL).
# The penalty is an estimate of the KL divergence, a measure of how far apart two probability
# distributions are (0 when they are equal), from the sampled tokens' log-probs (Exercise 2).

# %%
print(inspect.getsource(rl.policy_loss))

# %% [markdown]
# **Why the loss sits near 0.** At the first pass the ratio is exactly 1, so the loss is
# `-mean(A)`, and GRPO's advantages average to zero over every group. With the default
# aggregation (`seq_mean`: each sample's tokens averaged, then the samples) the loss *value* is 0
# whatever the policy (with `token_mean`, longer samples weigh more and it is only near 0), and stays near 0 throughout training: it is not a score to watch go down. Its
# *gradient*, `-mean(A * d log p)`, is not 0: it pushes up the tokens of good samples and down
# those of bad ones. `jax.grad(f)` returns the function that computes f's gradient (tutorial 03);
# here we differentiate with respect to the log-probs themselves.

# %%
key = jax.random.key(0)  # JAX's randomness is explicit: a key in, numbers out, same key same numbers
logp_BN = jax.random.normal(key, (8, 5)) - 2.0  # log-probs of 8 samples of 5 tokens
adv_B = rl.group_advantages(np.array([[1.1, 0.1, 0.0, 1.1, 0.1, 0.1, 1.1, 0.0]]))[0]
mask_BN = jnp.ones((8, 5))
loss_at = lambda logp: rl.policy_loss(logp, logp_BN, adv_B, mask_BN)[0]  # old log-probs = the sampler's
loss, grad_BN = jax.jit(jax.value_and_grad(loss_at))(logp_BN)  # jit: compile once, not op by op
print(f"loss {float(loss):.2e}; gradient per sample (summed over its tokens): {np.asarray(grad_BN.sum(1)).round(3)}")
assert abs(float(loss)) < 1e-6, f"at ratio 1 the loss should be -mean(A) = 0, got {float(loss)}"
assert float(jnp.abs(grad_BN.sum(axis=1)).max()) > 0.1, "the gradient should not be 0"
assert np.all(np.sign(np.asarray(grad_BN[:, 0])) == -np.sign(np.asarray(adv_B))), \
    "descent should raise log p where A > 0 and lower it where A < 0"

# %% [markdown]
# The clip, one token at a time: with A = +1, the gradient is nonzero while the ratio is inside
# the trust region and exactly 0 once the token has already become 1 + clip_high = 1.28 times as
# likely. With A = -1, it stops at 1 - clip_low = 0.8. A token that moved the *wrong* way is never
# clipped: that error is always corrected.

# %%
@jax.jit
def _token_grad(log_ratio, a):
    f = lambda lp: rl.policy_loss(lp, jnp.zeros((1, 1)), a[None], jnp.ones((1, 1)))[0]
    return jax.grad(f)(jnp.full((1, 1), log_ratio))[0, 0]

def token_grad(ratio, a):  # the gradient of the loss with respect to log p of one token
    return float(_token_grad(np.log(ratio), np.float32(a)))

for ratio in (0.7, 0.9, 1.0, 1.2, 1.4):
    print(f"ratio {ratio}: gradient with A=+1 {token_grad(ratio, 1.0):+.2f}, with A=-1 {token_grad(ratio, -1.0):+.2f}")
assert token_grad(1.4, 1.0) == 0.0 and token_grad(1.2, 1.0) < 0, "A>0: pulls inside the region, not past 1.28"
assert token_grad(0.7, -1.0) == 0.0 and token_grad(0.9, -1.0) > 0, "A<0: pushes inside the region, not below 0.8"
assert token_grad(0.7, 1.0) < 0 and token_grad(1.4, -1.0) > 0, "a token that moved the wrong way is never clipped"

# %% [markdown]
# ## 4. A bandit that learns with the same two functions
#
# Before a transformer, the smallest RL problem: a slot machine with six arms, each paying 1 with
# its own hidden probability. The "policy" is six logits, softmax gives the probability of each
# arm; a "group" is 16 pulls; rewards go through `rl.group_advantages` and the update through
# `rl.policy_loss`, exactly as for the language model (there each *token* is a pull). Two
# optimizer passes per batch of pulls, as with PPO. `jax.jit` compiles the whole step once.

# %%
PAYOUT = jnp.array([0.2, 0.5, 0.3, 0.7, 0.1, 0.4])  # arm 3 is best, arm 1 a close second
PULLS = 16  # the group: pulls per step
bandit_tx = optax.adam(0.05)

@jax.jit
def bandit_step(logits, opt_state, key):
    pick_key, pay_key = jax.random.split(key)
    arms_G = jax.random.categorical(pick_key, logits, shape=(PULLS,))
    reward_G = (jax.random.uniform(pay_key, (PULLS,)) < PAYOUT[arms_G]).astype(jnp.float32)
    adv_G = rl.group_advantages(reward_G[None, :])[0]
    old_logp_G1 = jax.nn.log_softmax(logits)[arms_G][:, None]  # the policy that pulled the arms

    def loss_fn(logits):
        logp_G1 = jax.nn.log_softmax(logits)[arms_G][:, None]
        return rl.policy_loss(logp_G1, old_logp_G1, adv_G, jnp.ones((PULLS, 1)))[0]

    for _ in range(2):  # two passes over the same pulls; the clip keeps them close to the old policy
        loss, grads = jax.value_and_grad(loss_fn)(logits)
        updates, opt_state = bandit_tx.update(grads, opt_state)
        logits = optax.apply_updates(logits, updates)
    return logits, opt_state, loss, reward_G.mean()

logits = jnp.zeros(6)
opt_state = bandit_tx.init(logits)
history = []
for step in range(300):
    logits, opt_state, loss, mean_reward = bandit_step(logits, opt_state, jax.random.key(step))
    history.append((float(loss), float(mean_reward), float(jax.nn.softmax(logits)[3])))
probs = np.asarray(jax.nn.softmax(logits))
print("arm probabilities after 300 steps:", probs.round(3))
print(f"loss over the last 100 steps: mean {np.mean([h[0] for h in history[-100:]]):+.4f}")
assert int(np.argmax(probs)) == 3 and probs[3] > 0.8, f"the bandit should settle on arm 3, got {probs.round(3)}"
assert max(abs(h[0]) for h in history) < 0.2, "the loss value should stay near 0 throughout"

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].plot([h[2] for h in history])
ax[0].set(xlabel="step", ylabel="P(best arm)", title="the policy learns")
ax[1].plot([h[0] for h in history])
ax[1].set(xlabel="step", ylabel="loss", title="while the loss stays near 0", ylim=(-0.5, 0.5))
fig.tight_layout()
fig.savefig(OUT / "bandit.png")
plt.show()

# %% [markdown]
# ## 5. RL on a real task
#
# Now the real thing, with the project's own RL stage. First a policy to improve: a short SFT run
# on addition with up to two digits per operand (tutorial 05's recipe, with a smaller model and
# fewer steps), stopped while it is only *partly* right, so RL has something to work with.
# (RL on a policy that is never right learns nothing: every group is flat. On one that is always
# right there is nothing left to learn.)

# %%
SFT_STEPS = 300 if FAST else 1000  # fast mode: a weaker policy (9-18% greedy, by CPU, instead of ~55%)
MODEL = """
[model]
d_model = 64
n_layers = 2
n_heads = 2
mlp_hidden = 192
"""
COMMON = """
[data]
tasks = { add = 1.0 }
levels = { add = [1, 2] }
seq_len = 40
batch_size = 32

[eval]
n = 200
n_periodic = 200
max_new = 32
batch_size = 200
levels = { add = 2 }  # evaluate on two-digit problems (held out: training never draws them)
"""
(OUT / "sft.toml").write_text(MODEL + COMMON + f"""
[optim]
lr = 1e-2
warmup_steps = 10

[train]
steps = {SFT_STEPS}
log_every = 50
eval_every = {SFT_STEPS}
save_every = {SFT_STEPS}
""")
sft_report = train.main([str(OUT / "sft.toml"), f"run.out_dir={OUT}", "run.name=sft"])
print(f"SFT: greedy held-out accuracy {sft_report['accuracy']:.3f}")
low = 0.02 if FAST else 0.1  # fast mode stops at the very start of the rise (18% here; another CPU may differ)
assert low < sft_report["accuracy"] < 0.85, "the starting policy should be partly right"

# %% [markdown]
# The RL stage (`run.stage = "rl"`) starts from that run (`run.init_from`; the model comes with it,
# so the config has no `[model]`). Each step draws 16 training prompts, samples a group of 8
# completions of each at temperature 1, scores them with the task's scorer, computes GRPO
# advantages and takes one clipped policy-gradient step: sections 1-3, in `rl.make_rl_update`.
# The override `eval.samples=4` adds, at every evaluation, 4 samples per held-out problem at temperature 1:
# their accuracy is pass@1 *of the sampled policy*, the quantity RL optimises; pass@4 is the share
# of problems where at least one of the 4 samples is right (tutorial 08 is about pass@k).

# %%
RL_STEPS, RL_EVERY = (4, 4) if FAST else (40, 10)
(OUT / "rl.toml").write_text(COMMON + f"""
[run]
stage = "rl"
init_from = "{OUT / 'sft'}"

[optim]
lr = 5e-4  # 1e-3 made greedy accuracy dip by 16 points before recovering
warmup_steps = 3
min_lr_ratio = 1.0  # constant after warmup
weight_decay = 0.0

[rl]
prompts_per_step = 16
group_size = 8
temperature = 1.0
max_new = 32
ppo_epochs = 1

[train]
steps = {RL_STEPS}
log_every = 5
eval_every = {RL_EVERY}
save_every = {RL_STEPS}
""")
train.main([str(OUT / "rl.toml"), f"run.out_dir={OUT}", "run.name=rl", "eval.samples=4"])
curve = [json.loads(line) for line in (OUT / "rl" / "eval_history.jsonl").read_text().splitlines()]
steps = [c["step"] for c in curve]
greedy = [c["tasks"]["add"]["accuracy"] for c in curve]
pass1 = [c["tasks"]["add"]["pass@1"] for c in curve]
pass4 = [c["tasks"]["add"]["pass@4"] for c in curve]
for s, g, p1, p4 in zip(steps, greedy, pass1, pass4):
    print(f"step {s:3d}: sampled accuracy (pass@1) {p1:.3f}   greedy {g:.3f}   pass@4 {p4:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(steps, pass1, marker="o", label="sampled at temperature 1 (pass@1)")
ax.plot(steps, greedy, marker="o", label="greedy")
ax.plot(steps, pass4, marker="o", label="any of 4 samples (pass@4)")
ax.set(xlabel="RL step", ylabel="held-out accuracy, 200 problems", title="RL on two-digit addition")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "rl_curve.png")
plt.show()

# %% [markdown]
# What the curve shows (full mode, measured on this CPU): sampled accuracy climbs steadily, about
# 33% -> 47% in 40 steps, on 800 held-out samples per point, so the rise is many times the
# sampling noise (about 1.7 points). Greedy accuracy barely moves and pass@4 stays flat. RL at
# this scale mostly *sharpens* the policy: the right answer it could already find in a few tries
# becomes the one it writes on the first. That is what a group advantage can do: it only ever
# compares samples the policy already writes. Whether RL can also teach *new* skills is a live
# research question; docs/rl.md has the project's longer runs.

# %%
gain = pass1[-1] - pass1[0]
# Fast mode runs 4 RL steps from a weaker policy: a rise is expected but small, so only ask that it not fall.
need = -0.02 if FAST else 0.08
assert gain > need, f"sampled accuracy should rise by more than {need:.2f}, went {pass1[0]:.3f} -> {pass1[-1]:.3f}"
print(f"sampled accuracy {pass1[0]:.3f} -> {pass1[-1]:.3f} (+{gain:.3f})")

# %% [markdown]
# ## 6. Reward hacking: a loose verifier and a policy that exploits it
#
# RL optimises the reward you wrote, not the one you meant. Here is a plausible mistake: someone
# sees the model drop a digit now and then (`85` as `8`) and writes a verifier that rejects answers
# that are *too small*, forgetting to reject answers that are too large. Right answers pass, and
# so does `999`.
#
# The project's RL stage always uses the task's strict scorer (that is the point), so to swap the
# verifier we write the RL loop ourselves from the project's pieces: `sampler.sample` for the
# rollout, our reward, `rl.group_advantages`, and the clipped step `rl.make_rl_step` (which wraps
# `rl.policy_loss` in an optimizer step). Same starting policy, same settings as the run above;
# only the reward differs. We also keep the strict score of every sample, to see what really
# happens.

# %%
def loose_score(answer: str, right: str) -> float:
    """The buggy verifier: any integer that is not smaller than the right answer passes."""
    n = parse_int(answer.strip())
    return float(n is not None and n >= int(right))

print(loose_score("85", "85"), loose_score("8", "85"), loose_score("999", "85"))
assert [loose_score(a, "85") for a in ("85", "8", "84", "86", "999", "x")] == [1, 0, 0, 1, 1, 0]

# %%
HACK_STEPS = 8 if FAST else 30
B, G = 16, 8
_, graphdef, params = load_run(OUT / "sft")
start_params = params
hack_cfg = RLConfig(prompts_per_step=B, group_size=G, temperature=1.0, max_new=32, ppo_epochs=1)
hack_tx = make_optimizer(OptimConfig(lr=5e-4, warmup_steps=3, min_lr_ratio=1.0, weight_decay=0.0), HACK_STEPS)
rl_step = rl.make_rl_step(graphdef, hack_tx, hack_cfg)
opt_state = hack_tx.init(params)
sample_cfg = SampleConfig(max_new=32, temperature=1.0)
hacked_reward, true_accuracy, answer_len = [], [], []
for step in range(HACK_STEPS):
    drawn = training_examples({"add": 1.0}, {"add": (1, 2)}, random.Random(f"hack/{step}"), B)
    prompts = [ex.prompt for _, ex in drawn for _ in range(G)]  # row b * G + g: sample g of prompt b
    rights = [ex.answer for _, ex in drawn for _ in range(G)]
    prompt_BP, start_B = pad_prompts(prompts)
    out = jax.device_get(sample(graphdef, params, prompt_BP, start_B, jax.random.key(step), sample_cfg))
    parsed = [parse_completion(tokens) for tokens in out["tokens"]]  # (thinking, answer, well_formed)
    loose = np.array([loose_score(a, r) if ok else 0.0 for (_, a, ok), r in zip(parsed, rights)], np.float32)
    strict = np.array([task.score(p, a) if ok else 0.0 for (_, a, ok), p in zip(parsed, prompts)], np.float32)
    adv_BG = rl.group_advantages(loose.reshape(B, G))  # learning from the loose verifier only
    batch = dict(prompt=prompt_BP, start=start_B, completion=out["tokens"], old_logp=out["logprobs"],
                 adv=adv_BG.reshape(-1))
    params, opt_state, _ = rl_step(params, opt_state, batch)
    hacked_reward.append(loose.mean())
    true_accuracy.append(strict.mean())
    answer_len.append(np.mean([len(a) for _, a, _ in parsed]))
    if step % 5 == 0 or step == HACK_STEPS - 1:
        print(f"step {step:2d}: loose reward {loose.mean():.2f}  true accuracy {strict.mean():.2f}  "
              f"answers to {prompts[0]} {[a for _, a, _ in parsed[:G]]}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(hacked_reward, marker="o", label="reward from the loose verifier")
ax.plot(true_accuracy, marker="o", label="true accuracy (strict scorer)")
ax.set(xlabel="RL step", ylabel="rollout mean, 128 samples", title="reward hacking")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "reward_hacking.png")
plt.show()

# %% [markdown]
# The loose reward goes up while the true accuracy collapses: the policy has learned to write
# numbers that are too large, which the buggy verifier cannot tell from right ones, and which are
# easier to produce than the right answer. Held-out greedy accuracy, before and after:

# %%
heldout = lambda p: evaluate_task(graphdef, p, "add", 2, 200, SampleConfig(max_new=32), jax.random.key(0), 200)
before, after = heldout(start_params), heldout(params)
print(f"greedy held-out accuracy: {before['accuracy']:.3f} before, {after['accuracy']:.3f} after hacking")
for s in after["samples"][:4]:
    print(f"  {s['prompt']:7} -> {s['answer']!r} (right: {s['expected']})")

k = 3 if FAST else 5
early, late = slice(0, k), slice(-k, None)
print(f"first {k} steps: loose {np.mean(hacked_reward[early]):.2f}, true {np.mean(true_accuracy[early]):.2f}; "
      f"last {k}: loose {np.mean(hacked_reward[late]):.2f}, true {np.mean(true_accuracy[late]):.2f}")
# Fast mode: 8 steps from a weaker policy (true accuracy starts lower), so the fall has less room;
# its held-out start (9-18% greedy, by CPU) leaves room only for a relative fall.
fall = 0.05 if FAST else 0.2
held_fall = before["accuracy"] / 4 if FAST else 0.2
assert np.mean(hacked_reward[late]) >= np.mean(hacked_reward[early]), "the loose reward should not fall"
assert np.mean(true_accuracy[late]) < np.mean(true_accuracy[early]) - fall, "true accuracy should fall"
assert np.mean(hacked_reward[late]) > np.mean(true_accuracy[late]) + 0.5, "the loose reward should far exceed the truth"
assert after["accuracy"] < before["accuracy"] - held_fall, "held-out accuracy should fall too"

# %% [markdown]
# The lesson is the one behind the project's rule that a reward is the task's *strict* scorer:
# RL finds whatever the verifier pays for. Loopholes that the policy already stumbles into are
# found in a few steps, as here; rarer ones take longer but are found all the same. (A verifier
# that accepts any answer *containing* the right number is a loophole of the second kind for this
# policy: it must first happen to write extra digits, and in 40 steps at temperature 1.5 the
# answers grew only from 2.1 to about 2.4 characters.) A KL penalty toward the starting policy
# (`rl.kl_beta`) slows the drift but does not remove the loophole; only a correct verifier does.
#
# ## Exercises
#
# 1. **Group advantages** (graded in assignment a4). Write `group_advantages(rewards_BG, mode)` for
#    `"grpo"` and `"drgrpo"` yourself, including the zero-signal case, and check it against the
#    asserts of section 2. Why would `(r - mean) / std` be NaN for a flat group without the special case?
# 2. **The clipped loss with KL** (graded in assignment a4). Write the per-token clipped surrogate
#    with decoupled `clip_low`/`clip_high`, the k3 KL estimator `exp(d) - d - 1` with
#    `d = ref_logp - logp`, and both aggregations (`token_mean`, `seq_mean`). Check that the `seq_mean`
#    loss sits at 0 on the first pass, and that with `kl_beta > 0` the gradient pulls log-probs toward the reference.
# 3. Run the bandit with `mode="drgrpo"`, with `negative_weight=0` in `group_advantages`, and with
#    `PULLS = 4`. Which one finds arm 3 fastest, and which one sometimes settles on arm 1?
# 4. Rerun section 6 with `rl.kl_beta`-style protection: add `kl_beta=0.1` to `hack_cfg` and pass
#    `ref_logp` (from `rl.completion_logprobs` on `start_params`) in the batch. How much longer does
#    the collapse take?
# 5. Write the *contains* verifier from the last paragraph and run section 6 with it for 100 steps.
#    Does the answer length grow?
#
# Next: [08 · Test-time compute](08_test_time_compute.ipynb): spending more samples and more
# thinking at test time instead of more training.
