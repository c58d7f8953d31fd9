"""A learned verifier: Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems" (arXiv:2110.14168).

The verifier reads a whole sample, `<bos> PROMPT <think> THINKING </think> ANSWER <eos>`, and
predicts P(correct). At test time it picks the best of k samples (rerank@k), weights a vote
(weighted maj@k) or keeps the top-scored few for a vote (top-m maj@k, minireason/evaluate.py).
It is the same transformer as the policy, with a scalar head on the final hidden states; it can
start from the policy's parameters (`run.init_from`), as Cobbe et al. start both from one model.

What it learns (`verifier.head`):
- "last", an outcome reward model: one prediction per sample, read at `<eos>`, binary cross-entropy;
- "token", a value head as in Cobbe et al.: every completion token, from the one after `<think>`
  through `<eos>`, predicts whether the final answer will be right. The label is the same at
  every token, but the head must say it from each prefix: many more (if correlated) training
  signals per sample, and a head that must judge the reasoning as it goes, not only the answer.
With `verifier.lm_weight` > 0 the next-token loss on the sample's completion is added (Cobbe et
al. keep it: the body stays a language model of the policy's samples). With
`verifier.pairwise_weight` > 0 every batch is pairs (or `verifier.pair_share` of it), a right and a
wrong sample of one training prompt, and a Bradley-Terry loss -log sigmoid(s_right - s_wrong) on
the two scores is added: the cross-entropy alone also learns which prompts are easy, which does
not help to rank one prompt's samples. Pairs come only from prompts with both kinds of sample, so
where most prompts are all right or all wrong, `pair_share` < 1 keeps uniform rows in the batch.
`verifier.hard_negatives` names a verifier already trained: its highest-scored wrong samples of each
prompt become the only wrong side of the pairs (one round of hard-negative mining).
Both score a sample by the prediction at `<eos>`: only there has the head read the whole answer,
which is what it judges; an earlier token predicts the chance that the policy will finish right.

Training data are the policy's own samples at `verifier.temperature` on training prompts, many of
each (`verifier.samples_per_prompt`), labelled by the task's exact scorer. The held-out AUC is
measured on samples of the held-out prompts, which neither the policy nor the verifier trained on:
globally, and within prompt (`within_prompt_auc`), which is what reranking one prompt's samples needs.

Simplified, because the models are tiny and the task scorers are exact:
- only well-formed samples (exactly one `</think>` before `<eos>`) are kept: a malformed one
  is wrong by the format rule, which costs nothing to check, so the verifier never scores one;
- the samples are drawn once, before training, and cached in the run directory
  (`verifier_data.npz`), so a resumed run, or one that only changes how the verifier learns,
  trains on the same data without sampling again.
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
from .sft import make_step, masked_ce
from .tasks import get_task, heldout_examples, training_examples
from .tokenizer import END_THINK_ID, EOS_ID, PAD_ID, THINK_ID, encode, prompt_ids


class Verifier(nnx.Module):
    """The policy's transformer body, and a linear head from each final hidden state to a logit."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.body = Transformer(cfg, rngs)
        self.head = nnx.Linear(cfg.d_model, 1, kernel_init=nnx.initializers.zeros, rngs=rngs)  # starts at P = 0.5

    def values(self, tokens_BT):
        """(value_BT, x_BTD): the logit of P(correct) having read each token, and the body's final hidden states."""
        x_BTD, _ = self.body.features(tokens_BT)
        return self.head(x_BTD.astype(jnp.float32))[..., 0], x_BTD

    def __call__(self, tokens_BT, last_B):
        """Logit of P(correct) per row; rows are right-padded and read at index last_B (causal: padding is unseen)."""
        value_BT, _ = self.values(tokens_BT)
        return jnp.take_along_axis(value_BT, last_B[:, None], axis=1)[:, 0]


def completion_mask(tokens_BT, last_B):
    """True at each row's completion tokens: from the one after `<think>` through `<eos>` (at last_B)."""
    t_T = jnp.arange(tokens_BT.shape[1])
    think_B = jnp.argmax(tokens_BT == THINK_ID, axis=1)  # the prompt holds no special token: the first is <think>
    return (t_T[None, :] > think_B[:, None]) & (t_T[None, :] <= last_B[:, None])


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


def within_prompt_auc(scores, labels, prompts) -> tuple[float, int]:
    """(AUC, prompts): the mean over prompts with both right and wrong samples of the AUC among that prompt's
    samples, and how many such prompts there are (NaN if none).

    The global AUC also rewards telling easy prompts from hard ones (all of an easy prompt's samples
    score high); reranking k samples of one prompt needs only this: ranking a prompt's samples.
    """
    scores, labels, prompts = np.asarray(scores), np.asarray(labels), np.asarray(prompts)
    per_prompt = [auc(scores[prompts == p], labels[prompts == p]) for p in np.unique(prompts)]
    mixed = [a for a in per_prompt if not np.isnan(a)]
    return (float(np.mean(mixed)) if mixed else float("nan")), len(mixed)


# --- the data: the policy's samples, labelled by the task scorers ---

SPLITS = ("train", "heldout")
ROW_KEYS = ("tokens", "last", "label", "task", "prompt")
SAMPLING_KEYS = ("policy", "n_prompts", "samples_per_prompt", "temperature", "max_new")  # the samples' settings


def check_config(cfg) -> None:
    """Raise ValueError, naming the key, for verifier settings that cannot work."""
    v: VerifierConfig = cfg.verifier
    if not v.policy:
        raise ValueError("verifier.policy must name the policy run whose samples to judge, e.g. runs/countdown_sft")
    if v.n_prompts < 1 or v.samples_per_prompt < 1 or v.max_new < 1 or v.temperature < 0:
        raise ValueError("verifier.n_prompts, verifier.samples_per_prompt and verifier.max_new must be >= 1, "
                         "and verifier.temperature >= 0")
    if v.head not in HEADS:
        raise ValueError(f"verifier.head must be one of {', '.join(map(repr, HEADS))}, got {v.head!r}")
    if v.lm_weight < 0 or v.pairwise_weight < 0:
        raise ValueError(f"verifier.lm_weight and verifier.pairwise_weight must be >= 0, got {v.lm_weight}, "
                         f"{v.pairwise_weight}")
    if v.hard_negatives and v.pairwise_weight <= 0:
        raise ValueError("verifier.hard_negatives picks the wrong sample of each pair: "
                         "it needs verifier.pairwise_weight > 0")
    if v.pairwise_weight > 0 and (n_pairs(cfg.data.batch_size, v.pair_share) < 1 or not 0 < v.pair_share <= 1):
        raise ValueError(f"verifier.pairwise_weight > 0 needs 0 < verifier.pair_share <= 1 and room for a pair in "
                         f"data.batch_size, got {v.pair_share} and {cfg.data.batch_size}")


def collect(cfg, path, load_policy, log=print) -> dict:
    """{"tasks": names, "train": rows, "heldout": rows}: sampled once, then read back from `path` (a .npz).

    rows: tokens (M, L), last (M,), label (M,) 1.0 if correct, task (M,) index into tasks, and
    prompt (M,) which prompt of the split the sample answers. `load_policy()` returns the
    policy's (config, graphdef, params); it is called only when the samples must be drawn. The
    file is reused while the settings are the same; delete it to sample again from a retrained policy.
    """
    sampling = {k: getattr(cfg.verifier, k) for k in SAMPLING_KEYS}  # not how it learns: that needs no new samples
    fingerprint = json.dumps([sampling, vars(cfg.data), cfg.eval.n, eval_levels(cfg), cfg.run.seed])
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

HEADS = ("last", "token")


def token_bce(value_BT, label_B, mask_BT):
    """Binary cross-entropy of every masked token's prediction against its row's label: averaged within each
    row, then over the rows, so that a long sample weighs as much as a short one (as with one prediction)."""
    bce_BT = optax.sigmoid_binary_cross_entropy(value_BT, jnp.broadcast_to(label_B[:, None], value_BT.shape))
    return jnp.mean(jnp.sum(bce_BT * mask_BT, axis=1) / jnp.maximum(jnp.sum(mask_BT, axis=1), 1.0))


def verifier_loss(graphdef, params, v: VerifierConfig, tokens_BT, last_B, label_B):
    """(loss, (logit_B at `<eos>`, metrics)): binary cross-entropy of the value head (at `<eos>`, or at every
    completion token for head = "token"), plus lm_weight x the next-token loss on the completion."""
    model = nnx.merge(graphdef, params)
    value_BT, x_BTD = model.values(tokens_BT)
    logit_B = jnp.take_along_axis(value_BT, last_B[:, None], axis=1)[:, 0]
    mask_BT = completion_mask(tokens_BT, last_B).astype(jnp.float32)
    if v.head == "token":
        value_loss = token_bce(value_BT, label_B, mask_BT)
    else:
        value_loss = jnp.mean(optax.sigmoid_binary_cross_entropy(logit_B, label_B))
    metrics = dict(value_loss=value_loss)
    loss = value_loss
    if v.pairwise_weight > 0:  # the batch is [rights; wrongs of the same prompts, in the same order; any rows]
        n = n_pairs(len(logit_B), v.pair_share)
        right_P, wrong_P = logit_B[:n], logit_B[n:2 * n]
        metrics["pair_loss"] = jnp.mean(jax.nn.softplus(wrong_P - right_P))  # -log sigmoid(right - wrong)
        loss = loss + v.pairwise_weight * metrics["pair_loss"]
    if v.lm_weight > 0:  # predict each completion token from those before it (the prompt is not a target)
        logits_BTV = model.body.embed.attend(x_BTD[:, :-1]).astype(jnp.float32)  # the policy's tied output layer
        metrics["lm_loss"] = masked_ce(logits_BTV, tokens_BT[:, 1:], mask_BT[:, 1:])
        loss = loss + v.lm_weight * metrics["lm_loss"]
    return loss, (logit_B, metrics)


def make_verifier_update(graphdef, tx: optax.GradientTransformation, cfg, data: dict):
    """update(step, params, opt_state) -> (params, opt_state, metrics), on a batch that is a pure function of step."""
    train = data["train"]

    def loss_fn(params, tokens_BT, last_B, label_B):
        loss, (logit_B, metrics) = verifier_loss(graphdef, params, cfg.verifier, tokens_BT, last_B, label_B)
        return loss, dict(metrics, loss=loss, accuracy=jnp.mean((logit_B > 0) == (label_B > 0.5)))

    train_step = make_step(loss_fn, tx)
    pairs = mixed_prompts(train) if cfg.verifier.pairwise_weight > 0 else None
    if cfg.verifier.hard_negatives:
        pairs = hardest_wrongs(pairs, scores_of(cfg.verifier.hard_negatives, train))

    def update(step: int, params, opt_state):
        rows = batch_rows(np.random.default_rng([cfg.run.seed, step]), len(train["label"]), cfg.data.batch_size, pairs,
                          cfg.verifier.pair_share)
        tokens = train["tokens"][rows]
        batch = mesh.rows((tokens, train["last"][rows], train["label"][rows]))
        params, opt_state, metrics = train_step(params, opt_state, *batch)
        return params, opt_state, dict(metrics, tokens=tokens.size)

    return update


def n_pairs(batch_size: int, pair_share: float) -> int:
    """How many (right, wrong) pairs a batch of the pairwise loss holds."""
    return int(batch_size * pair_share) // 2


def batch_rows(rng, n_rows: int, batch_size: int, pairs=None, pair_share: float = 1.0) -> np.ndarray:
    """Training rows of one batch: uniform, or with `pairs` (mixed_prompts) n_pairs prompts, one right and one
    wrong sample of each, the rights first, the wrongs in the same order, then uniform rows to fill the batch."""
    if pairs is None:
        return rng.integers(0, n_rows, batch_size)
    n = n_pairs(batch_size, pair_share)
    chosen = [pairs[i] for i in rng.integers(0, len(pairs), n)]
    return np.concatenate([[rng.choice(right) for right, _ in chosen], [rng.choice(wrong) for _, wrong in chosen],
                           rng.integers(0, n_rows, batch_size - 2 * n)]).astype(np.int64)


def mixed_prompts(rows: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(right rows, wrong rows) of each training prompt that has both: what the pairwise loss draws from."""
    pairs = []
    for p in np.unique(rows["prompt"]):
        right, wrong = (np.flatnonzero((rows["prompt"] == p) & ((rows["label"] > 0.5) == y)) for y in (True, False))
        if len(right) and len(wrong):
            pairs.append((right, wrong))
    if not pairs:
        raise UserError("verifier.pairwise_weight > 0, but no training prompt has both a right and a wrong sample; "
                        "raise verifier.samples_per_prompt or set verifier.pairwise_weight = 0")
    return pairs


HARD_TOP = 2  # wrong samples per prompt a hard-negative round keeps: the ones a trained verifier ranks highest


def hardest_wrongs(pairs: list, scores: np.ndarray, top: int = HARD_TOP) -> list:
    """`pairs` (mixed_prompts) with each prompt's wrong rows cut to the `top` highest-scored: the wrong samples
    that fool a verifier are the ones reranking picks, so a second round trains on those (hard negatives)."""
    return [(right, wrong[np.argsort(-scores[wrong], kind="stable")[:top]]) for right, wrong in pairs]


def scores_of(run_dir: str, rows: dict) -> np.ndarray:
    """P(correct) of every row by the verifier trained in run_dir."""
    from .runs import load_run  # runs.py imports this module

    cfg, graphdef, params = load_run(run_dir)
    if cfg.run.stage != "verifier":
        raise UserError(f"verifier.hard_negatives={run_dir} is a {cfg.run.stage} run, not a verifier run")
    return probabilities(graphdef, params, rows["tokens"], rows["last"])


def evaluate_verifier(graphdef, params, cfg, data: dict, n: int, log=print) -> dict:
    """Per task, on the samples of its first n held-out prompts: the global and within-prompt AUCs, and the
    accuracy at P = 0.5 (cfg: unused)."""
    held = data["heldout"]
    results = {}
    for t, name in enumerate(data["tasks"]):
        in_task = held["task"] == t
        rows = in_task & np.isin(held["prompt"], np.unique(held["prompt"][in_task])[:n])
        p = probabilities(graphdef, params, held["tokens"][rows], held["last"][rows])
        y = held["label"][rows]
        within, mixed = within_prompt_auc(p, y, held["prompt"][rows])
        results[name] = dict(task=name, n=int(rows.sum()), auc=auc(p, y), within_auc=within, mixed_prompts=mixed,
                             accuracy=float(np.mean((p > 0.5) == (y > 0.5))),
                             positive_rate=float(y.mean()), mean_score=float(p.mean()))
        r = results[name]
        log(f"  eval {name}: AUC {r['auc']:.3f} (within prompt {within:.3f}, over {mixed} prompts with right and "
            f"wrong samples), accuracy {r['accuracy']:.3f} on {r['n']} held-out samples "
            f"({r['positive_rate']:.1%} correct; mean P(correct) {r['mean_score']:.3f})")
    return results
