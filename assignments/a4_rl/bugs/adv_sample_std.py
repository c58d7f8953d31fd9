"""GRPO advantages use the sample std (divide by G - 1) instead of the population std."""

import numpy as np


def group_advantages(rewards_BG, mode="grpo", eps=1e-6):
    r = np.asarray(rewards_BG, np.float32)
    adv = r - r.mean(axis=1, keepdims=True)
    flat = np.all(r == r[:, :1], axis=1, keepdims=True)
    if mode == "grpo":
        adv = adv / (np.where(flat, 1.0, r.std(axis=1, ddof=1, keepdims=True)) + eps)
    return np.where(flat, 0.0, adv).astype(np.float32)
