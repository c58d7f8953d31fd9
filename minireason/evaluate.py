"""Held-out evaluation: greedy accuracy per task, with thinking and answer lengths; sampled pass@k."""

import jax
import numpy as np

from .sampler import SampleConfig, generate
from .tasks import get_task, heldout_examples


def eval_levels(cfg) -> dict[str, int]:
    """Each trained task's eval level: eval.levels if set, else the highest level it was trained on."""
    return {name: cfg.eval.levels.get(name, cfg.data.levels.get(name, (0, get_task(name).max_level))[1])
            for name in cfg.data.tasks}


def evaluate_task(graphdef, params, name: str, level: int, n: int, sample_cfg: SampleConfig, key,
                  batch_size: int = 256) -> dict:
    """Score completions of n held-out problems with the task's own verifier."""
    task = get_task(name)
    examples = heldout_examples(name, level, n)
    outs = generate(graphdef, params, [ex.prompt for ex in examples], sample_cfg, key, batch_size)
    scores = [task.score(ex.prompt, o["answer"]) if o["well_formed"] else 0.0 for ex, o in zip(examples, outs)]
    return dict(
        task=name, level=level, n=len(examples),
        accuracy=float(np.mean(scores)),
        format_rate=float(np.mean([o["well_formed"] for o in outs])),
        thinking_tokens=float(np.mean([o["thinking_tokens"] for o in outs])),
        answer_tokens=float(np.mean([o["answer_tokens"] for o in outs])),
        samples=[dict(prompt=ex.prompt, expected=ex.answer, **o) for ex, o in zip(examples, outs)],
    )


def sampled_pass_at_k(graphdef, params, name: str, level: int, n: int, samples: int, sample_cfg: SampleConfig, key,
                      batch_size: int = 256) -> dict[str, float]:
    """pass@k for k = 1, 2, 4, ... up to `samples`, from `samples` completions of each of n held-out problems."""
    task = get_task(name)
    examples = heldout_examples(name, level, n)
    outs = generate(graphdef, params, [ex.prompt for ex in examples for _ in range(samples)], sample_cfg, key, batch_size)
    correct = [sum(task.score(ex.prompt, o["answer"]) == 1.0 and o["well_formed"] for o in outs[i * samples:(i + 1) * samples])
               for i, ex in enumerate(examples)]
    ks = [2**i for i in range(samples.bit_length()) if 2**i <= samples]
    return {f"pass@{k}": float(np.mean([pass_at_k(samples, c, k) for c in correct])) for k in ks}


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
