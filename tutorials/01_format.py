# %% [markdown]
# # 01 · The format: how a model that thinks sees text
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/01_format.ipynb)
#
# **You will learn:**
# - how text becomes numbers: a character-level tokenizer with five special tokens;
# - the one format every example, sample and reward in minireason uses:
#   `<bos> PROMPT <think> THINKING </think> ANSWER <eos>`;
# - the loss mask: why the model is trained on its thinking and answer but never on the prompt;
# - how a completion is split back into thinking and answer, and what makes it malformed;
# - why reasoning tokens are counted (and billed) apart from the answer.
#
# **Time on a 2-core CPU:** about 10 s (fast mode, `MINIREASON_FAST=1`: about the same; nothing here trains).
#
# **Assumes:** Python and a little NumPy; nothing else.

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %%
import inspect
import random

import numpy as np

from minireason import tokenizer
from minireason.tasks import get_task

# %% [markdown]
# ## 1. Characters in, numbers out
#
# A language model reads and writes integers ("token ids"), one at a time. Large models use
# tokenizers that merge frequent chunks of text into one token; minireason keeps the simplest
# possible choice: **one token per character**. That keeps the arithmetic visible (every digit
# is its own token) and the vocabulary tiny: the 95 printable ASCII characters plus five
# special tokens that are not characters at all.

# %%
source = inspect.getsource(tokenizer)
print(source[source.index("PAD, BOS"):source.index("def encode")])
print("vocabulary size:", tokenizer.VOCAB_SIZE)
print("the first ten tokens:", tokenizer.VOCAB[:10])
assert tokenizer.VOCAB_SIZE == 5 + 95, "five special tokens and the 95 printable ASCII characters"

# %% [markdown]
# `encode` maps text to ids and `decode` maps them back. Here is the project's code:

# %%
print(inspect.getsource(tokenizer.encode))
print(inspect.getsource(tokenizer.decode))

# %%
text = "47+385="
ids = tokenizer.encode(text)
print(text, "->", ids)
assert tokenizer.decode(ids) == text, "decode(encode(text)) gives the text back"
assert len(ids) == len(text), "one token per character"

# %% [markdown]
# The special tokens exist only as ids. If someone *types* `<eos>`, that is five ordinary
# characters, not the end-of-sequence token. This matters: text that comes from outside (a
# user's prompt, a model's own output fed back in) can never forge a control token.

# %%
forged = tokenizer.encode("<eos>")
print("typed '<eos>' ->", forged, "  the real <eos> token is", tokenizer.EOS_ID)
assert len(forged) == 5 and tokenizer.EOS_ID not in forged, "a typed <eos> is five characters"

try:
    tokenizer.encode("naïve")
    raise AssertionError("a non-ASCII character should be refused")
except ValueError as e:
    print("refused:", e)

# %% [markdown]
# ## 2. One example: prompt, thinking, answer
#
# Every task in minireason produces worked examples: a prompt, a worked *thinking* trace (how a
# person would solve it on paper) and the answer. Tutorial 02 looks at the tasks themselves; here
# we only need one addition problem.

# %%
ex = get_task("add").generate(random.Random(0), 3)
print(ex)

# %% [markdown]
# The trace adds column by column, right to left: `digit+digit+carry=two-digit sum`, then the
# digits of the result written so far. `render` turns the example into the one token sequence
# the model trains on:
#
# `<bos> PROMPT <think> THINKING </think> ANSWER <eos>`
#
# and, alongside it, a **loss mask**: one 0 or 1 per token.

# %%
print(inspect.getsource(tokenizer.prompt_ids))
print(inspect.getsource(tokenizer.render))

# %%
ids, mask = tokenizer.render(ex)
print(tokenizer.decode(ids))
print()
print("token:", "".join(f"{tokenizer.VOCAB[i]:>8}" for i in ids[:12]), "...")
print("id:   ", "".join(f"{i:>8}" for i in ids[:12]), "...")
print("mask: ", "".join(f"{m:>8}" for m in mask[:12]), "...")

head = len(tokenizer.prompt_ids(ex.prompt))
assert ids[0] == tokenizer.BOS_ID and ids[head - 1] == tokenizer.THINK_ID, "the prompt part ends with <think>"
assert ids[-1] == tokenizer.EOS_ID and tokenizer.END_THINK_ID in ids, "the example closes its thought and ends"
assert mask == [0] * head + [1] * (len(ids) - head), "mask: 0 on <bos> PROMPT <think>, 1 on everything after"

# %% [markdown]
# ## 3. Why the loss mask
#
# A language model is trained to predict each next token. If the loss also covered the prompt,
# the model would spend its capacity learning *which questions get asked*: here, random digits,
# which cannot be predicted at all. The mask restricts the loss to what we want the model to
# produce: the thinking, `</think>`, the answer and `<eos>`. The loss in `minireason/sft.py`:

# %%
from minireason import sft

print(inspect.getsource(sft.masked_ce))
print(inspect.getsource(sft.sft_loss))

# %% [markdown]
# `sft_loss` feeds tokens `0..T-2` and scores the predictions against tokens `1..T-1` (each
# position predicts the next token), so the mask is shifted the same way.
#
# We can check the claim "the prompt does not count" directly, with made-up model outputs
# ("logits": one score per vocabulary entry at every position; softmax turns them into
# probabilities). `masked_ce` is written with `jax.numpy`, a NumPy look-alike that tutorial 03
# introduces; it accepts NumPy arrays. Change the logits at the prompt's positions wildly and
# the loss does not move; change one position after `<think>` and it does.

# %%
rng = np.random.default_rng(0)
T, V = len(ids) - 1, tokenizer.VOCAB_SIZE
tokens = np.array(ids)
logits = rng.normal(size=(1, T, V)).astype(np.float32)
targets, target_mask = tokens[None, 1:], np.array(mask, np.float32)[None, 1:]
base = float(sft.masked_ce(logits, targets, target_mask))

prompt_positions = np.flatnonzero(target_mask[0] == 0)  # predictions of prompt tokens (and of <think>)
scrambled = logits.copy()
scrambled[0, prompt_positions] = rng.normal(scale=100.0, size=(len(prompt_positions), V))
changed = logits.copy()
changed[0, head, targets[0, head]] += 5.0  # one prediction inside the thinking: more weight on the right token
print(f"loss {base:.4f}; prompt logits scrambled {float(sft.masked_ce(scrambled, targets, target_mask)):.4f}; "
      f"one thinking position changed {float(sft.masked_ce(changed, targets, target_mask)):.4f}")
assert abs(float(sft.masked_ce(scrambled, targets, target_mask)) - base) < 1e-6, "the prompt's predictions do not count"
assert abs(float(sft.masked_ce(changed, targets, target_mask)) - base) > 1e-3, "the thinking's predictions do"

# %% [markdown]
# The loss at one position is the *cross-entropy*: minus the log of the probability the model gave
# the right next token (0 when it was sure and right, large when it was sure and wrong). A model
# that knows nothing spreads its probability evenly over the 100 tokens, 1/100 each; its loss is
# then $-\ln(1/100) = \ln 100 \approx 4.6$ per token. That is the number a training run starts near
# (tutorial 05 drives it toward 0).

# %%
uniform = np.zeros((1, T, V), np.float32)
loss_uniform = float(sft.masked_ce(uniform, targets, target_mask))
print(f"uniform guess: loss {loss_uniform:.4f}, ln(V) = {np.log(V):.4f}")
assert abs(loss_uniform - np.log(V)) < 1e-4, "a uniform guess costs ln(V) per token"

# %% [markdown]
# ## 4. Reading a completion back
#
# At test time the model is given `<bos> PROMPT <think>` and writes the rest. `parse_completion`
# splits what it wrote into thinking and answer. A completion is **well formed** only with
# exactly one `</think>` followed by an `<eos>`; anything else is malformed and its answer
# counts as wrong, whatever it says. This strict rule is also the "format reward" of RL
# (tutorial 07): a model cannot earn credit with an answer it never clearly committed to.

# %%
print(inspect.getsource(tokenizer.parse_completion))

# %%
T_, E_ = tokenizer.END_THINK, tokenizer.EOS
cases = {
    f"4+3+0=07 7{T_}7{E_}": ("4+3+0=07 7", "7", True),
    f"4+3+0=07 7{T_}7{E_} junk after the end": ("4+3+0=07 7", "7", True),  # ignored after <eos>
    f"4+3+0=07 7{T_}7": ("4+3+0=07 7", "7", False),  # never ended
    f"4+3{T_}0=07{T_}7{E_}": ("4+3", "0=07", False),  # two </think>
    f"no thought at all, just 7{E_}": ("no thought at all, just 7", "", False),
}
for completion, expected in cases.items():
    got = tokenizer.parse_completion(completion)
    print(f"{completion!r:60} -> {got}")
    assert got == expected, f"{completion!r}: expected {expected}, got {got}"

# %% [markdown]
# The sampler hands `parse_completion` token ids rather than text; both give the same split.

# %%
completion_ids = ids[head:]  # what a perfect model would write after <think>
assert tokenizer.parse_completion(completion_ids) == (ex.thinking, ex.answer, True), "ids parse like text"
assert tokenizer.parse_completion(tokenizer.decode(completion_ids)) == (ex.thinking, ex.answer, True)

# %% [markdown]
# ## 5. Reasoning tokens are billed apart
#
# OpenAI's o1 API reports *reasoning tokens* separately from the visible answer: the user sees
# (and mostly cares about) the answer, but pays for the thinking too. minireason's sampler does
# the same: every sample comes back with `thinking_tokens` and `answer_tokens` (tutorial 04).
# How much of the bill is thinking? Count it over 500 addition problems with up to 3 digits:

# %%
task, rng_py = get_task("add"), random.Random(1)
examples = [task.generate(rng_py, 3) for _ in range(500)]
thinking = np.array([len(tokenizer.encode(e.thinking)) for e in examples])
answer = np.array([len(tokenizer.encode(e.answer)) for e in examples])
share = thinking.sum() / (thinking.sum() + answer.sum())
print(f"mean thinking tokens {thinking.mean():.1f}, mean answer tokens {answer.mean():.1f}: "
      f"{share:.0%} of the generated tokens are thinking")
assert share > 0.8, f"on 3-digit addition most of the generated tokens are thinking (got {share:.0%})"

# %% [markdown]
# The thinking is the price of accuracy: tutorial 06 compares a small model that thinks with a
# larger one that answers directly, which is trained on the **no-think** format. It keeps the same
# prompt and an empty thought, so one sampler serves both:

# %%
direct_ids, direct_mask = tokenizer.render(ex, think=False)
print(tokenizer.decode(direct_ids))
assert tokenizer.decode(direct_ids) == f"<bos>{ex.prompt}<think></think>{ex.answer}<eos>"
assert sum(direct_mask) == len(ex.answer) + 2, "the loss covers </think>, the answer and <eos>"

# %% [markdown]
# ## Exercises
#
# 1. (graded in assignment a1) Write `render(example, think)` yourself from the format above:
#    return `(ids, loss_mask)` and check it against `tokenizer.render` on 1,000 examples of
#    several tasks, with and without thinking.
# 2. (graded in assignment a1) Write `parse_completion` for token ids: exactly one `</think>`,
#    then `<eos>`; test it on the malformed cases above and on ones you invent (what about a
#    `<think>` inside the completion?).
# 3. Count thinking and answer tokens for `mul` at level 3 and for `countdown` at level 4 (use
#    `get_task`). Which task's thinking costs the most per answer token, and why?
# 4. Suppose the loss covered the prompt too. Estimate the best loss achievable on a prompt's
#    digits (they are drawn uniformly: what is the entropy of a uniform digit?) and explain why
#    that part of the loss can never go to zero.
#
# Next: [02 · Tasks and verifiers](02_tasks_and_verifiers.ipynb): where the examples come from,
# and how an answer is judged right.
