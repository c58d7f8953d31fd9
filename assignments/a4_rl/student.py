"""Assignment a4: the RL losses and test-time metrics. Fill in every function that raises NotImplementedError.

Read README.md next to this file first. Use jax.numpy (`jnp`) in `policy_loss` and `kl_k3`: the
grader differentiates them. Grade yourself with `python assignments/grade.py a4`.
Dimension letters: B prompts (or rows), G samples per prompt, N completion tokens.
"""

import jax.numpy as jnp
import numpy as np


def group_advantages(rewards_BG, mode="grpo", eps=1e-6):
    """Each sample's reward compared with the other samples of its prompt.

    rewards_BG: (B, G) float, row b holds the rewards of the G samples of prompt b.
    mode "grpo":   A = (r - mean_g r) / (std_g r + eps), std the population std (divide by G, not G - 1)
    mode "drgrpo": A = r - mean_g r   (Dr. GRPO: no division by the std)
    A group whose G rewards are all equal gets advantage exactly 0 (and never NaN).
    Returns (B, G) float32.
    """
    raise NotImplementedError


def kl_k3(logp_BN, ref_logp_BN):
    """Schulman's k3 estimate of KL(policy || reference) per token: with d = ref_logp - logp, exp(d) - d - 1.

    logp_BN, ref_logp_BN: (B, N) log-probabilities of the sampled tokens under the policy and the reference.
    Returns (B, N), >= 0 everywhere.
    """
    raise NotImplementedError


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low=0.2, clip_high=0.28, kl_beta=0.0, ref_logp_BN=None):
    """The clipped policy-gradient loss (PPO / GRPO surrogate) with an optional KL penalty; a scalar to minimise.

    logp_BN:     (B, N) log-probs of the sampled tokens under the policy being trained (differentiated)
    old_logp_BN: (B, N) log-probs of the same tokens when they were sampled (constants)
    adv_B:       (B,)   advantage of each row (one completion), shared by its tokens
    mask_BN:     (B, N) 1.0 on completion tokens, 0.0 on padding after <eos>
    Per token: ratio = exp(logp - old_logp),
               l = -min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A) + kl_beta * kl_k3(logp, ref_logp)
    Aggregate: the mean of l over each row's masked tokens, then the mean over rows ("seq_mean").
    Padding must not change the loss, whatever values logp holds there.
    """
    raise NotImplementedError


def pass_at_k(n, c, k):
    """Unbiased pass@k (Chen et al. 2021): the chance that k of the n samples, drawn without replacement,
    include at least one of the c correct ones: 1 - C(n - c, k) / C(n, k). A float in [0, 1].

    Must work for n in the hundreds (no overflow) and give exactly 1.0 when n - c < k.
    """
    raise NotImplementedError


def maj_at_k(answers, correct, k):
    """maj@k (self-consistency) of one problem from its K sampled answers.

    answers: list of K strings, or None for a malformed sample (it does not vote).
    correct: the right answer. Answers are compared after .strip().
    Split the K answers into K // k disjoint blocks of k consecutive answers (a remainder is left out);
    each block answers with its most frequent answer (a tie goes to the one that occurs first in the
    block; a block with no well-formed answer is wrong). Return the fraction of blocks that are right.
    """
    raise NotImplementedError
