"""The package's own answers to assignment a4, behind the names student.py uses.

`grade.py a4 --solution` grades this file; a teacher keeps it (and bugs/) out of the handout.
"""

from minireason import evaluate, rl
from minireason.rl import kl_k3
from minireason.evaluate import pass_at_k

__all__ = ["group_advantages", "kl_k3", "policy_loss", "pass_at_k", "maj_at_k"]


def group_advantages(rewards_BG, mode="grpo", eps=1e-6):
    return rl.group_advantages(rewards_BG, mode, negative_weight=1.0, eps=eps)


def policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low=0.2, clip_high=0.28, kl_beta=0.0, ref_logp_BN=None):
    return rl.policy_loss(logp_BN, old_logp_BN, adv_B, mask_BN, clip_low, clip_high, kl_beta, ref_logp_BN,
                          aggregation="seq_mean")[0]


def maj_at_k(answers, correct, k):
    samples = [dict(well_formed=a is not None, answer=a or "", correct=a is not None and a.strip() == correct)
               for a in answers]
    return evaluate.ladder([samples], [k])["maj@k"][k]
