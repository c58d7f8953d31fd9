"""The learned verifier: AUC, the scalar head on a toy task, and train.py's verifier stage."""

import json
import shutil

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import TINY_MODEL
from minireason import config as config_lib, train
from minireason.runs import load_run
from minireason.sft import make_optimizer
from minireason.evaluate import TOP_M, ladder, rerank, top_vote, vote
from minireason.tokenizer import prompt_ids
from minireason.verifier import (Verifier, auc, batch_rows, check_config, completion_mask, hardest_wrongs,
                                 make_verifier_update, mixed_prompts, pad_right, probabilities, sample_ids, token_bce,
                                 verifier_loss, within_prompt_auc)


def brute_force_auc(scores, labels):
    pos = [x for x, y in zip(scores, labels) if y]
    neg = [x for x, y in zip(scores, labels) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def test_auc_by_ranks_equals_pair_counting():
    rng = np.random.default_rng(0)
    for n in (2, 5, 17, 60):
        scores = rng.integers(0, 6, n) / 5.0  # few distinct values: many ties
        labels = np.arange(n) % 2 == 0
        rng.shuffle(labels)
        assert auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels), abs=1e-12)
    assert auc([0.1, 0.9], [0, 1]) == 1.0
    assert auc([0.9, 0.1], [0, 1]) == 0.0
    assert auc([0.5, 0.5], [0, 1]) == 0.5
    assert np.isnan(auc([0.1, 0.2], [1, 1]))


def test_verifier_head_learns_a_separable_toy_set():
    """Label 1 when a random sequence contains token A somewhere, 0 when it contains token B instead."""
    A, B, T = 40, 41, 12
    rng = np.random.default_rng(0)

    def toy(n):
        tokens = rng.integers(50, 90, (n, T)).astype(np.int32)
        label = (np.arange(n) % 2).astype(np.float32)
        tokens[np.arange(n), rng.integers(0, T - 1, n)] = np.where(label > 0, A, B)
        return dict(tokens=tokens, last=np.full(n, T - 1, np.int32), label=label)

    cfg = config_lib.load(None, ["data.batch_size=32", "optim.warmup_steps=5", "optim.lr=3e-3"])
    graphdef, params = nnx.split(Verifier(TINY_MODEL, nnx.Rngs(0)))
    tx = make_optimizer(cfg.optim, 60)
    update, opt_state = make_verifier_update(graphdef, tx, cfg, {"train": toy(512)}), tx.init(params)
    test = toy(200)
    assert auc(probabilities(graphdef, params, test["tokens"], test["last"]), test["label"]) == 0.5  # the head starts at 0.5
    for step in range(60):
        params, opt_state, _ = update(step, params, opt_state)
    assert auc(probabilities(graphdef, params, test["tokens"], test["last"]), test["label"]) > 0.98


def test_train_verifier_writes_eval_json_and_resumes(tiny_verifier):
    run_dir, argv = tiny_verifier
    report = json.loads((run_dir / "eval.json").read_text())
    assert 0.0 <= report["auc"] <= 1.0
    logic = report["tasks"]["logic"]
    assert logic["n"] > 0
    assert logic["mixed_prompts"] > 0 and 0.0 <= logic["within_auc"] <= 1.0
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert (run_dir / "verifier_data.npz").is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == ["10", "20"]
    _, _, straight = load_run(run_dir)
    sampled_at = (run_dir / "verifier_data.npz").stat().st_mtime_ns
    shutil.rmtree(run_dir / "checkpoints" / "20")  # as if the run died after step 10
    assert train.main(argv)["auc"] == report["auc"]
    assert (run_dir / "verifier_data.npz").stat().st_mtime_ns == sampled_at  # the samples were reused, not redrawn
    _, _, resumed = load_run(run_dir)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_verifier_can_start_from_its_policy(tiny_logic_policy, tiny_verifier):
    cfg = config_lib.load(tiny_verifier[1][0], [*tiny_verifier[1][1:], f"run.init_from={tiny_logic_policy}"])
    _, params = nnx.split(Verifier(cfg.model, nnx.Rngs(1)))
    _, _, policy = load_run(tiny_logic_policy)
    started = train.initial_params(cfg, train.STAGES["verifier"], params)
    for a, b in zip(jax.tree.leaves(started["body"]), jax.tree.leaves(policy)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(np.abs(np.asarray(started["head"]["kernel"][...])).max()) == 0.0



def test_per_token_loss_counts_exactly_the_completion_tokens():
    """The mask runs from the token after <think> through <eos>; the loss's gradient is nonzero there only."""
    prompts = [("12+3", "1 2", "15"), ("7", "", "7")]
    rows = [sample_ids(*p) for p in prompts]
    tokens, last = pad_right(rows, multiple=8)
    mask = np.asarray(completion_mask(tokens, last))
    for row, (prompt, thinking, answer) in zip(mask, prompts):
        first, end = len(prompt_ids(prompt)), len(sample_ids(prompt, thinking, answer))  # prompt_ids ends in <think>
        assert row.tolist() == [first <= t < end for t in range(tokens.shape[1])]
    value_BT = np.random.default_rng(0).normal(size=tokens.shape).astype(np.float32)
    grad = np.asarray(jax.grad(token_bce)(value_BT, np.array([1.0, 0.0], np.float32), mask.astype(np.float32)))
    assert ((grad != 0) == mask).all()
    # each row's mean over its own tokens, then the mean of the rows: the short row weighs as much as the long one
    row_means = [np.mean(np.logaddexp(0, -value_BT[0][mask[0]])), np.mean(np.logaddexp(0, value_BT[1][mask[1]]))]
    assert float(token_bce(value_BT, np.array([1.0, 0.0]), mask.astype(np.float32))) == pytest.approx(
        np.mean(row_means), rel=1e-5)


def test_within_prompt_auc_sees_past_easy_and_hard_prompts():
    """Easy prompt: 9 right, 1 wrong, all scored 0.9; hard: 1 right, 9 wrong, all 0.1. Telling the prompts
    apart gives a global AUC of 0.9, but within each prompt the verifier ranks nothing: 0.5."""
    scores = [0.9] * 10 + [0.1] * 10 + [0.5] * 3
    labels = [1] * 9 + [0] + [1] + [0] * 9 + [1] * 3
    prompts = [0] * 10 + [1] * 10 + [2] * 3  # prompt 2 has no wrong sample: left out of the mean
    assert auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels))
    assert auc(scores[:20], labels[:20]) == pytest.approx(0.9)
    assert within_prompt_auc(scores, labels, prompts) == (0.5, 2)
    ranked = [0.9] * 9 + [0.8] + [0.2] + [0.1] * 9  # now each prompt's right samples score above its wrong ones
    assert within_prompt_auc(ranked, labels[:20], prompts[:20]) == (1.0, 2)
    assert np.isnan(within_prompt_auc([0.1, 0.2], [1, 1], [0, 0])[0])


def t(answer, score, correct=False, well_formed=True):
    return dict(answer=answer, score=score, correct=correct, well_formed=well_formed)


def test_top_m_vote_votes_among_the_highest_scored_samples():
    group = [t("A", 0.1), t("A", 0.2), t("A", 0.15), t("A", 0.1), t("B", 0.7, True), t("B", 0.6, True),
             t("B", 0.65, True), t("C", 0.8), t("D", 0.99, well_formed=False)]
    assert vote(group)["answer"] == "A"  # 4 votes against 3
    assert rerank(group)["answer"] == "C"  # one sample that fools the verifier wins alone
    assert top_vote(group, m=4)["answer"] == "B"  # top 4 well formed: C, B, B, B
    assert top_vote(group, m=2)["answer"] == "C"  # C and B once each: the higher-scored first
    assert top_vote(group, m=100)["answer"] == "A"  # all of them: plain majority vote
    assert top_vote([t("D", 0.99, well_formed=False)]) is None
    groups = [group, [t("B", 0.9, True), t("A", 0.8)] * 8]
    curves = ladder(groups, [1, 2, 8])
    top = curves[f"top{TOP_M}_maj@k"]
    assert top[1] == curves["maj@k"][1] and top[8] == curves["maj@k"][8]  # k <= m: all k samples vote
    # ... but a tied vote goes to the higher-scored answer, not the first seen: the block [B 0.65, C 0.8] of the
    # first group (blocks A A, A A, B B, B C) is lost, while B A (B scores higher) is won in the second group
    assert curves["maj@k"][2] == pytest.approx((2 / 4 + 1) / 2) and top[2] == pytest.approx((1 / 4 + 1) / 2)
    sixteen = ladder(groups[1:], [16])  # B (right) and A alternate: a tied vote of 16 goes to B, seen first
    assert sixteen["maj@k"][16] == 1.0 and sixteen[f"top{TOP_M}_maj@k"][16] == 1.0
    flipped = ladder([[t("A", 0.9), t("B", 0.8, True)] * 8], [16])  # now A comes first and scores higher
    assert flipped["maj@k"][16] == 0.0 and flipped[f"top{TOP_M}_maj@k"][16] == 0.0


def test_old_verifier_runs_without_the_new_keys_still_load(tiny_verifier, tmp_path):
    """A run written before verifier.head and verifier.lm_weight existed loads as an outcome reward model."""
    run_dir = tmp_path / "old"
    shutil.copytree(tiny_verifier[0], run_dir)
    saved = json.loads((run_dir / "config.json").read_text())
    del saved["verifier"]["head"], saved["verifier"]["lm_weight"]
    (run_dir / "config.json").write_text(json.dumps(saved))
    cfg, graphdef, params = load_run(run_dir)
    assert (cfg.verifier.head, cfg.verifier.lm_weight) == ("last", 0.0)
    _, _, new = load_run(tiny_verifier[0])
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(new)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_pairwise_batches_pair_a_right_and_a_wrong_sample_of_one_prompt():
    label = np.array([1, 0, 0, 1, 1, 1, 0, 0, 1, 0], np.float32)
    prompt = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 4])  # prompt 1 all right, prompt 4 all wrong: never drawn
    pairs = mixed_prompts(dict(label=label, prompt=prompt))
    assert len(pairs) == 3
    rows = batch_rows(np.random.default_rng(0), len(label), 64, pairs)
    right, wrong = rows[:32], rows[32:]
    assert (label[right] == 1).all() and (label[wrong] == 0).all()
    assert (prompt[right] == prompt[wrong]).all() and set(prompt[rows]) == {0, 2, 3}
    with pytest.raises(Exception, match="pairwise_weight"):
        mixed_prompts(dict(label=label[3:5], prompt=prompt[3:5]))
    rows = batch_rows(np.random.default_rng(0), len(label), 64, pairs, pair_share=0.5)  # 16 pairs, 32 any rows
    assert (label[rows[:16]] == 1).all() and (label[rows[16:32]] == 0).all() and 1 in set(prompt[rows[32:]])


def test_pairwise_loss_is_bradley_terry_on_the_pairs_scores():
    cfg = config_lib.load(None, ["verifier.pairwise_weight=1.0", "verifier.head=last"])
    rng = np.random.default_rng(0)
    graphdef, params = nnx.split(Verifier(TINY_MODEL, nnx.Rngs(0)))
    params = jax.tree.map(lambda x: x + 0.1 * rng.standard_normal(x.shape).astype(x.dtype), params)  # head not 0
    tokens = rng.integers(50, 90, (8, 12)).astype(np.int32)
    last, label = np.full(8, 11, np.int32), np.array([1, 1, 1, 1, 0, 0, 0, 0], np.float32)
    loss, (logit, metrics) = verifier_loss(graphdef, params, cfg.verifier, tokens, last, label)
    s = np.asarray(logit, np.float64)
    expected = np.mean(np.log1p(np.exp(-(s[:4] - s[4:]))))
    assert float(metrics["pair_loss"]) == pytest.approx(expected, rel=1e-5)
    assert float(loss) == pytest.approx(float(metrics["value_loss"]) + expected, rel=1e-5)


def test_hard_negatives_keep_the_wrong_samples_a_verifier_ranks_highest():
    label = np.array([1, 0, 0, 0, 1, 0], np.float32)
    prompt = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.9, 0.2, 0.8, 0.5, 0.3, 0.1])
    pairs = hardest_wrongs(mixed_prompts(dict(label=label, prompt=prompt)), scores, top=2)
    assert [(list(r), list(w)) for r, w in pairs] == [([0], [2, 3]), ([4], [5])]
    with pytest.raises(ValueError, match="pairwise_weight"):
        check_config(config_lib.load(None, ["run.stage=verifier", "verifier.policy=x", "verifier.hard_negatives=v"]))
