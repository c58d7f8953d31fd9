"""Held-out evaluation, and what test-time compute buys.

Greedy accuracy per task, with thinking and answer lengths. Then, from K sampled completions
of each held-out problem, the o1-style ladder of ways to spend more compute at test time:

- pass@k: is any of k samples right? An oracle upper bound (Chen et al. 2021, "Evaluating
  Large Language Models Trained on Code": the unbiased estimator below).
- maj@k: self-consistency (Wang et al. 2022, "Self-Consistency Improves Chain of Thought
  Reasoning"): answer with the most frequent answer among the k samples.
- rerank@k: answer with the sample a learned verifier scores highest (Cobbe et al. 2021,
  "Training Verifiers to Solve Math Word Problems"; the verifier is minireason/verifier.py).
- weighted maj@k: answer with the answer whose samples have the largest total verifier score
  (verifier-weighted voting, as in Li et al. 2023, "Making Large Language Models Better
  Reasoners with Step-Aware Verifier").
- top8_maj@k: majority vote among the 8 samples the verifier scores highest. The verifier
  filters, the vote decides: one wrong sample that fools the verifier no longer wins alone, and
  at k = 64 seven samples in eight are still left out. m is fixed at 8 (`TOP_M`) because a vote
  of 8 already has most of what voting gains (countdown: maj@8 64.0%, maj@64 70.2%); for k <= 8
  it is maj@k, but for a tie, which goes to the answer the verifier scores higher.

Every k comes from the same K samples, drawn once. pass@k uses the unbiased estimator over all
k-subsets. The voting and reranking metrics split the K samples into K // k disjoint blocks of
k (samples are independent, so each block is a fair draw of k) and average over the blocks;
a remainder of K mod k samples is left out. At k = 1 all of them equal pass@1.

Only well-formed samples vote or get reranked: a malformed completion (no single `</think>`
before `<eos>`) is wrong by the format rule, which costs nothing to check. Answers are
compared after `.strip()`.
"""

import numpy as np

from .sampler import SampleConfig, generate
from .tasks import get_task, has_heldout, heldout_examples


def eval_levels(cfg) -> dict[str, list[int]]:
    """Each trained task's eval levels, lowest first: every level it was trained on, or eval.levels[task] alone.

    A level without held-out examples (a dataset file may have none) is left out, and a task left without levels.
    """
    out = {}
    for name in cfg.data.tasks:
        task = get_task(name)
        lo, hi = cfg.data.levels.get(name, (task.min_level, task.max_level))
        levels = [cfg.eval.levels[name]] if name in cfg.eval.levels else list(range(lo, hi + 1))
        if levels := [level for level in levels if has_heldout(name, level)]:
            out[name] = levels
    return out


def efficiency(outs: list[dict]) -> dict:
    """What completions cost: thinking and answer tokens per problem (mean, p50, p95) and, when they were timed
    (`generate(timed=True)`), the latency per problem (p50, p95) and tokens per second.

    A problem's latency is the wall time of the batch it was decoded in: the rows of a batch finish together
    (--batch-size 1 times each problem alone). Tokens are those billed (thinking + answer, not the markers);
    tokens per second divides all of them by the time of all batches, each batch counted once.
    """
    r = {}
    for kind in ("thinking_tokens", "answer_tokens"):
        counts = [o[kind] for o in outs]
        r |= {kind: float(np.mean(counts)), f"{kind}_p50": float(np.percentile(counts, 50)),
              f"{kind}_p95": float(np.percentile(counts, 95))}
    if outs and "latency_s" in outs[0]:
        latency = [o["latency_s"] for o in outs]
        seconds = sum({o["batch"]: o["latency_s"] for o in outs}.values())
        r |= {"latency_p50_s": float(np.percentile(latency, 50)), "latency_p95_s": float(np.percentile(latency, 95)),
              "tokens_per_s": (r["thinking_tokens"] + r["answer_tokens"]) * len(outs) / seconds}
    return r


def evaluate_prompts(graphdef, params, name: str, prompts: list[str], sample_cfg: SampleConfig, key,
                     batch_size: int = 256, timed: bool = False) -> dict:
    """Score a completion of each prompt with the task's own scorer: accuracy, format rate, what it cost.

    With `timed`, the cost includes latency per problem and tokens per second (see `efficiency`).
    """
    task = get_task(name)
    progress = f"{len(prompts)} {name} prompts" if len(prompts) > 10 * batch_size else ""  # a long wait shows a bar
    outs = generate(graphdef, params, prompts, sample_cfg, key, batch_size, progress, timed)
    right = [bool(o["well_formed"]) and task.score(p, o["answer"]) == 1.0 for p, o in zip(prompts, outs)]
    return dict(
        task=name, n=len(prompts),
        accuracy=float(np.mean(right)),
        format_rate=float(np.mean([o["well_formed"] for o in outs])),
        **efficiency(outs),
        samples=[dict(prompt=p, right=r, **o) for p, r, o in zip(prompts, right, outs)],
    )


def evaluate_task(graphdef, params, name: str, level: int, n: int, sample_cfg: SampleConfig, key,
                  batch_size: int = 256, timed: bool = False) -> dict:
    """Score completions of n held-out problems of one level (`evaluate_prompts`); samples show the expected answer."""
    examples = heldout_examples(name, level, n)
    r = evaluate_prompts(graphdef, params, name, [ex.prompt for ex in examples], sample_cfg, key, batch_size, timed)
    for s, ex in zip(r["samples"], examples):
        s["expected"] = ex.answer
    return dict(r, level=level)


LEVEL_METRICS = ("n", "accuracy", "format_rate", "thinking_tokens", "answer_tokens", "latency_p50_s",
                 "latency_p95_s", "tokens_per_s")


def evaluate_levels(graphdef, params, name: str, levels: list[int], n: int, sample_cfg: SampleConfig, key,
                    batch_size: int = 256, timed: bool = False) -> dict:
    """`evaluate_task` at each level; returns the highest level's result with `levels`: {level: its metrics}."""
    per_level = {level: evaluate_task(graphdef, params, name, level, n, sample_cfg, key, batch_size, timed)
                 for level in levels}
    top = per_level[levels[-1]]
    top["levels"] = {str(level): {m: r[m] for m in LEVEL_METRICS if m in r} for level, r in per_level.items()}
    return top


def budget_sweep(graphdef, params, name: str, level: int, n: int, budgets: list[int], max_new: int, key,
                 batch_size: int = 256) -> list[dict]:
    """Greedy accuracy with the thinking capped at each budget (budget forcing writes `</think>` at the cap)."""
    rows = []
    for b in budgets:
        capped = SampleConfig(max_new=max_new, max_thinking=b)
        r = evaluate_task(graphdef, params, name, level, n, capped, key, batch_size)
        rows.append(dict(budget=b, accuracy=r["accuracy"], format_rate=r["format_rate"],
                         thinking_tokens=r["thinking_tokens"], answer_tokens=r["answer_tokens"]))
    return rows


# --- K samples per problem, and every k from them ---

def sample_groups(graphdef, params, name: str, level: int, n: int, samples: int, sample_cfg: SampleConfig, key,
                  batch_size: int = 256, progress: str = "") -> tuple[list, list[list[dict]]]:
    """(examples, groups): `samples` completions of each of n held-out problems, each marked `correct`."""
    task = get_task(name)
    examples = heldout_examples(name, level, n)
    prompts = [ex.prompt for ex in examples for _ in range(samples)]
    outs = generate(graphdef, params, prompts, sample_cfg, key, batch_size, progress)
    groups = [outs[i * samples:(i + 1) * samples] for i in range(len(examples))]
    for ex, group in zip(examples, groups):
        for o in group:
            o["correct"] = bool(o["well_formed"]) and task.score(ex.prompt, o["answer"]) == 1.0
    return examples, groups


def sampled_pass_at_k(graphdef, params, name: str, level: int, n: int, samples: int, sample_cfg: SampleConfig, key,
                      batch_size: int = 256) -> dict[str, float]:
    """pass@k for k = 1, 2, 4, ... up to `samples`, from `samples` completions of each of n held-out problems."""
    _, groups = sample_groups(graphdef, params, name, level, n, samples, sample_cfg, key, batch_size)
    return {f"pass@{k}": v for k, v in ladder(groups, powers_of_two(samples))["pass@k"].items()}


def powers_of_two(k: int) -> list[int]:
    """1, 2, 4, ... up to k, and k itself."""
    return sorted({2**i for i in range(k.bit_length()) if 2**i <= k} | {k})


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, "Evaluating LLMs Trained on Code").

    The chance that k samples drawn without replacement include a correct one is 1 - C(n-c, k) / C(n, k);
    written as a product so that large n neither overflows nor loses precision.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def vote(samples: list[dict], weight=lambda s: 1.0) -> dict | None:
    """The sample carrying the winning answer: the answer with the largest total weight among well-formed samples.

    Weight 1 is majority vote; the verifier's score is weighted voting. Ties go to the answer
    that occurs first (dicts keep insertion order and max keeps the first maximum), and the
    sample returned is that answer's first occurrence. None when no sample is well formed.
    """
    totals, first = {}, {}
    for s in samples:
        if s["well_formed"]:
            answer = s["answer"].strip()
            totals[answer] = totals.get(answer, 0.0) + weight(s)
            first.setdefault(answer, s)
    return first[max(totals, key=totals.get)] if totals else None


TOP_M = 8  # top{m}_maj@k votes among this many of the k samples (module docstring: why 8)


def top_vote(samples: list[dict], m: int = TOP_M) -> dict | None:
    """Majority vote among the m well-formed samples the verifier scores highest (the earlier on a tie of scores).

    A tie of votes goes to the answer of the highest-scored sample among them (they are sorted by score).
    """
    ranked = sorted((s for s in samples if s["well_formed"]), key=lambda s: -s["score"])  # sorted is stable
    return vote(ranked[:m])


def rerank(samples: list[dict]) -> dict | None:
    """The well-formed sample the verifier scores highest (the first one on a tie); None if there is none."""
    return max((s for s in samples if s["well_formed"]), key=lambda s: s["score"], default=None)


def _block_accuracy(groups: list[list[dict]], k: int, pick) -> float:
    """Mean over problems, and over each problem's K // k disjoint blocks of k samples, of `pick(block)` being right."""
    def right(block):
        chosen = pick(block)
        return chosen is not None and chosen["correct"]
    return float(np.mean([np.mean([right(g[i * k:(i + 1) * k]) for i in range(len(g) // k)]) for g in groups]))


def ladder(groups: list[list[dict]], ks: list[int]) -> dict[str, dict[int, float]]:
    """metric -> {k: accuracy} for pass@k and maj@k; with a `score` on every sample also rerank@k,
    weighted_maj@k and top{TOP_M}_maj@k."""
    curves = {"pass@k": {k: float(np.mean([pass_at_k(len(g), sum(s["correct"] for s in g), k) for g in groups]))
                         for k in ks},
              "maj@k": {k: _block_accuracy(groups, k, vote) for k in ks}}
    if all("score" in s for g in groups for s in g):
        curves["rerank@k"] = {k: _block_accuracy(groups, k, rerank) for k in ks}
        curves["weighted_maj@k"] = {k: _block_accuracy(groups, k, lambda b: vote(b, lambda s: s["score"])) for k in ks}
        curves[f"top{TOP_M}_maj@k"] = {k: _block_accuracy(groups, k, top_vote) for k in ks}
    return curves


def sample_ladder(graphdef, params, name: str, level: int, n: int, k: int, sample_cfg: SampleConfig, key,
                  batch_size: int = 256, scorer=None) -> dict:
    """The ladder at k = 1, 2, 4, ... K from K samples per problem, with the tokens they cost.

    Returns the headline numbers at K (pass@1, pass@K, maj@K, ...), the mean thinking and
    answer tokens per sample, tokens per problem and in all (thinking + answer, markers not
    counted), and `curves`: metric -> {k: accuracy}. `scorer(prompts, samples) -> P(correct)` is
    a learned verifier (verifier.make_scorer); it adds rerank@k, weighted maj@k, top-m maj@k and
    `wrong_picks`: the first problems whose top-scored sample of all K is wrong.
    """
    examples, groups = sample_groups(graphdef, params, name, level, n, k, sample_cfg, key, batch_size,
                                     progress=f"{k} samples of each {name} problem")
    if scorer is not None:
        pairs = [(ex.prompt, s) for ex, g in zip(examples, groups) for s in g if s["well_formed"]]
        for (_, s), p in zip(pairs, scorer([p for p, _ in pairs], [s for _, s in pairs])):
            s["score"] = float(p)
        for g in groups:
            for s in g:
                s.setdefault("score", 0.0)  # malformed: never reranked above a well-formed sample, no vote
    curves = ladder(groups, powers_of_two(k))
    flat = [s for g in groups for s in g]
    spent = [s["thinking_tokens"] + s["answer_tokens"] for s in flat]
    return {"k": k, "temperature": sample_cfg.temperature, "pass@1": curves["pass@k"][1],
            **{metric.replace("@k", f"@{k}"): curve[k] for metric, curve in curves.items()},
            "sampled_format_rate": float(np.mean([s["well_formed"] for s in flat])),
            "sampled_thinking_tokens": float(np.mean([s["thinking_tokens"] for s in flat])),
            "sampled_answer_tokens": float(np.mean([s["answer_tokens"] for s in flat])),
            "tokens_per_problem": float(np.sum(spent)) / len(groups), "total_tokens": int(np.sum(spent)),
            "curves": curves, **({"wrong_picks": wrong_picks(examples, groups)} if scorer is not None else {})}


def wrong_picks(examples, groups: list[list[dict]], n: int = 8) -> list[dict]:
    """What fools the verifier: the first n problems where rerank@K picks a wrong sample over a right one, with
    that sample, the expected answer, the best score of a right sample, and how many of the K are right."""
    out = []
    for ex, g in zip(examples, groups):
        pick, right = rerank(g), [s["score"] for s in g if s["correct"]]
        if pick is not None and not pick["correct"] and right:
            out.append(dict(prompt=ex.prompt, expected=ex.answer, thinking=pick["thinking"], answer=pick["answer"],
                            score=pick["score"], best_right_score=max(right), right=len(right)))
    return out[:n]
