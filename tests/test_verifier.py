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
from minireason.verifier import Verifier, auc, make_verifier_update, probabilities


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
    assert report["tasks"]["logic"]["n"] > 0
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
