"""A learned verifier (outcome reward model): Cobbe et al. 2021, "Training Verifiers to Solve
Math Word Problems" (arXiv:2110.14168).

The verifier reads a whole sample, `<bos> PROMPT <think> THINKING </think> ANSWER <eos>`, and
predicts P(correct). At test time it picks the best of k samples (rerank@k) or weights a vote
(weighted maj@k, minireason/evaluate.py). It is the same transformer as the policy, with a
scalar head read at the last real token (`<eos>`); it can start from the policy's parameters
(`run.init_from`), as Cobbe et al. start both from one pretrained model.

Training data are the policy's own samples at `verifier.temperature` on training prompts,
labelled by the task's exact scorer; the held-out AUC is measured on samples of the held-out
prompts, which neither the policy nor the verifier trained on.

Simplified, because the models are tiny and the task scorers are exact:
- one prediction per sample at its last token, with binary cross-entropy; Cobbe et al. predict
  at every token and keep a language-modelling loss as well;
- only well-formed samples (exactly one `</think>` before `<eos>`) are kept: a malformed one
  is wrong by the format rule, which costs nothing to check, so the verifier never scores one;
- the samples are drawn once, before training, and cached in the run directory
  (`verifier_data.npz`), so a resumed run trains on the same data without sampling again.
"""

import json
import random
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from . import mesh
from .config import VerifierConfig
from .errors import UserError
from .evaluate import eval_levels
from .model import ModelConfig, Transformer
from .sampler import SampleConfig, generate, round_up
from .sft import make_step
from .tasks import get_task, heldout_examples, training_examples
from .tokenizer import END_THINK_ID, EOS_ID, PAD_ID, encode, prompt_ids


class Verifier(nnx.Module):
    """The policy's transformer body, and a linear head from the final hidden state to a logit."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.body = Transformer(cfg, rngs)
        self.head = nnx.Linear(cfg.d_model, 1, kernel_init=nnx.initializers.zeros, rngs=rngs)  # starts at P = 0.5

    def __call__(self, tokens_BT, last_B):
        """Logit of P(correct) per row; rows are right-padded and read at index last_B (causal: padding is unseen)."""
        x_BTD, _ = self.body.features(tokens_BT)
        x_BD = jnp.take_along_axis(x_BTD, last_B[:, None, None], axis=1)[:, 0]
        return self.head(x_BD.astype(jnp.float32))[:, 0]


def sample_ids(prompt: str, thinking: str, answer: str) -> list[int]:
    """What the verifier reads for one well-formed sample (as the sampler wrote it, token for token)."""
    return prompt_ids(prompt) + encode(thinking) + [END_THINK_ID] + encode(answer) + [EOS_ID]


def pad_right(seqs: list[list[int]], multiple: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(tokens_ML, last_M): right-padded to a multiple of `multiple`, so few lengths ever compile."""
    L = round_up(max(len(s) for s in seqs), multiple)
    tokens = np.full((len(seqs), L), PAD_ID, np.int32)
    for i, s in enumerate(seqs):
        tokens[i, :len(s)] = s
    return tokens, np.array([len(s) - 1 for s in seqs], np.int32)


@partial(jax.jit, static_argnames="graphdef")
def _probs(graphdef, params, tokens_BT, last_B):
    return jax.nn.sigmoid(nnx.merge(graphdef, params)(tokens_BT, last_B))


def probabilities(graphdef, params, tokens_ML, last_M, batch_size: int = 256) -> np.ndarray:
    """P(correct) for every row, in fixed-size batches (the last one padded) so one shape compiles."""
    if len(tokens_ML) == 0:
        return np.zeros((0,), np.float32)
    B, out = min(batch_size, len(tokens_ML)), []
    padded = round_up(B, mesh.row_multiple())  # the rows of a batch split evenly over the devices of a mesh
    for lo in range(0, len(tokens_ML), B):
        tokens, last = tokens_ML[lo:lo + B], last_M[lo:lo + B]
        n = len(tokens)
        tokens, last = np.pad(tokens, ((0, padded - n), (0, 0))), np.pad(last, (0, padded - n))
        out.append(mesh.to_host(_probs(graphdef, params, *mesh.rows((tokens, last))))[:n])
    return np.concatenate(out)


def make_scorer(graphdef, params, batch_size: int = 256):
    """scorer(prompts, samples) -> P(correct) of each well-formed sample dict (thinking, answer), for evaluate.py."""
    def scorer(prompts: list[str], samples: list[dict]) -> np.ndarray:
        if not samples:
            return np.zeros((0,), np.float32)
        tokens, last = pad_right([sample_ids(p, s["thinking"], s["answer"]) for p, s in zip(prompts, samples)])
        return probabilities(graphdef, params, tokens, last, batch_size)
    return scorer


def auc(scores, labels) -> float:
    """Area under the ROC curve: P(a random positive scores above a random negative), a tie counting 1/2.

    By ranks (the Mann-Whitney U statistic): sort all scores, give tied scores their average
    rank, and U = (sum of the positives' ranks) - n_pos (n_pos + 1) / 2 counts the pairs a
    positive wins. O(n log n) instead of n_pos * n_neg comparisons. NaN if a class is absent.
    """
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels) > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # 1-based average rank of each run of ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --- the data: the policy's samples, labelled by the task scorers ---

SPLITS = ("train", "heldout")
ROW_KEYS = ("tokens", "last", "label", "task", "prompt")


def check_config(cfg) -> None:
    """Raise ValueError, naming the key, for verifier settings that cannot work."""
    v: VerifierConfig = cfg.verifier
    if not v.policy:
        raise ValueError("verifier.policy must name the policy run whose samples to judge, e.g. runs/countdown_sft")
    if v.n_prompts < 1 or v.samples_per_prompt < 1 or v.max_new < 1 or v.temperature < 0:
        raise ValueError("verifier.n_prompts, verifier.samples_per_prompt and verifier.max_new must be >= 1, "
                         "and verifier.temperature >= 0")


def collect(cfg, path, load_policy, log=print) -> dict:
    """{"tasks": names, "train": rows, "heldout": rows}: sampled once, then read back from `path` (a .npz).

    rows: tokens (M, L), last (M,), label (M,) 1.0 if correct, task (M,) index into tasks, and
    prompt (M,) which prompt of the split the sample answers. `load_policy()` returns the
    policy's (config, graphdef, params); it is called only when the samples must be drawn. The
    file is reused while the settings are the same; delete it to sample again from a retrained policy.
    """
    fingerprint = json.dumps([vars(cfg.verifier), vars(cfg.data), cfg.eval.n, eval_levels(cfg), cfg.run.seed])
    if path.exists():
        with np.load(path) as saved:
            if str(saved["fingerprint"]) == fingerprint:
                return {"tasks": [str(t) for t in saved["tasks"]],
                        **{s: {k: saved[f"{s}_{k}"] for k in ROW_KEYS} for s in SPLITS}}
        log(f"note: {path} was sampled with other settings; sampling again")
    _, graphdef, params = load_policy()
    v, tasks = cfg.verifier, sorted(cfg.data.tasks)
    drawn = {"train": training_examples(cfg.data.tasks, cfg.data.levels, random.Random(f"{cfg.run.seed}/verifier"),
                                        v.n_prompts, cfg.data.train_buckets, cfg.data.level_weights),
             "heldout": [(name, ex) for name, levels in eval_levels(cfg).items()
                         for ex in heldout_examples(name, levels[-1], cfg.eval.n)]}
    sample_cfg = SampleConfig(max_new=v.max_new, temperature=v.temperature)
    data = {"tasks": tasks}
    for split_index, split in enumerate(SPLITS):
        jobs = [(i, name, ex) for i, (name, ex) in enumerate(drawn[split]) for _ in range(v.samples_per_prompt)]
        outs = generate(graphdef, params, [ex.prompt for _, _, ex in jobs], sample_cfg,
                        jax.random.fold_in(jax.random.key(cfg.run.seed), split_index), cfg.eval.batch_size,
                        progress=f"sampling {split} completions from {v.policy}")
        rows = []
        for (i, name, ex), o in zip(jobs, outs):
            ids = sample_ids(ex.prompt, o["thinking"], o["answer"])
            if o["well_formed"] and len(ids) <= cfg.data.seq_len:
                rows.append((ids, get_task(name).score(ex.prompt, o["answer"]), tasks.index(name), i))
        if not rows:
            raise UserError(f"no well-formed {split} sample of {v.policy} fits in data.seq_len={cfg.data.seq_len}: "
                             "nothing to learn from; raise data.seq_len or use a trained policy")
        ids, label, task, prompt = zip(*rows)
        tokens, last = pad_right(list(ids))
        data[split] = dict(tokens=tokens, last=last, label=np.array(label, np.float32),
                           task=np.array(task, np.int32), prompt=np.array(prompt, np.int32))
        log(f"{split}: {len(jobs)} samples of {len(drawn[split])} prompts, {len(tokens)} well formed and kept, "
            f"{data[split]['label'].mean():.1%} of those correct")
    np.savez(path, fingerprint=fingerprint, tasks=tasks, **{f"{s}_{k}": data[s][k] for s in SPLITS for k in ROW_KEYS})
    return data


# --- training and evaluation, shaped like the other stages for train.py ---

def bce_loss(graphdef, params, tokens_BT, last_B, label_B):
    logit_B = nnx.merge(graphdef, params)(tokens_BT, last_B)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logit_B, label_B)), logit_B


def make_verifier_update(graphdef, tx: optax.GradientTransformation, cfg, data: dict):
    """update(step, params, opt_state) -> (params, opt_state, metrics), on a batch that is a pure function of step."""
    train = data["train"]

    def loss_fn(params, tokens_BT, last_B, label_B):
        loss, logit_B = bce_loss(graphdef, params, tokens_BT, last_B, label_B)
        return loss, dict(loss=loss, accuracy=jnp.mean((logit_B > 0) == (label_B > 0.5)))

    train_step = make_step(loss_fn, tx)

    def update(step: int, params, opt_state):
        rows = np.random.default_rng([cfg.run.seed, step]).integers(0, len(train["label"]), cfg.data.batch_size)
        tokens = train["tokens"][rows]
        batch = mesh.rows((tokens, train["last"][rows], train["label"][rows]))
        params, opt_state, metrics = train_step(params, opt_state, *batch)
        return params, opt_state, dict(metrics, tokens=tokens.size)

    return update


def evaluate_verifier(graphdef, params, cfg, data: dict, n: int, log=print) -> dict:
    """Per task: AUC and accuracy (at P = 0.5) on the samples of the task's first n held-out prompts (cfg: unused)."""
    held = data["heldout"]
    results = {}
    for t, name in enumerate(data["tasks"]):
        in_task = held["task"] == t
        rows = in_task & np.isin(held["prompt"], np.unique(held["prompt"][in_task])[:n])
        p = probabilities(graphdef, params, held["tokens"][rows], held["last"][rows])
        y = held["label"][rows]
        results[name] = dict(task=name, n=int(rows.sum()), auc=auc(p, y),
                             accuracy=float(np.mean((p > 0.5) == (y > 0.5))),
                             positive_rate=float(y.mean()), mean_score=float(p.mean()))
        r = results[name]
        log(f"  eval {name}: AUC {r['auc']:.3f}, accuracy {r['accuracy']:.3f} on {r['n']} held-out samples "
            f"({r['positive_rate']:.1%} correct; mean P(correct) {r['mean_score']:.3f})")
    return results
