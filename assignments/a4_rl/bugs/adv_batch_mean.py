"""Advantages subtract the mean of the whole batch, not of each prompt's group."""

import numpy as np


def group_advantages(rewards_BG, mode="grpo", eps=1e-6):
    r = np.asarray(rewards_BG, np.float32)
    adv = r - r.mean()
    if mode == "grpo":
        adv = adv / (r.std() + eps)
    return adv.astype(np.float32)
