"""Test-time compute: pass@k, majority vote, reranking, thinking budgets, and `minireason eval --sweep`."""

import itertools
import json

import jax
import numpy as np
import pytest

from minireason import cli
from minireason.evaluate import ladder, pass_at_k, rerank, vote
from minireason.runs import load_run
from minireason.sampler import SampleConfig, pad_prompts, sample, sample_naive
from minireason.tokenizer import END_THINK_ID, EOS_ID


def s(answer, correct=False, well_formed=True, score=0.0):
    return dict(answer=answer, correct=correct, well_formed=well_formed, score=score)


def test_pass_at_k_equals_enumeration_of_all_k_subsets():
    for n in range(1, 7):
        for c in range(n + 1):
            samples = [1] * c + [0] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(samples, k))
                assert pass_at_k(n, c, k) == pytest.approx(sum(any(x) for x in subsets) / len(subsets), abs=1e-12)
    assert pass_at_k(10_000, 1, 1) == pytest.approx(1e-4, abs=1e-12)  # large n: neither overflow nor lost precision
    assert 0 < pass_at_k(10**6, 10, 1000) < 1


def test_vote_breaks_ties_by_first_occurrence_and_compares_stripped_answers():
    a = [s("7"), s(" 5"), s("5 "), s("7 ")]  # 7 and 5 twice each: 7 came first
    assert vote(a)["answer"] == "7"
    assert vote(list(reversed(a)))["answer"] == "7 "  # now 7 (as "7 ") is first again: the first occurrence is returned
    assert vote(a[1:])["answer"] == " 5"  # 5 twice, 7 once
    assert vote(a) is vote(a)  # deterministic, and the winner's first sample


def test_vote_ignores_malformed_samples():
    group = [s("9", well_formed=False)] * 3 + [s("4", correct=True)]
    assert vote(group)["answer"] == "4"
    assert vote([s("9", well_formed=False)]) is None
    assert rerank([s("9", well_formed=False, score=1.0)]) is None


def test_weighted_vote_and_rerank_use_the_verifier_scores():
    group = [s("3", score=0.3), s("3", score=0.3), s("8", correct=True, score=0.9), s("1", score=0.95, well_formed=False)]
    assert vote(group)["answer"] == "3"  # two votes against one
    assert vote(group, lambda x: x["score"])["answer"] == "8"  # 0.9 > 0.3 + 0.3
    assert rerank(group)["answer"] == "8"  # the malformed sample is never picked, whatever its score
    assert rerank([s("2", score=0.5), s("6", score=0.5)])["answer"] == "2"  # ties: the first


def test_ladder_averages_disjoint_blocks_and_starts_at_pass_at_1():
    right, wrong = s("1", correct=True, score=0.9), s("2", score=0.1)
    groups = [[wrong, wrong, wrong, right], [right, right, wrong, wrong]]
    curves = ladder(groups, [1, 2, 4])
    for metric in ("pass@k", "maj@k", "rerank@k", "weighted_maj@k"):
        assert curves[metric][1] == pytest.approx(3 / 8)
    # k=2 blocks: problem 1 [w,w] [w,r], problem 2 [r,r] [w,w]. A 1-1 vote goes to the first answer, w.
    assert curves["maj@k"][2] == pytest.approx(((0 + 0) / 2 + (1 + 0) / 2) / 2)
    assert curves["rerank@k"][2] == curves["weighted_maj@k"][2] == pytest.approx(((0 + 1) / 2 + (1 + 0) / 2) / 2)
    assert curves["maj@k"][4] == pytest.approx((0 + 1) / 2)  # 3 wrong vs 1 right; 2 vs 2 with the right one first
    assert curves["rerank@k"][4] == curves["pass@k"][4] == 1.0
    assert "rerank@k" not in ladder([[dict(answer="1", correct=True, well_formed=True)]], [1])


def test_thinking_budget_min_and_max_cached_equals_naive(tiny_logic_policy):
    """The trained tiny policy closes its thought after about 3 tokens: min_thinking must hold it open."""
    _, graphdef, params = load_run(tiny_logic_policy)
    tokens, start = pad_prompts(["T^!F", "(T|F)&!T", "!T|!T", "F&T", "T|F", "!F^T"])
    key = jax.random.key(0)
    free = sample(graphdef, params, tokens, start, key, SampleConfig(max_new=14))
    assert int(free["thinking_tokens"].min()) < 6  # without the rule some row stops thinking early
    for rule in (dict(min_thinking=6, max_thinking=9), dict(min_thinking=2, max_thinking=2)):
        cfg = SampleConfig(max_new=14, **rule)
        fast = sample(graphdef, params, tokens, start, key, cfg)
        slow = sample_naive(graphdef, params, tokens, start, cfg)
        np.testing.assert_array_equal(fast["tokens"], slow["tokens"])
        np.testing.assert_array_equal(fast["thinking_tokens"], slow["thinking_tokens"])
        for row, n_think in zip(np.asarray(fast["tokens"]).tolist(), np.asarray(fast["thinking_tokens"]).tolist()):
            assert n_think >= cfg.min_thinking
            assert EOS_ID not in row[:n_think]
            assert END_THINK_ID not in row or row.index(END_THINK_ID) == n_think  # closed right after the thinking
            assert cfg.max_thinking < 0 or n_think <= cfg.max_thinking


def test_sampled_thinking_respects_min_and_never_exceeds_the_cap(tiny_logic_policy):
    _, graphdef, params = load_run(tiny_logic_policy)
    tokens, start = pad_prompts(["T^!F", "(T|F)&!T", "!T|!T", "F&T"] * 16)
    for lo, hi in ((0, 1), (3, 5), (4, 4)):
        cfg = SampleConfig(max_new=16, temperature=1.5, min_thinking=lo, max_thinking=hi)
        out = jax.device_get(sample(graphdef, params, tokens, start, jax.random.key(lo), cfg))
        n_think = out["thinking_tokens"]
        assert n_think.max() <= hi
        assert n_think.min() >= lo
        assert all(EOS_ID not in row[:lo] for row in out["tokens"].tolist())


def test_eval_sweep_writes_json_and_png(tiny_logic_policy, tiny_verifier, tmp_path):
    out = tmp_path / "sweep.json"
    argv = ["eval", "--checkpoint", str(tiny_logic_policy), "--task", "logic", "--n", "8", "--k", "4",
            "--verifier", str(tiny_verifier[0]), "--sweep", "--budgets", "0,2,4", "--output", str(out)]
    assert cli.main(argv) == 0
    r = json.loads(out.read_text())
    assert set(r["curves"]) == {"pass@k", "maj@k", "rerank@k", "weighted_maj@k", "top8_maj@k"}
    assert all(list(c) == ["1", "2", "4"] for c in r["curves"].values())
    assert all(0 <= v <= 1 for c in r["curves"].values() for v in c.values())
    assert {"accuracy", "pass@1", "pass@4", "maj@4", "rerank@4", "weighted_maj@4", "tokens_per_problem"} <= r.keys()
    assert r["pass@4"] >= r["maj@4"]
    assert r["pass@4"] >= r["rerank@4"]  # nothing picks better than the oracle
    assert [b["budget"] for b in r["budgets"]] == [0, 2, 4]
    assert r["budgets"][0]["thinking_tokens"] == 0
    for png in ("sweep_k.png", "sweep_budget.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra, words", [
    (["--k", "0"], "--k: must be an integer >= 1"),
    (["--sweep"], ">= 2 with --sweep"),
    (["--k", "2", "--verifier", "nowhere"], "is not a run directory"),
    (["--k", "2", "--verifier", "POLICY"], "not a verifier"),
    (["--k", "2", "--verifier", "VERIFIER", "--task", "add", "--level", "1"], "was trained on logic, not 'add'"),
    (["--k", "2", "--sweep", "--budgets", "4,x"], "--budgets must be"),
])
def test_eval_usage_errors_are_one_line(extra, words, tiny_logic_policy, tiny_verifier, capsys):
    extra = [str(tiny_logic_policy) if a == "POLICY" else str(tiny_verifier[0]) if a == "VERIFIER" else a for a in extra]
    assert cli.main(["eval", "--checkpoint", str(tiny_logic_policy), "--task", "logic", "--n", "4", *extra]) == 2  # last --task wins
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error:"), err
    assert words in err[0], err
