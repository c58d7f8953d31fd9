import math
import random

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from conftest import TINY_MODEL as CFG
from minireason.config import RLConfig
from minireason.model import Transformer
from minireason.rl import (check_config, completion_logprobs, completion_mask, group_advantages, has_signal, kl_k3,
                           make_rl_step, policy_loss, reward, rollout_rewards)
from minireason.sampler import SampleConfig, pad_prompts, sample
from minireason.tasks import get_task
from minireason.tokenizer import BOS_ID, END_THINK_ID, EOS_ID, PAD_ID, THINK_ID, TOKEN_ID, encode

PROMPTS = ["1+2=", "123+456=", "9*9=", "make 24 from 3 5 7 12"]


def tiny():
    return nnx.split(Transformer(CFG, nnx.Rngs(0)))


def rollout(g, params, prompts, max_new=12, seed=0):
    prompt_BP, start_B = pad_prompts(prompts)
    out = sample(g, params, prompt_BP, start_B, jax.random.key(seed), SampleConfig(max_new=max_new, temperature=1.0))
    return prompt_BP, start_B, out


def test_batched_rewards_equal_one_by_one():
    cfg = RLConfig(format_weight=0.1, length_penalty=0.05, max_new=16)
    rng = random.Random(0)
    rows, tasks, prompts = [], [], []
    for name in ["add", "mul", "countdown", "logic", "compare"]:
        task = get_task(name)
        for _ in range(3):
            ex = task.generate(rng, task.max_level)
            right = encode(ex.thinking[:4]) + [END_THINK_ID] + encode(ex.answer) + [EOS_ID]
            variants = [right, right[:-1], [END_THINK_ID] + encode("7") + [EOS_ID],  # right, no <eos>, wrong
                        [END_THINK_ID, EOS_ID], [END_THINK_ID] + right,  # empty answer, two </think>
                        [THINK_ID] + right, [BOS_ID] + right, [EOS_ID] + right, right + [END_THINK_ID, EOS_ID],
                        [rng.randrange(len(TOKEN_ID)) for _ in range(10)]]
            for v in variants:
                rows.append((v + [PAD_ID] * 16)[:16])
                tasks.append(task)
                prompts.append(ex.prompt)
    batched = rollout_rewards(tasks, prompts, np.array(rows), cfg)
    single = np.array([reward(t, p, r, cfg) for t, p, r in zip(tasks, prompts, rows)], np.float32)
    np.testing.assert_allclose(batched["reward"], single[:, 0], atol=1e-6)
    np.testing.assert_array_equal(batched["correct"], single[:, 1])
    np.testing.assert_array_equal(batched["well_formed"], single[:, 2])
    assert 0 < batched["correct"].sum() < batched["well_formed"].sum() < len(rows)


def test_random_reward_pays_a_coin_not_the_answer():
    """The spurious-reward control: the same rollout, right and wrong answers paid alike by a seeded coin."""
    task, prompt = get_task("add"), "12+30="
    rows = np.array([(encode(a) + [END_THINK_ID] + encode(a) + [EOS_ID] + [PAD_ID] * 8)[:8]
                     for a in ["42", "41"] * 200])
    true = rollout_rewards([task] * 400, [prompt] * 400, rows, RLConfig(format_weight=0.0))
    coin = rollout_rewards([task] * 400, [prompt] * 400, rows, RLConfig(format_weight=0.0, reward="random"), seed=3)
    np.testing.assert_array_equal(coin["correct"], true["correct"])  # accuracy is still measured against the truth
    np.testing.assert_array_equal(true["reward"], true["correct"])
    right, wrong = coin["reward"][true["correct"] == 1], coin["reward"][true["correct"] == 0]
    assert set(np.unique(coin["reward"])) == {0.0, 1.0}
    assert 0.4 < right.mean() < 0.6 and 0.4 < wrong.mean() < 0.6  # 200 fair coins each (seeded)
    again = rollout_rewards([task] * 400, [prompt] * 400, rows, RLConfig(format_weight=0.0, reward="random"), seed=3)
    np.testing.assert_array_equal(again["reward"], coin["reward"])
    with pytest.raises(ValueError, match="rl.reward"):
        check_config(RLConfig(reward="coin"))


def test_trace_reward_pays_only_for_traces_whose_steps_check_out():
    """A right answer reached through a wrong step earns less than the same answer with every step right."""
    cfg = RLConfig(format_weight=0.1, trace_weight=0.5, max_new=96)
    prompt, good = "make 24 from 2 5 7", "7*2=14 14+5=19 vs 24 no;7+5=12 12*2=24 vs 24 ok;(7+5)*2=24"
    rows = [encode(thinking) + [END_THINK_ID] + encode(answer) + [EOS_ID]
            for thinking, answer in [(good, "(7+5)*2"), (good.replace("14+5=19", "14+5=18"), "(7+5)*2"),
                                     (good, "7*5-2"), (good.replace("24 vs 24 ok", "24 vs 24 no"), "(7+5)*2")]]
    rows = np.array([(r + [PAD_ID] * 96)[:96] for r in rows])
    task = get_task("countdown")
    batched = rollout_rewards([task] * 4, [prompt] * 4, rows, cfg)
    np.testing.assert_allclose(batched["reward"], [1.6, 1.1, 0.6, 1.1], atol=1e-6)
    np.testing.assert_array_equal(batched["clean"], [1, 0, 1, 0])  # the third: every step right, the answer not
    np.testing.assert_allclose([reward(task, prompt, r, cfg)[0] for r in rows], batched["reward"], atol=1e-6)
    check_config(cfg, ["countdown"])
    with pytest.raises(ValueError, match="trace_weight"):
        check_config(cfg, ["countdown", "add"])  # add has no step checker


def test_group_advantages_and_zero_signal_groups():
    r = jnp.array([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.3, 0.3, 0.3, 0.3]])
    for mode, first in [("grpo", [1, -1, 1, -1]), ("drgrpo", [0.5, -0.5, 0.5, -0.5])]:
        adv = group_advantages(r, mode)
        np.testing.assert_allclose(adv[0], first, atol=1e-5)
        assert np.all(np.asarray(adv[1:]) == 0.0)
        grad = jax.grad(lambda x: jnp.sum(group_advantages(x, mode) * jnp.arange(12.0).reshape(3, 4)))(r)
        assert bool(jnp.all(jnp.isfinite(grad)))
        assert np.all(np.asarray(grad[1:]) == 0.0)
    assert has_signal(r, 4).tolist() == [True, False, False]
    assert has_signal(r.reshape(-1), 4).tolist() == [True, False, False]  # flat rows b * G + g, as a rollout has them
    np.testing.assert_allclose(group_advantages(r, "reinforce"), r - r.mean(), atol=1e-6)
    assert np.all(np.asarray(group_advantages(jnp.full((2, 3), 0.7), "reinforce")) == 0.0)
    # zero-advantage rows send no gradient into the policy
    logp, old = -jnp.ones((3, 4)), jnp.full((3, 4), -1.05)
    g = jax.grad(lambda lp: policy_loss(lp, old, group_advantages(r, "grpo")[:, 0], jnp.ones((3, 4)))[0])(logp)
    assert np.all(np.asarray(g[1:]) == 0.0)
    assert float(jnp.abs(g[0]).min()) > 0


def test_negative_weight_scales_only_negative_advantages():
    r = jnp.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    full = group_advantages(r, "drgrpo")
    for w in (0.0, 0.25):
        adv = group_advantages(r, "drgrpo", negative_weight=w)
        np.testing.assert_allclose(adv, jnp.where(full < 0, w * full, full), atol=1e-6)
    # with weight 0 the wrong samples send no gradient, the right ones still do
    adv = group_advantages(r, "drgrpo", negative_weight=0.0).reshape(-1)
    logp = -jnp.ones((8, 4))
    g = jax.grad(lambda lp: policy_loss(lp, logp, adv, jnp.ones((8, 4)))[0])(logp)
    wrong = np.asarray(r.reshape(-1)) == 0
    assert np.all(np.asarray(g[wrong]) == 0.0)
    assert np.all(np.asarray(g[~wrong]) < 0)


def test_completion_mask_stops_after_first_eos():
    x = jnp.array([[7, EOS_ID, PAD_ID, PAD_ID], [7, 8, 9, 10], [EOS_ID, PAD_ID, PAD_ID, PAD_ID], [7, PAD_ID, EOS_ID, PAD_ID]])
    np.testing.assert_array_equal(completion_mask(x), [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0]])


def test_recomputed_logprobs_match_the_sampler():
    g, params = tiny()
    prompt_BP, start_B, out = rollout(g, params, PROMPTS * 2, max_new=16)
    logp, entropy = completion_logprobs(g, params, prompt_BP, start_B, out["tokens"], 1.0)
    mask = np.asarray(completion_mask(out["tokens"])).astype(bool)
    np.testing.assert_allclose(np.asarray(logp)[mask], np.asarray(out["logprobs"])[mask], atol=1e-4)
    assert bool(jnp.all(entropy >= 0))
    assert float(entropy.max()) <= math.log(CFG.vocab_size) + 1e-4


def test_loss_ignores_prompt_padding_and_tokens_after_eos():
    """Junk in the left padding or after <eos> changes neither the loss nor its gradient."""
    g, params = tiny()
    prompt_BP, start_B, out = rollout(g, params, PROMPTS)
    completion = np.asarray(out["tokens"]).copy()
    completion[:, 5] = EOS_ID  # every row ends by position 5; junk follows
    completion[:, 6:] = PAD_ID
    adv = jnp.array([1.0, -1.0, 0.5, -0.5])

    old = np.asarray(out["logprobs"]) - 0.1

    def loss_and_grad(prompt, comp, old):
        def f(p):
            logp, _ = completion_logprobs(g, p, prompt, start_B, comp, 1.0)
            return policy_loss(logp, old, adv, completion_mask(comp), aggregation="seq_mean")[0]
        return jax.value_and_grad(f)(params)

    junk_prompt = np.where(prompt_BP == PAD_ID, TOKEN_ID["z"], prompt_BP)
    junk_comp, junk_old = completion.copy(), old.copy()
    junk_comp[:, 6:], junk_old[:, 6:] = TOKEN_ID["q"], -80.0
    (a, ga), (b, gb) = loss_and_grad(prompt_BP, completion, old), loss_and_grad(junk_prompt, junk_comp, junk_old)
    np.testing.assert_allclose(a, b, atol=1e-6)
    for x, y in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_allclose(x, y, atol=1e-6)
    mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # and directly: masked slots get zero gradient
    dlogp = jax.grad(lambda lp: policy_loss(lp, jnp.full((2, 3), -80.0), jnp.ones(2), mask)[0])(jnp.zeros((2, 3)))
    assert np.all(np.asarray(dlogp)[mask == 0] == 0.0)
    assert np.all(np.isfinite(dlogp))


def test_ratio_clipping_zeroes_the_gradient_outside_the_trust_region():
    def grad(ratio, adv):
        f = lambda lp: policy_loss(lp, jnp.zeros((1, 1)), jnp.array([adv]), jnp.ones((1, 1)), 0.2, 0.28)[0]
        return float(jax.grad(f)(jnp.full((1, 1), math.log(ratio)))[0, 0])

    assert grad(1.5, 1.0) == 0.0
    assert grad(0.5, -1.0) == 0.0  # already moved far enough
    assert grad(1.1, 1.0) < 0
    assert grad(0.9, -1.0) > 0  # inside: descent raises / lowers logp
    assert grad(1.5, -1.0) > 0
    assert grad(0.5, 1.0) < 0  # moved the wrong way: never clipped
    assert grad(1.25, 1.0) < 0
    assert grad(0.75, 1.0) < 0  # decoupled: 1.25 < 1 + clip_high
    _, m = policy_loss(jnp.log(jnp.array([[1.5, 1.0], [0.5, 1.0]])), jnp.zeros((2, 2)), jnp.array([1.0, -1.0]), jnp.ones((2, 2)))
    assert float(m["clip_fraction"]) == 0.5


def test_k3_is_nonnegative_zero_at_equality_and_unbiased():
    a, b = jax.random.normal(jax.random.key(0), (2, 1000)) * 5
    assert float(kl_k3(a, b).min()) >= 0
    assert float(jnp.abs(kl_k3(a, a)).max()) == 0.0
    logp = jax.nn.log_softmax(jax.random.normal(jax.random.key(1), (10,)))
    ref = jax.nn.log_softmax(jax.random.normal(jax.random.key(2), (10,)))
    expected_k3 = jnp.sum(jnp.exp(logp) * kl_k3(logp, ref))
    np.testing.assert_allclose(expected_k3, jnp.sum(jnp.exp(logp) * (logp - ref)), rtol=1e-5)  # = KL(p || ref)


def test_kl_penalty_pulls_toward_the_reference():
    logp, ref = jnp.array([[-1.0, -2.0]]), jnp.array([[-1.5, -1.0]])
    f = lambda lp, beta: policy_loss(lp, lp, jnp.zeros(1), jnp.ones((1, 2)), kl_beta=beta, ref_logp_BN=ref)
    loss, m = f(logp, 0.1)
    assert float(loss) > 0
    assert float(m["kl"]) > 0
    g = jax.grad(lambda lp: f(lp, 0.1)[0])(logp)
    assert float(g[0, 0]) > 0
    assert float(g[0, 1]) < 0  # descent moves logp toward ref


def test_one_step_raises_rewarded_samples_and_lowers_the_rest():
    g, params = tiny()
    prompt_BP, start_B, out = rollout(g, params, PROMPTS)
    adv = jnp.array([1.0, -1.0, 1.0, -1.0])
    batch = dict(prompt=prompt_BP, start=start_B, completion=out["tokens"], old_logp=out["logprobs"], adv=adv)
    for aggregation in ("token_mean", "seq_mean"):
        cfg = RLConfig(ppo_epochs=1, aggregation=aggregation)
        tx = optax.sgd(0.05)
        new, _, m = make_rl_step(g, tx, cfg)(params, tx.init(params), batch)
        assert float(m["clip_fraction"]) == 0.0
        assert float(m["approx_kl"]) < 1e-6  # first pass: ratio 1
        mask = completion_mask(out["tokens"])
        before = jnp.sum(completion_logprobs(g, params, prompt_BP, start_B, out["tokens"], 1.0)[0] * mask, axis=1)
        after = jnp.sum(completion_logprobs(g, new, prompt_BP, start_B, out["tokens"], 1.0)[0] * mask, axis=1)
        assert np.all(np.sign(np.asarray(after - before)) == np.asarray(adv)), (before, after)


def test_toy_bandit_learns_the_rewarded_token():
    """One-token task: reward 1 when the completion starts with 'x'. P('x') climbs from ~1/V."""
    g, params = tiny()
    cfg = RLConfig(group_size=16, max_new=1, ppo_epochs=2)
    tx = optax.adam(1e-2)
    opt_state, step = tx.init(params), make_rl_step(g, tx, cfg)
    prompts = ["ab", "cd", "ef", "gh"]
    prompt_BP, start_B = pad_prompts([p for p in prompts for _ in range(cfg.group_size)])
    x_B1 = jnp.full((len(prompt_BP), 1), TOKEN_ID["x"])
    p_x = lambda p: float(jnp.exp(completion_logprobs(g, p, prompt_BP, start_B, x_B1, 1.0)[0]).mean())
    assert p_x(params) < 3 / CFG.vocab_size
    for i in range(20):
        out = sample(g, params, prompt_BP, start_B, jax.random.key(i), SampleConfig(max_new=1, temperature=1.0))
        rewards = (np.asarray(out["tokens"][:, 0]) == TOKEN_ID["x"]).astype(np.float32)
        adv = group_advantages(rewards.reshape(len(prompts), cfg.group_size), cfg.advantage)
        batch = dict(prompt=prompt_BP, start=start_B, completion=out["tokens"], old_logp=out["logprobs"],
                     adv=adv.reshape(-1))
        for _ in range(cfg.ppo_epochs):
            params, opt_state, m = step(params, opt_state, batch)
    assert p_x(params) > 0.5
