"""Grader of assignment a4: numeric checks against minireason's own functions on random inputs,
properties the maths promises, and a bandit that the student's advantages and loss must train."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gradelib import Parts, close, require, show
from minireason import rl
from minireason.evaluate import ladder, pass_at_k as ref_pass_at_k

PARTS = Parts()


def _rewards(seed: int, B: int = 5, G: int = 6):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(B, G)).astype(np.float32)
    r[1] = rng.integers(0, 2, G)  # 0/1 rewards, as a verifier gives
    r[2] = 0.5  # a flat group: every sample got the same reward
    return r


def _advantages(mod, r, mode):
    return np.asarray(mod.group_advantages(r, mode=mode), np.float64)


@PARTS("advantages_grpo", 15, "group_advantages, mode grpo: (r - mean) / (std + eps) per group")
def advantages_grpo(mod):
    small = np.array([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]], np.float32)
    close(_advantages(mod, small, "grpo"), rl.group_advantages(small, "grpo"), "GRPO advantages",
          f"rewards {show(small)} (the second group is flat: its advantages must be exactly 0)")
    for seed in range(3):
        r = _rewards(seed)
        a = _advantages(mod, r, "grpo")
        close(a, rl.group_advantages(r, "grpo"), "GRPO advantages", f"random rewards (seed {seed}) {show(r)}")
        close(a.sum(axis=1), np.zeros(len(r)), "the advantages of each group must sum to 0", "random rewards",
              atol=1e-4)
        close(_advantages(mod, r + 3.0, "grpo"), a, "GRPO advantages must not change when every reward is shifted "
              "by +3", "random rewards", atol=1e-4)
        close(_advantages(mod, r * 5.0, "grpo"), a, "GRPO advantages must not change when every reward is scaled "
              "by 5", "random rewards", atol=1e-3)
    pair = np.array([[0.0, 1.0]], np.float32)
    close(_advantages(mod, pair, "grpo"), rl.group_advantages(pair, "grpo"), "GRPO advantages with G = 2 "
          "(population std: divide by G, not G - 1)", "rewards [[0, 1]]")


@PARTS("advantages_drgrpo", 5, "group_advantages, mode drgrpo: r - mean, no division by the std")
def advantages_drgrpo(mod):
    for seed in range(3):
        r = _rewards(seed)
        a = _advantages(mod, r, "drgrpo")
        close(a, rl.group_advantages(r, "drgrpo"), "Dr. GRPO advantages", f"random rewards (seed {seed}) {show(r)}")
        close(_advantages(mod, r * 5.0, "drgrpo"), 5 * a, "Dr. GRPO advantages must scale with the rewards (x5)",
              "random rewards", atol=1e-3)


@PARTS("kl", 5, "kl_k3: exp(d) - d - 1 with d = ref_logp - logp")
def kl(mod):
    rng = np.random.default_rng(0)
    logp, ref = (-rng.exponential(size=(3, 4)).astype(np.float32) for _ in range(2))
    close(mod.kl_k3(logp, ref), rl.kl_k3(logp, ref), "kl_k3", f"logp {show(logp)}, ref_logp {show(ref)}")
    close(mod.kl_k3(logp, logp), np.zeros_like(logp), "kl_k3 must be 0 when the policies agree", "logp == ref_logp")


def _loss_inputs(seed: int, B: int = 4, N: int = 6):
    rng = np.random.default_rng(seed)
    logp = -rng.exponential(size=(B, N)).astype(np.float32)
    old = logp + rng.normal(scale=0.3, size=(B, N)).astype(np.float32)  # some ratios past the clip range
    ref = logp + rng.normal(scale=0.3, size=(B, N)).astype(np.float32)
    adv = rng.normal(size=B).astype(np.float32)
    mask = (np.arange(N)[None] < rng.integers(1, N + 1, B)[:, None]).astype(np.float32)  # padding after <eos>
    return logp, old, adv, mask, ref


@partial(jax.jit, static_argnums=4)  # kl_beta: the package branches on it
def _ref_loss_and_grad(logp, old, adv, mask, kl_beta, ref):
    return jax.value_and_grad(lambda x: rl.policy_loss(x, old, adv, mask, 0.2, 0.28, kl_beta, ref, "seq_mean")[0])(logp)


@PARTS("policy_loss", 25, "policy_loss: clipped surrogate, KL penalty, masked seq_mean; value and gradient")
def policy_loss(mod):
    # jitted as the trainer jits it: one compilation, and a loss that only works eagerly is caught here
    mine = jax.jit(jax.value_and_grad(lambda lp, o, a, m, b, r: mod.policy_loss(lp, o, a, m, 0.2, 0.28, b, r)),
                   static_argnums=4)
    one = (np.log(np.array([[0.5, 0.25]], np.float32)), np.log(np.array([[0.5, 0.5]], np.float32)),
           np.array([1.0], np.float32), np.ones((1, 2), np.float32), 0.0, np.zeros((1, 2), np.float32))
    close(mine(*one)[0], _ref_loss_and_grad(*one)[0], "the loss", "one row: p = [0.5, 0.25], p_old = [0.5, 0.5], "
          "A = 1, no padding (ratios 1 and 0.5: the second is below 1 - clip_low, but A > 0 so min() keeps it)")
    for seed in range(2):
        lp, o, a, m, ref = _loss_inputs(seed)
        given = f"random inputs (seed {seed}): logp {show(lp)}, old_logp {show(o)}, adv {show(a)}, mask {show(m)}"
        for beta in (0.0, 0.1):
            (got, got_grad) = mine(lp, o, a, m, beta, ref)
            want, want_grad = _ref_loss_and_grad(lp, o, a, m, beta, ref)
            on = given + (f", ref_logp {show(ref)}" if beta else "")
            close(got, want, f"the loss (kl_beta = {beta})", on)
            close(got_grad, want_grad, f"d loss / d logp (kl_beta = {beta}): the clip must cut the gradient only where "
                  "the ratio has already moved past the clip range in the direction the advantage pushes", on)
        junk = np.where(m > 0, lp, -50.0).astype(np.float32)
        close(mine(junk, o, a, m, 0.0, ref)[0], mine(lp, o, a, m, 0.0, ref)[0],
              "padding (mask 0) must not change the loss; logp = -50 there", given)


@PARTS("pass_at_k", 15, "pass_at_k: unbiased, exact, 1.0 when n - c < k, no overflow")
def pass_at_k(mod):
    for n, c, k in [(5, 1, 2), (10, 3, 5), (4, 0, 2), (4, 4, 1), (6, 5, 2)]:
        close(mod.pass_at_k(n, c, k), ref_pass_at_k(n, c, k), f"pass_at_k(n={n}, c={c}, k={k})", atol=1e-9)
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                close(mod.pass_at_k(n, c, k), ref_pass_at_k(n, c, k), f"pass_at_k(n={n}, c={c}, k={k})", atol=1e-9)
    for n, c, k in [(200, 7, 100), (500, 1, 250), (300, 0, 10)]:
        close(mod.pass_at_k(n, c, k), ref_pass_at_k(n, c, k), f"pass_at_k(n={n}, c={c}, k={k}) (large n)", atol=1e-9)


@PARTS("maj_at_k", 10, "maj_at_k: majority vote in disjoint blocks, ties to the first, malformed samples ignored")
def maj_at_k(mod):
    def ref(answers, correct, k):
        samples = [dict(well_formed=a is not None, answer=a or "", correct=a is not None and a.strip() == correct)
                   for a in answers]
        return ladder([samples], [k])["maj@k"][k]

    cases = [(["3", "4", "4", "3", "3", "5"], "3", 3), (["4", "3", "3", "4"], "3", 2), ([" 3", "4", "3 "], "3", 3),
             ([None, None, "3", "4", "4", None], "3", 3), ([None, None, "3", "3"], "3", 2),
             (["5", "3", "3", "3", "5"], "3", 2), (["1", "2", "3", "1", "2", "3", "1"], "1", 1)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        cases.append(([None if x == 3 else str(x) for x in rng.integers(0, 4, 8)], "1", int(rng.integers(1, 9))))
    for answers, correct, k in cases:
        close(mod.maj_at_k(answers, correct, k), ref(answers, correct, k),
              f"maj_at_k(answers={answers}, correct={correct!r}, k={k})", atol=1e-9)


# --- behaviour: a bandit. Each of B prompts has a right token; a completion is up to N tokens drawn from
# softmax(theta[prompt, position]); its reward is the fraction of its tokens that are right.

B, G, N, V, STEPS = 4, 8, 4, 6, 25


ROW_PROMPT = np.repeat(np.arange(B), G)  # row b * G + g is sample g of prompt b


def _logp_of(theta, tokens_RN):
    logp_RNV = jax.nn.log_softmax(theta[ROW_PROMPT])
    return jnp.take_along_axis(logp_RNV, tokens_RN[..., None], axis=-1)[..., 0]


@jax.jit
def _rollout(theta, key):
    """G completions of each prompt: tokens, mask (2..N tokens), reward, old and reference log-probs."""
    k1, k2 = jax.random.split(key)
    tokens = jax.random.categorical(k1, theta[ROW_PROMPT])  # (B*G, N)
    mask = (jnp.arange(N)[None] < jax.random.randint(k2, (B * G, 1), 2, N + 1)).astype(jnp.float32)
    right = (tokens == ROW_PROMPT[:, None]).astype(jnp.float32)
    reward = jnp.sum(right * mask, 1) / jnp.sum(mask, 1)
    return tokens, mask, reward, _logp_of(theta, tokens), _logp_of(jnp.zeros_like(theta), tokens)


def _train_bandit(mod, kl_beta: float, seed: int = 0):
    tx = optax.adam(0.1)

    @jax.jit
    def update(theta, opt_state, tokens, old, adv, mask, ref_logp):
        grad = jax.grad(lambda t: mod.policy_loss(_logp_of(t, tokens), old, adv, mask, 0.2, 0.28, kl_beta,
                                                  ref_logp))(theta)
        updates, opt_state = tx.update(grad, opt_state)
        return optax.apply_updates(theta, updates), opt_state

    theta = jnp.zeros((B, N, V))
    opt_state, key = tx.init(theta), jax.random.key(seed)
    for _ in range(STEPS):
        key, sub = jax.random.split(key)
        tokens, mask, reward, old, ref_logp = _rollout(theta, sub)  # the reference: uniform, where training began
        adv = jnp.asarray(mod.group_advantages(np.asarray(reward).reshape(B, G), mode="grpo"), jnp.float32)
        adv = adv.reshape(-1)
        for _ in range(2):  # two passes over one rollout: the second one meets the clip
            theta, opt_state = update(theta, opt_state, tokens, old, adv, mask, ref_logp)
    probs = jax.nn.softmax(theta)
    expected_reward = float(jnp.mean(probs[jnp.arange(B), :, jnp.arange(B)]))
    kl_to_uniform = float(jnp.mean(jnp.sum(probs * (jnp.log(probs) + np.log(V)), axis=-1)))
    return expected_reward, kl_to_uniform


@PARTS("behaviour_bandit", 25, "a bandit trained with your advantages and loss learns; the KL penalty holds it back",
       timeout=90)
def behaviour_bandit(mod):
    reward, _ = _train_bandit(mod, kl_beta=0.0)
    require(reward >= 0.9, f"a bandit (4 prompts, 6 tokens, completions of 2-4 tokens, reward = fraction of right "
                           f"tokens) trained {STEPS} steps with your group_advantages (grpo) and policy_loss should "
                           f"reach an expected reward of at least 0.9 (the reference gets about 0.96; it starts at "
                           f"1/6 = 0.17); got {reward:.3f}")
    reward_kl, kl_to_ref = _train_bandit(mod, kl_beta=1.0)
    require(reward_kl < reward - 0.05 and kl_to_ref < 0.6,
            f"with kl_beta = 1.0 the KL penalty to the uniform starting policy should hold the bandit back: the "
            f"reference ends with reward about 0.4 and KL(policy || uniform) about 0.2 per position; yours ended with "
            f"reward {reward_kl:.3f} (without the penalty {reward:.3f}) and KL {kl_to_ref:.3f}")
