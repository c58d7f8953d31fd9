"""Held-out evaluation: greedy accuracy per task, with thinking and answer lengths."""

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
