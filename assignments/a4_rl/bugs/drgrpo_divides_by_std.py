"""Dr. GRPO mode still divides by the group's std (it is plain GRPO under another name)."""

from minireason import rl


def group_advantages(rewards_BG, mode="grpo", eps=1e-6):
    return rl.group_advantages(rewards_BG, "grpo", 1.0, eps)
