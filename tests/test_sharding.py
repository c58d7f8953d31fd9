"""Many devices (minireason/mesh.py): split over 8 devices, each step gives the numbers of one.

JAX reads XLA_FLAGS once, when it starts, and the rest of the suite runs on one device. So the
8-device half runs in a child process: this file, run as a script under
XLA_FLAGS=--xla_force_host_platform_device_count=8, takes the steps on a mesh of 2 (data) x 4
(fsdp) simulated CPU devices and writes what it got to a folder (the `eight` fixture). The tests
take the same steps here, on one device, and compare; checkpoints travel both ways (saved on 8
devices and restored here, saved here and restored on 8).
"""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec

from conftest import TINY_MODEL
from minireason import mesh
from minireason.checkpoint import Checkpointer
from minireason.config import DataConfig, OptimConfig, RLConfig, load
from minireason.errors import UserError
from minireason.model import Transformer
from minireason.rl import make_rl_step
from minireason.sampler import SampleConfig, generate, pad_prompts, sample
from minireason.sft import batch_at, make_optimizer, make_train_step
from minireason.tokenizer import EOS_ID

ROOT = Path(__file__).resolve().parents[1]
CFG = dataclasses.replace(TINY_MODEL, n_layers=1)  # one block shows the splits; two would only compile longer
DATA = DataConfig(tasks={"add": 1.0}, levels={"add": (1, 2)}, batch_size=8, seq_len=40)
PROMPTS = ["1+2=", "123+456=", "9*9=", "make 24 from 3 5 7 12", "7-3=", "count r in strawberry", "T&F", "3x+5=20"]
SAMPLING = SampleConfig(max_new=12, temperature=1.0)


def setup():
    """(graphdef, params, opt_state, tx): the same tiny model and optimizer in both processes."""
    g, params = nnx.split(Transformer(CFG, nnx.Rngs(0)))
    tx = make_optimizer(OptimConfig(warmup_steps=1), 10)
    return g, params, tx.init(params), tx


def rl_batch() -> dict:
    """A learner batch with made-up completions and old log-probs near the untrained model's (ratios near 1)."""
    rng = np.random.default_rng(0)
    prompt, start = pad_prompts(PROMPTS)
    completion = rng.integers(5, CFG.vocab_size, (len(PROMPTS), 16)).astype(np.int32)
    completion[::3, 10] = EOS_ID  # some rows end early
    old_logp = (-np.log(CFG.vocab_size) + 0.1 * rng.standard_normal(completion.shape)).astype(np.float32)
    return dict(prompt=prompt, start=start, completion=completion, old_logp=old_logp,
                adv=np.linspace(-1, 1, len(PROMPTS), dtype=np.float32))


def flat(tree, name: str = "") -> dict[str, np.ndarray]:
    """{name|path: array} for every leaf of `tree`."""
    return {f"{name}|{jax.tree_util.keystr(path)}": np.asarray(x) for path, x in jax.tree_util.tree_leaves_with_path(tree)}


def part(arrays: dict, name: str) -> dict[str, np.ndarray]:
    """The arrays that `flat(tree, name)` wrote, keyed as `flat(tree)` keys them."""
    return {k[len(name):]: v for k, v in arrays.items() if k.startswith(name + "|")}


def state_dict(params, opt_state) -> dict:
    return dict(params=params, opt_state=opt_state)


def child(out: Path) -> None:
    """The 8-device half: each step on a 2 x 4 mesh, written to `out` (results.json, arrays.npz)."""
    assert jax.device_count() == 8, "run with XLA_FLAGS=--xla_force_host_platform_device_count=8"
    g, params, opt_state, tx = setup()
    step, rl_step = make_train_step(g, tx), make_rl_step(g, tx, RLConfig())
    m = mesh.make_mesh(2, 4)
    results, arrays = {}, {}
    with jax.set_mesh(m):
        state = mesh.place(state_dict(params, opt_state), m)
        # SFT: two steps; the state after the first is saved, for the other process to resume from.
        p, o, metrics = step(state["params"], state["opt_state"], *mesh.rows(batch_at(DATA, 0, 0)))
        ckpt = Checkpointer(out / "from8")
        ckpt.save(1, state_dict(p, o), dict(step=1))
        ckpt.close()
        arrays |= flat(state_dict(p, o), "sft")
        results["sft_loss"] = float(metrics["loss"])
        batch = mesh.rows(batch_at(DATA, 0, 1))
        arrays |= flat(state_dict(*step(p, o, *batch)[:2]), "sft_next")
        kernel, moment = p["blocks"][0]["attn"]["qkv"]["kernel"], o[1][0].mu["blocks"][0]["attn"]["qkv"]["kernel"]
        results["split"] = dict(kernel=str(kernel.sharding.spec), kernel_piece=kernel.addressable_shards[0].data.shape,
                                moment=str(moment.sharding.spec), scale=str(p["norm"]["scale"].sharding.spec),
                                batch=str(batch[0].sharding.spec), batch_piece=batch[0].addressable_shards[0].data.shape,
                                same_after_step=all(a.sharding == b.sharding for a, b in zip(
                                    jax.tree.leaves(state), jax.tree.leaves(state_dict(p, o)))))
        # RL: one pass on a made-up learner batch; the sampler, straight and through `generate` (6 rows padded to 8).
        p_rl, _, m_rl = rl_step(state["params"], state["opt_state"], mesh.rows(rl_batch()))
        arrays |= flat(p_rl, "rl")
        results["rl_loss"] = float(m_rl["loss"])
        prompt, start = mesh.rows(pad_prompts(PROMPTS))
        out_s = mesh.to_host(sample(g, state["params"], prompt, start, jax.random.key(0), SAMPLING))
        arrays |= {f"sample|{k}": out_s[k] for k in ("tokens", "logprobs", "thinking_tokens")}
        results["generate"] = generate(g, state["params"], PROMPTS[:6], SAMPLING, jax.random.key(1), batch_size=16)
        # The checkpoint the other process saved on one device, restored split over the mesh, and the next step.
        restored, _ = Checkpointer(out / "from1").restore(state)
        results["restored_split"] = str(restored["params"]["blocks"][0]["attn"]["qkv"]["kernel"].sharding.spec)
        arrays |= flat(restored, "from1")
        arrays |= flat(state_dict(*step(restored["params"], restored["opt_state"], *batch)[:2]), "from1_next")
    errors = {}
    for override in ("data.batch_size=6", "mesh.data=1 mesh.fsdp=8 model.d_model=36", "mesh.data=3"):
        cfg = load(str(ROOT / "configs" / "tiny.toml"), override.split())
        try:
            mesh.check(cfg, mesh.make_mesh(cfg.mesh.data, cfg.mesh.fsdp))
        except UserError as e:
            errors[override] = str(e)
    results["errors"] = errors
    np.savez(out / "arrays.npz", **arrays)
    (out / "results.json").write_text(json.dumps(results))


@pytest.fixture(scope="module")
def tiny():
    g, params, opt_state, tx = setup()
    return g, params, opt_state, tx, make_train_step(g, tx)


@pytest.fixture(scope="module")
def eight(tiny, tmp_path_factory):
    """(folder, results, arrays) of the child process; first saves a one-device checkpoint for it to restore."""
    g, params, opt_state, tx, step = tiny
    out = tmp_path_factory.mktemp("eight")
    ckpt = Checkpointer(out / "from1")
    ckpt.save(1, state_dict(*step(params, opt_state, *batch_at(DATA, 0, 0))[:2]), dict(step=1))
    ckpt.close()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, __file__, str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "Involuntary full rematerialization" not in r.stderr, "the compiler moved whole arrays between devices"
    with np.load(out / "arrays.npz") as f:
        return out, json.loads((out / "results.json").read_text()), dict(f)


def assert_close(got: dict, want: dict, rtol=1e-5, atol=1e-6):
    assert got.keys() == want.keys() and got
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


def test_sft_steps_on_8_devices_match_one_device(tiny, eight):
    g, params, opt_state, tx, step = tiny
    _, results, arrays = eight
    p, o, metrics = step(params, opt_state, *batch_at(DATA, 0, 0))
    assert_close(part(arrays, "sft"), flat(state_dict(p, o)))
    assert results["sft_loss"] == pytest.approx(float(metrics["loss"]), rel=1e-6)
    assert_close(part(arrays, "sft_next"), flat(state_dict(*step(p, o, *batch_at(DATA, 0, 1))[:2])))


def test_parameters_and_batches_are_split_as_annotated(eight):
    split = eight[1]["split"]
    D = CFG.d_model
    assert split["kernel"] == str(PartitionSpec("fsdp", None)) and split["moment"] == split["kernel"]
    assert split["kernel_piece"] == [D // 4, 3 * D], "each device holds a quarter of the rows of the kernel"
    assert split["scale"] == str(PartitionSpec())  # not annotated: a copy on every device
    assert split["batch"] == str(PartitionSpec(("data", "fsdp"))) and split["batch_piece"] == [1, DATA.seq_len]
    assert split["same_after_step"], "a step must leave the state split as it found it"


def test_rl_step_on_8_devices_matches_one_device(tiny, eight):
    g, params, opt_state, tx, _ = tiny
    _, results, arrays = eight
    p, _, metrics = make_rl_step(g, tx, RLConfig())(params, opt_state, rl_batch())
    assert_close(part(arrays, "rl"), flat(p))
    assert results["rl_loss"] == pytest.approx(float(metrics["loss"]), rel=1e-5, abs=1e-7)


def test_sampler_on_8_devices_matches_one_device(tiny, eight):
    g, params, _, _, _ = tiny
    _, results, arrays = eight
    out = jax.device_get(sample(g, params, *pad_prompts(PROMPTS), jax.random.key(0), SAMPLING))
    np.testing.assert_array_equal(arrays["sample|tokens"], out["tokens"])
    np.testing.assert_array_equal(arrays["sample|thinking_tokens"], out["thinking_tokens"])
    np.testing.assert_allclose(arrays["sample|logprobs"], out["logprobs"], rtol=1e-5, atol=1e-5)
    # 6 prompts padded to 8 rows there, by copies of the first: the batch, and the compiled shape, of these 8 here
    padded = PROMPTS[:6] + PROMPTS[:1] * 2
    assert results["generate"] == generate(g, params, padded, SAMPLING, jax.random.key(1), batch_size=16)[:6]


def test_checkpoints_move_from_8_devices_to_1_and_back(tiny, eight):
    g, params, opt_state, tx, step = tiny
    out, results, arrays = eight
    # Saved on 8 devices, restored here: the same bits, and the next step is the one the 8 devices took.
    restored, meta = Checkpointer(out / "from8").restore(state_dict(params, opt_state))
    assert meta["step"] == 1
    for k, v in flat(restored).items():
        np.testing.assert_array_equal(v, arrays["sft" + k], err_msg=k)
    next_step = step(restored["params"], restored["opt_state"], *batch_at(DATA, 0, 1))
    assert_close(part(arrays, "sft_next"), flat(state_dict(*next_step[:2])))
    # Saved here, restored split over the 8 devices: the same bits, and its next step is ours.
    assert results["restored_split"] == str(PartitionSpec("fsdp", None))
    saved, _ = Checkpointer(out / "from1").restore(state_dict(params, opt_state))
    for k, v in flat(saved).items():
        np.testing.assert_array_equal(arrays["from1" + k], v, err_msg=k)
    assert_close(part(arrays, "from1_next"),
                 flat(state_dict(*step(saved["params"], saved["opt_state"], *batch_at(DATA, 0, 1))[:2])))


def test_configs_the_devices_cannot_split_are_one_line_errors(eight):
    errors = eight[1]["errors"]
    assert "data.batch_size (6) must be a multiple of the 8 devices" in errors["data.batch_size=6"]
    assert "model.d_model (36) must be a multiple of mesh.fsdp (8)" in errors["mesh.data=1 mesh.fsdp=8 model.d_model=36"]
    assert "mesh.data x mesh.fsdp must come to the 8 devices there are" in errors["mesh.data=3"]
    with pytest.raises(UserError, match="must come to the 1 devices there are"):
        mesh.make_mesh(2, 1)


def test_cpu_devices_splits_the_cpu_into_that_many_devices(tmp_path):
    r = subprocess.run([sys.executable, "train.py", "configs/tiny.toml", "mesh.cpu_devices=2", "train.steps=2",
                        "eval.n=2", f"run.out_dir={tmp_path}"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert r.returncode == 0, r.stderr
    assert "devices: 2 x cpu on 1 host; mesh data=2 x fsdp=1" in r.stdout
    mesh.cpu_devices(jax.device_count())  # JAX has started here with one device: asking for as many is fine
    with pytest.raises(UserError, match="already started here with 1 CPU device"):
        mesh.cpu_devices(3)


if __name__ == "__main__":
    child(Path(sys.argv[1]))
