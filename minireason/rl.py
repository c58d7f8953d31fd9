"""Reinforcement learning with verifiable rewards: GRPO-style group policy gradient.

The algorithm is GRPO (Shao et al. 2024, "DeepSeekMath", arXiv:2402.03300): sample a group of
G completions per prompt, score each with the task's verifier, and use the reward relative to
the group as the advantage of every token of that completion, in a PPO-style clipped surrogate
(Schulman et al. 2017). The group mean replaces PPO's learned value network as the baseline.

Two later fixes are built in, off by default (the shipped configs use plain GRPO), to compare:
- Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training", arXiv:2503.20783): do not
  divide advantages by the group's reward std (it over-weights near-solved and near-hopeless
  prompts) and do not normalise each sequence by its own length (it rewards long wrong answers
  and short right ones less than it should). Advantage mode "drgrpo".
- DAPO (Yu et al. 2025, arXiv:2503.14476): decoupled clip range, clip_high > clip_low
  ("clip-higher", so unlikely tokens can still grow and entropy does not collapse); token-level
  loss, every completion token in the batch weighing the same ("token_mean"); dynamic sampling,
  which replaces groups whose rewards are all equal (zero advantage, so no gradient) by groups
  of freshly drawn prompts (`rl.dynamic_sampling`; at most `max_resample` extra rollouts a step).

Simplified, because the models are tiny and the recipe should fit on one screen:
- no value network and no reward model: rewards come from the task's own exact scorer;
- the old-policy log-probs are the ones the sampler returned while writing the rollout (no
  second forward pass); in float32 they match a fresh forward pass (tests/test_rl.py). With
  bfloat16 or a thinking budget (a forced `</think>` keeps the log-prob of the token it
  replaced) recompute them with `completion_logprobs` before the first pass. Both score tokens
  under the full temperature-scaled distribution, so a top-p cut is ignored by the ratio;
- one rollout batch is reused for a few full-batch optimizer passes (`RLConfig.ppo_epochs`),
  with no minibatch shuffling;
- the KL penalty to a frozen reference policy (GRPO's k3 estimator) is optional and off by
  default, as in DAPO and Dr. GRPO: with a verifiable reward there is no reward model to hack.

One knob beyond these papers: `negative_weight` scales the negative advantages. Zhu et al. 2025
("The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning", arXiv:2506.01347)
split the policy gradient into reinforcing right samples and penalising wrong ones: the first
alone raised pass@1 but narrowed the samples (pass@k fell at large k), the second alone kept
them diverse. With 0, only better-than-average samples are learned from. And `trace_weight`
rewards a thinking trace whose every step checks out (tasks with a `check_thinking`, for now
countdown): an answer-only reward pays as much for a right answer reached through a wrong step,
so without it RL reinforces those slips along with the rest of the sample.

One RL step, `update` in `make_rl_update` at the bottom of this file, reads top-down in five
phases: rollout (sample and score), resample (dynamic sampling), learner batch (advantages),
passes (the clipped policy-gradient steps) and metrics.

Rollout layout: row b * G + g is sample g of prompt b, so `rewards.reshape(B, G)` gives groups.
Arrays are (B, N) with N = completion length; the prompt part is left-padded exactly as
`sampler.pad_prompts` makes it. On many devices (minireason/mesh.py) the rows of the rollout
and of the learner batch are split over them; rewards are scored on the host, from the
completions gathered back.
"""

import random
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .config import RLConfig
from .mesh import rows, to_host
from .sampler import SampleConfig, answer_tokens, pad_prompts, round_up, sample
from .sft import make_step
from .tasks import TASKS, Task, get_task, training_examples
from .tokenizer import BOS_ID, END_THINK_ID, EOS_ID, THINK_ID, decode, parse_completion

ADVANTAGE_MODES = ("grpo", "drgrpo", "reinforce")
AGGREGATIONS = ("token_mean", "seq_mean")


# --- rewards: plain Python over (prompt, completion), reusing the task's scorer ---

def reward(task: Task, prompt: str, completion_ids, cfg: RLConfig) -> tuple[float, float, bool]:
    """(reward, correct, well_formed) for one completion; the reference the batched version is tested against."""
    ids = [int(t) for t in completion_ids]
    thinking, answer, well_formed = parse_completion(ids)
    correct = task.score(prompt, answer) if well_formed else 0.0
    clean = well_formed and task.check_thinking is not None and task.check_thinking(prompt, thinking)
    length = ids.index(EOS_ID) + 1 if EOS_ID in ids else len(ids)
    r = (cfg.correct_weight * correct + cfg.format_weight * float(well_formed and answer.strip() != "")
         + cfg.trace_weight * float(clean) - cfg.length_penalty * length / cfg.max_new)
    return r, correct, well_formed


def rollout_rewards(tasks: list[Task], prompts: list[str], completion_BN, cfg: RLConfig,
                    seed=0) -> dict[str, np.ndarray]:
    """Rewards for a whole rollout: the format check is vectorised and each distinct answer is scored once.

    In a group many samples give the same answer, so scoring by (task, prompt, answer) saves most
    verifier calls. Returns float32 arrays reward, correct, well_formed and clean (every step of
    the thinking checks out, for tasks that can check), each (B,). With cfg.reward = "random" the
    reward pays a coin flip (drawn from `seed`) where it would pay `correct`; `correct` stays the truth.
    """
    tokens_BN = np.asarray(completion_BN)
    body_BN = np.cumsum(tokens_BN == EOS_ID, axis=1) == 0  # strictly before the first <eos>
    closes_BN = (tokens_BN == END_THINK_ID) & body_BN
    stray_B = np.any(((tokens_BN == THINK_ID) | (tokens_BN == BOS_ID)) & body_BN, axis=1)
    has_eos_B = np.any(tokens_BN == EOS_ID, axis=1)
    well_formed_B = has_eos_B & (closes_BN.sum(axis=1) == 1) & ~stray_B
    length_B = body_BN.sum(axis=1) + has_eos_B  # tokens up to and including <eos>
    n = len(prompts)
    correct_B, nonempty_B, clean_B, scored = np.zeros(n), np.zeros(n, bool), np.zeros(n), {}
    for i in np.flatnonzero(well_formed_B):
        close = np.argmax(closes_BN[i])
        answer = decode(tokens_BN[i, close + 1: length_B[i] - 1])
        key = (tasks[i].name, prompts[i], answer)
        if key not in scored:
            scored[key] = tasks[i].score(prompts[i], answer)
        correct_B[i], nonempty_B[i] = scored[key], answer.strip() != ""
        if tasks[i].check_thinking is not None:  # logged as trace_ok; rewarded when cfg.trace_weight > 0
            clean_B[i] = tasks[i].check_thinking(prompts[i], decode(tokens_BN[i, :close]))
    paid_B = correct_B if cfg.reward == "verifier" else np.random.default_rng(seed).random(n) < 0.5
    reward_B = (cfg.correct_weight * paid_B + cfg.format_weight * nonempty_B + cfg.trace_weight * clean_B
                - cfg.length_penalty * length_B / cfg.max_new)
    return dict(reward=reward_B.astype(np.float32), correct=correct_B.astype(np.float32),
                well_formed=well_formed_B.astype(np.float32), clean=clean_B.astype(np.float32))


# --- advantages: each reward compared with its group ---

def has_signal(rewards, G: int) -> np.ndarray:
    """Per group of G consecutive rewards: do they differ? A flat group has zero advantage and teaches nothing."""
    r_XG = np.asarray(rewards).reshape(-1, G)
    return ~np.all(r_XG == r_XG[:, :1], axis=1)


def group_advantages(rewards_BG, mode: str = "grpo", negative_weight: float = 1.0, eps: float = 1e-6):
    """Advantages (B, G): each reward compared with its group's.

    "grpo": (r - group mean) / (group std + eps); "drgrpo": r - group mean; "reinforce":
    r - batch mean (REINFORCE with a mean baseline; groups then play no part in the baseline).
    In the group modes a zero-signal group (every sample got the same reward) gets advantage
    exactly 0: rounding in the mean would otherwise leave tiny nonzero values, and 0/0 in the
    std would give NaN. Negative advantages are then multiplied by `negative_weight`.
    """
    if mode not in ADVANTAGE_MODES:
        raise ValueError(f"advantage mode must be one of {ADVANTAGE_MODES}, got {mode!r}")
    r_BG = jnp.asarray(rewards_BG, jnp.float32)
    flat_B = jnp.all(r_BG == r_BG[:, :1], axis=1)
    if mode == "reinforce":
        adv_BG = jnp.where(jnp.all(r_BG == r_BG[0, 0]), 0.0, r_BG - jnp.mean(r_BG))
    else:
        adv_BG = r_BG - jnp.mean(r_BG, axis=1, keepdims=True)
        if mode == "grpo":  # take the sqrt of 1, not 0, in flat groups: sqrt'(0) is inf and would make a NaN gradient
            var_B1 = jnp.mean(adv_BG**2, axis=1, keepdims=True)
            adv_BG = adv_BG / (jnp.sqrt(jnp.where(flat_B[:, None], 1.0, var_B1)) + eps)
        adv_BG = jnp.where(flat_B[:, None], 0.0, adv_BG)
    return jnp.where(adv_BG < 0, negative_weight * adv_BG, adv_BG)


# --- log-probs of a rollout under the current policy ---

@partial(jax.jit, static_argnames=("graphdef", "temperature"))
def completion_logprobs(graphdef, params, prompt_BP, start_B, completion_BN, temperature: float):
    """Per-token log-probs (B, N) of the completion and the entropy (B, N) of each next-token distribution.

    One forward pass over [prompt; completion]; logits at position t predict token t + 1. The
    distribution is softmax(logits / temperature), the one the sampler drew from (temperature
    0, greedy, is scored at 1, as the sampler reports it).
    """
    P = prompt_BP.shape[1]
    tokens_BT = jnp.concatenate([prompt_BP, completion_BN], axis=1)[:, :-1]
    logits_BTV, _ = nnx.merge(graphdef, params)(tokens_BT, start_B)
    logp_BNV = jax.nn.log_softmax(logits_BTV[:, P - 1:] / (temperature if temperature > 0 else 1.0))
    logp_BN = jnp.take_along_axis(logp_BNV, completion_BN[..., None], axis=-1)[..., 0]
    entropy_BN = -jnp.sum(jnp.exp(logp_BNV) * logp_BNV, axis=-1)
    return logp_BN, entropy_BN


def completion_mask(completion_BN):
    """1.0 on every token up to and including the first `<eos>`, 0.0 on the padding the sampler writes after it."""
    is_eos_BN = completion_BN == EOS_ID
    return (jnp.cumsum(is_eos_BN, axis=1) - is_eos_BN == 0).astype(jnp.float32)


# --- the loss ---

def kl_k3(logp_BN, ref_logp_BN):
    """Schulman's k3 estimator of KL(policy || reference) from tokens sampled by the policy.

    With d = ref_logp - logp: exp(d) - d - 1. It is >= 0 for every token, 0 when the policies
    agree, and its expectation under the policy is exactly the KL (http://joschu.net/blog/kl-approx.html).
    """
    d_BN = ref_logp_BN - logp_BN
    return jnp.exp(d_BN) - d_BN - 1.0


def _aggregate(x_BN, mask_BN, aggregation: str):
    if aggregation == "token_mean":
        return jnp.sum(x_BN * mask_BN) / jnp.maximum(jnp.sum(mask_BN), 1.0)
    if aggregation == "seq_mean":
        return jnp.mean(jnp.sum(x_BN * mask_BN, axis=1) / jnp.maximum(jnp.sum(mask_BN, axis=1), 1.0))
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low: float = 0.2, clip_high: float = 0.28,
                kl_beta: float = 0.0, ref_logp_BN=None, aggregation: str = "seq_mean"):
    """PPO clipped surrogate per token with decoupled clip range, plus optional beta * k3 KL.

    Per token: -min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A), ratio =
    p_new / p_old. The clip removes the gradient once a token has moved far enough in the
    direction its advantage asks for, so several passes over one rollout stay near it.
    Returns (loss, metrics).
    """
    on_BN = mask_BN > 0
    # Masked slots are replaced by 0 (not multiplied by 0): an exp() that overflows there must not make a NaN gradient.
    logp_BN = jnp.where(on_BN, logp_BN, 0.0)
    log_ratio_BN = logp_BN - jnp.where(on_BN, old_logp_BN, 0.0)
    ratio_BN = jnp.exp(log_ratio_BN)
    adv_B1 = jnp.asarray(adv_B, jnp.float32)[:, None]
    clipped_BN = jnp.clip(ratio_BN, 1.0 - clip_low, 1.0 + clip_high)
    per_token_BN = -jnp.minimum(ratio_BN * adv_B1, clipped_BN * adv_B1)
    is_clipped_BN = ((ratio_BN > 1.0 + clip_high) & (adv_B1 > 0)) | ((ratio_BN < 1.0 - clip_low) & (adv_B1 < 0))
    token_mean = partial(_aggregate, mask_BN=mask_BN, aggregation="token_mean")
    metrics = dict(clip_fraction=token_mean(is_clipped_BN.astype(jnp.float32)),
                   approx_kl=token_mean(ratio_BN - 1.0 - log_ratio_BN))  # k3 of KL(old || new): how far passes moved
    if kl_beta > 0:
        kl_BN = kl_k3(logp_BN, jnp.where(on_BN, ref_logp_BN, 0.0))
        per_token_BN = per_token_BN + kl_beta * kl_BN
        metrics["kl"] = token_mean(kl_BN)
    loss = _aggregate(per_token_BN, mask_BN, aggregation)
    return loss, dict(loss=loss, **metrics)


# --- the optimizer step ---

def check_config(cfg: RLConfig, task_names=()) -> None:
    """Raise ValueError, naming the key, for RL settings that cannot work (with these tasks)."""
    if cfg.advantage not in ADVANTAGE_MODES:
        raise ValueError(f"rl.advantage must be one of {', '.join(ADVANTAGE_MODES)}, got {cfg.advantage!r}")
    if cfg.reward not in ("verifier", "random"):
        raise ValueError(f"rl.reward must be verifier or random (the spurious-reward control), got {cfg.reward!r}")
    if cfg.aggregation not in AGGREGATIONS:
        raise ValueError(f"rl.aggregation must be one of {', '.join(AGGREGATIONS)}, got {cfg.aggregation!r}")
    if cfg.group_size < 2 or cfg.prompts_per_step < 1 or cfg.ppo_epochs < 1 or cfg.max_new < 1:
        raise ValueError("rl.group_size must be >= 2 (advantages compare samples of one prompt), and "
                         "rl.prompts_per_step, rl.ppo_epochs and rl.max_new >= 1")
    if not cfg.negative_weight >= 0:
        raise ValueError(f"rl.negative_weight must be >= 0 (1 is plain policy gradient), got {cfg.negative_weight}")
    if not cfg.temperature > 0:
        raise ValueError(f"rl.temperature must be > 0 (RL needs samples that differ), got {cfg.temperature}")
    if not cfg.trace_weight >= 0:
        raise ValueError(f"rl.trace_weight must be >= 0 (0 is off), got {cfg.trace_weight}")
    unchecked = [name for name in task_names if get_task(name).check_thinking is None]
    if cfg.trace_weight > 0 and unchecked:
        checked = [name for name, t in TASKS.items() if t.check_thinking is not None]
        raise ValueError(f"rl.trace_weight > 0 needs tasks that can check a trace step by step ({', '.join(checked)}); "
                         f"{', '.join(unchecked)} cannot: set rl.trace_weight = 0")


def make_rl_step(graphdef, tx: optax.GradientTransformation, cfg: RLConfig):
    """One pure jitted pass over a rollout batch: rl_step(params, opt_state, batch) -> (params, opt_state, metrics).

    batch: prompt (B, P) and start (B,) from `sampler.pad_prompts`; completion (B, N) and
    old_logp (B, N) from `sampler.sample`; adv (B,); and ref_logp (B, N) when cfg.kl_beta > 0.
    """
    check_config(cfg)

    def loss_fn(params, batch):
        logp_BN, entropy_BN = completion_logprobs(graphdef, params, batch["prompt"], batch["start"],
                                                  batch["completion"], cfg.temperature)
        mask_BN = completion_mask(batch["completion"])
        loss, metrics = policy_loss(logp_BN, batch["old_logp"], batch["adv"], mask_BN, cfg.clip_low, cfg.clip_high,
                                    cfg.kl_beta, batch["ref_logp"] if cfg.kl_beta > 0 else None, cfg.aggregation)
        metrics["entropy"] = _aggregate(entropy_BN, mask_BN, "token_mean")
        return loss, metrics

    return make_step(loss_fn, tx)


# --- one RL step: rollout -> resample -> learner batch -> a few clipped passes -> metrics ---

def rollout(graphdef, params, cfg, step: int, attempt: int = 0) -> dict:
    """Draw cfg.rl.prompts_per_step training prompts and sample G completions of each; score them.

    A pure function of (params, seed, step, attempt), so a resumed run replays the same rollouts.
    Returns per-row numpy arrays (rows b * G + g) and the prompt strings.
    """
    G = cfg.rl.group_size
    drawn = training_examples(cfg.data.tasks, cfg.data.levels, random.Random(f"{cfg.run.seed}/rl/{step}/{attempt}"),
                              cfg.rl.prompts_per_step, cfg.data.train_buckets, cfg.data.level_weights)
    tasks = [get_task(name) for name, _ in drawn for _ in range(G)]
    prompts = [ex.prompt for _, ex in drawn for _ in range(G)]
    prompt_BP, start_B = pad_prompts(prompts)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(cfg.run.seed), step), attempt)
    sample_cfg = SampleConfig(max_new=cfg.rl.max_new, temperature=cfg.rl.temperature, top_p=cfg.rl.top_p)
    out = to_host(sample(graphdef, params, *rows((prompt_BP, start_B)), key, sample_cfg))
    return dict(prompts=np.array(prompts, object), completion=out["tokens"], old_logp=out["logprobs"],
                length=out["length"], thinking=out["thinking_tokens"], answer=answer_tokens(out),
                truncated=~out["done"],
                **rollout_rewards(tasks, prompts, out["tokens"], cfg.rl, seed=[cfg.run.seed, step, attempt]))


def make_rl_update(graphdef, tx: optax.GradientTransformation, cfg, ref_params=None):
    """update(step, params, opt_state) -> (params, opt_state, metrics): one full RL step for train.py.

    `ref_params` is the frozen reference policy of the KL penalty (used only when cfg.rl.kl_beta > 0).
    """
    rl, G, B = cfg.rl, cfg.rl.group_size, cfg.rl.prompts_per_step
    rl_step = make_rl_step(graphdef, tx, rl)
    can_check = all(get_task(name).check_thinking is not None for name in cfg.data.tasks)  # else no trace_ok

    def update(step: int, params, opt_state):
        # 1. Rollout: B training prompts, G samples of each, scored by the task verifiers.
        t0 = time.time()
        pool = [rollout(graphdef, params, cfg, step)]

        # 2. Resample (DAPO's dynamic sampling): while fewer than B groups have rewards that differ, draw more
        #    prompts; keep B groups, those with signal first (flat ones fill up if there are still too few).
        while (rl.dynamic_sampling and len(pool) <= rl.max_resample
               and sum(has_signal(r["reward"], G).sum() for r in pool) < B):
            pool.append(rollout(graphdef, params, cfg, step, attempt=len(pool)))
        drawn = {k: np.concatenate([r[k] for r in pool]) for k in pool[0]}
        groups = np.argsort(~has_signal(drawn["reward"], G), kind="stable")[:B]
        kept = {k: v[(groups[:, None] * G + np.arange(G)).reshape(-1)] for k, v in drawn.items()}

        # 3. Learner batch: every token of a sample gets its group-relative advantage.
        prompt_BP, start_B = pad_prompts(list(kept["prompts"]))
        adv_BG = group_advantages(kept["reward"].reshape(B, G), rl.advantage, rl.negative_weight)
        N = min(round_up(int(kept["length"].max()), 16), rl.max_new)  # skip the all-padding tail (bucketed)
        batch = rows(dict(prompt=prompt_BP, start=start_B, completion=kept["completion"][:, :N],
                          old_logp=kept["old_logp"][:, :N], adv=adv_BG.reshape(-1)))
        if rl.kl_beta > 0:
            batch["ref_logp"] = completion_logprobs(graphdef, ref_params, batch["prompt"], batch["start"],
                                                    batch["completion"], rl.temperature)[0]

        # 4. Passes: a few clipped policy-gradient steps on the same batch (the clip keeps them near the rollout).
        t1 = time.time()
        for _ in range(rl.ppo_epochs):
            params, opt_state, m = rl_step(params, opt_state, batch)
        m = jax.device_get(m)
        t2 = time.time()

        # 5. Metrics: the last pass's loss terms; rewards of the first rollout, an unbiased look at the policy.
        first = pool[0]
        sampled = sum(int(r["length"].sum()) for r in pool)
        learned = int(np.sum(np.asarray(completion_mask(kept["completion"][:, :N])))) * rl.ppo_epochs
        metrics = dict(
            {k: float(v) for k, v in m.items()},
            reward=float(first["reward"].mean()), accuracy=float(first["correct"].mean()),
            format_rate=float(first["well_formed"].mean()),
            zero_signal_groups=float(1 - has_signal(first["reward"], G).mean()),
            thinking_tokens=float(first["thinking"].mean()), answer_tokens=float(first["answer"].mean()),
            truncated=float(first["truncated"].mean()), rollouts=len(pool),
            completions_per_s=sum(len(r["reward"]) for r in pool) / (t1 - t0),
            rollout_tokens_per_s=sampled / (t1 - t0), learner_tokens_per_s=learned / (t2 - t1),
            sampling_fraction=(t1 - t0) / (t2 - t0))
        if can_check:  # the share of rollouts whose every thinking step checks out
            metrics["trace_ok"] = float(first["clean"].mean())
        return params, opt_state, metrics

    return update
