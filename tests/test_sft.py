import dataclasses
import random

import jax
import numpy as np
import pytest
from flax import nnx

from minireason.checkpoint import Checkpointer
from minireason.config import DataConfig, OptimConfig
from conftest import TINY_MODEL as CFG
from minireason.model import Transformer
from minireason.sft import Batches, batch_at, check_seq_len, make_optimizer, make_train_step, packed_batch_at, sft_loss
from minireason.tasks import get_task, training_examples
from minireason.tokenizer import EOS_ID, PAD_ID

DATA = DataConfig(tasks={"add": 1.0}, levels={"add": (1, 2)}, batch_size=8, seq_len=40)


def setup(lr=3e-3, steps=100):
    g, params = nnx.split(Transformer(CFG, nnx.Rngs(0)))
    tx = make_optimizer(OptimConfig(lr=lr, warmup_steps=5), steps)
    return g, params, tx.init(params), make_train_step(g, tx)


def test_batches_are_a_function_of_step_and_mask_the_prompt():
    a, b = batch_at(DATA, 0, 7), batch_at(DATA, 0, 7)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], batch_at(DATA, 0, 8)[0])
    tokens, mask = a
    assert mask[:, 0].sum() == 0
    assert mask.sum() > 0  # <bos> is never a target


def test_batches_built_ahead_by_worker_processes_are_those_of_each_step():
    for data, build in ((DATA, batch_at), (dataclasses.replace(DATA, pack=True), packed_batch_at)):
        ahead = Batches(data, seed=3, workers=2)
        for step in (0, 1, 2, 9, 10):  # in order, then a jump, as a resumed run makes
            for got, want in zip(ahead(step), build(data, 3, step)):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("buckets", [(1, 9), (4, 5)])
def test_training_never_sees_heldout_prompts(buckets):
    from minireason.tokenizer import decode

    data = dataclasses.replace(DATA, train_buckets=buckets)
    for step in range(20):
        for row in batch_at(data, 3, step)[0]:
            prompt = decode(row).split("<think>")[0].removeprefix("<bos>")
            assert buckets[0] <= get_task("add").bucket(prompt) <= buckets[1]  # bucket 0 is the held-out split


def test_packed_rows_hold_several_examples_and_give_the_loss_of_the_examples_alone():
    data = dataclasses.replace(DATA, tasks={"add": 1.0, "logic": 1.0}, levels={"add": (1, 3), "logic": (1, 2)},
                               seq_len=96, pack=True)
    tokens, mask, segment = packed_batch_at(data, 0, 3)
    np.testing.assert_array_equal(tokens, packed_batch_at(data, 0, 3)[0])
    assert (segment.max(axis=1) >= 2).all(), "every row holds two or more examples"
    assert (tokens[segment == 0] == PAD_ID).all() and (mask[segment == 0] == 0).all()
    # The same examples, one per row and padded: the mean loss over their targets must agree.
    rows = [(tokens[b][segment[b] == s], mask[b][segment[b] == s]) for b in range(len(tokens))
            for s in range(1, segment[b].max() + 1)]
    alone_t = np.full((len(rows), data.seq_len), PAD_ID, np.int32)
    alone_m = np.zeros((len(rows), data.seq_len), np.float32)
    for i, (t, m) in enumerate(rows):
        alone_t[i, :len(t)], alone_m[i, :len(m)] = t, m
    g, params, _, _ = setup()
    packed = sft_loss(g, params, tokens, mask, segment)
    alone = sft_loss(g, params, alone_t, alone_m)
    np.testing.assert_allclose(float(packed), float(alone), rtol=1e-5)
    # Without segments, the second and later examples of a row attend to the ones before them.
    later = mask * (segment >= 2)
    leak = float(sft_loss(g, params, tokens, later)) - float(sft_loss(g, params, tokens, later, segment))
    assert abs(leak) > 1e-4, f"without segments the later examples' loss must change (by {leak:.2e})"


def test_tiny_sft_overfits_a_fixed_batch():
    g, params, opt_state, step = setup(lr=1e-2, steps=150)
    tokens, mask = batch_at(DATA, 0, 0)
    first = None
    for _ in range(150):
        params, opt_state, m = step(params, opt_state, tokens, mask)
        first = first if first is not None else float(m["loss"])
    assert first > 2.0
    assert float(m["loss"]) < 0.05


def test_save_restore_next_step_is_bitwise_identical(tmp_path):
    g, params, opt_state, step = setup()
    for s in range(3):
        params, opt_state, _ = step(params, opt_state, *batch_at(DATA, 0, s))
    ckpt = Checkpointer(tmp_path)
    ckpt.save(3, dict(params=params, opt_state=opt_state), dict(step=3))
    ckpt.close()
    _, fresh, fresh_opt, _ = setup()  # different object, same structure
    restored, meta = Checkpointer(tmp_path).restore(dict(params=fresh, opt_state=fresh_opt))
    assert meta["step"] == 3
    batch = batch_at(DATA, 0, meta["step"])
    a = step(params, opt_state, *batch)
    b = step(restored["params"], restored["opt_state"], *batch)
    for x, y in zip(jax.tree.leaves(a[:2]), jax.tree.leaves(b[:2])):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_every_task_fits_the_shipped_configs():
    """Each shipped config's seq_len holds (nearly) all of its training examples.

    configs/flywheel/ trains on a file the user makes first (docs/flywheel.md); tests/test_data_files.py
    checks it with such a file.
    """
    from minireason.config import load
    import pathlib

    configs = pathlib.Path(__file__).parents[1] / "configs"
    for path in sorted([*configs.glob("*.toml"), *configs.glob("gpu/*.toml")]):
        check_seq_len(load(str(path)).data, max_skipped=0.001)


def test_too_long_examples_are_skipped_and_a_too_short_seq_len_fails_early():
    data = dataclasses.replace(DATA, levels={"add": (1, 3)}, seq_len=24)  # about half of these fit
    tokens, _ = batch_at(data, 0, 0)
    assert tokens.shape == (8, 24)
    assert np.all(np.any(tokens == EOS_ID, axis=1))  # full batch, every row complete
    with pytest.raises(ValueError, match="data.seq_len=24"):
        check_seq_len(data)


def test_level_weights_set_how_often_each_level_is_drawn():
    data = dataclasses.replace(DATA, tasks={"mul": 1.0}, levels={"mul": (1, 2)}, level_weights={"mul": (1.0, 3.0)},
                               seq_len=120)
    rng = random.Random(0)
    levels = [1 if max(len(p) for p in ex.prompt[:-1].split("*")) == 1 else 2
              for _, ex in training_examples(data.tasks, data.levels, rng, 4000, level_weights=data.level_weights)]
    # level 2 draws 1-digit operands a quarter of the time, so 1-digit products are 1/4 + 3/4 * 1/4 of the draws
    assert abs(levels.count(1) / 4000 - (0.25 + 0.75 * 0.25)) < 0.03
    batch_at(data, 0, 0)  # the SFT batches take the weights too


@pytest.mark.parametrize("weights", ["{mul=[1]}", "{mul=[1,-1]}", "{mul=[0,0]}", "{nope=[1,1]}"])
def test_bad_level_weights_are_refused(weights):
    from minireason.config import load
    from minireason.errors import UserError

    with pytest.raises(UserError, match="level_weights|unknown task"):
        load(None, ["data.tasks={mul=1}", "data.levels={mul=[1,2]}", f"data.level_weights={weights}"])
