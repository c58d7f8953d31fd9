# %% [markdown]
# # 09 · Scaling out: the same code on many devices
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/minireason/minireason/blob/main/tutorials/09_many_devices.ipynb)
#
# **You will learn:**
# - what a device *mesh* is, and the two axes the project uses: `data` (split the batch) and `fsdp` (split the weights);
# - how to get 8 simulated devices out of one CPU, and why that must happen before JAX is imported;
# - JAX's own sharding: `PartitionSpec`, `NamedSharding`, `jax.device_put`, and how to see where each piece lives;
# - how the project labels its weights (`nnx.with_partitioning`) and places weights and batches
#   (`mesh.place`, `mesh.rows`);
# - that one SFT step on a 2 x 4 mesh gives the numbers of one device, and a checkpoint saved on 8 devices loads on 1;
# - bfloat16 compute, the attention switch, and the GPU recipe (not yet run on a GPU).
#
# **Time on a 2-core CPU:** about 25 s of CPU time, 1.5-2 min with the CPU shared (fast mode,
# `MINIREASON_FAST=1`: the same; it compares 1 training step instead of 3).
#
# **Assumes:** Python and a little NumPy; tutorials 03 (JAX, NNX) and 05 (the SFT step, checkpoints).

# %%
# On Colab (or anywhere minireason is not installed yet) this installs it from the repository.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("minireason") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/minireason/minireason"], check=True)
FAST = os.environ.get("MINIREASON_FAST") == "1"  # CI's reduced mode: fewer steps, looser asserts

# %% [markdown]
# ## 1. Eight devices from one CPU
#
# A laptop has one CPU, and JAX sees it as one *device*. XLA, the compiler under JAX, can pretend
# that the CPU is several devices, each with its own memory and its own program, that pass arrays
# to each other as GPUs would. They share the same cores, so this is not faster; it is a faithful
# rehearsal: the code, the splits and the communication are those of 8 GPUs.
#
# The switch is an environment variable, `XLA_FLAGS=--xla_force_host_platform_device_count=8`.
# JAX reads it **once**, when it starts its CPU backend, so it must be set before `import jax`.
# Setting it later does nothing; in a notebook where JAX is already loaded, restart the kernel
# (the Python process) and run from the top. `JAX_PLATFORMS=cpu` keeps a machine that has one GPU
# (a Colab GPU runtime) on its CPU, where the 8 simulated devices are.

# %%
assert "jax" not in sys.modules, "JAX is already imported: restart the kernel and run this notebook from the top"
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import dataclasses
import inspect
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from minireason import config as config_lib, mesh, model as model_lib, sft
from minireason.checkpoint import Checkpointer
from minireason.config import DataConfig, OptimConfig
from minireason.errors import UserError
from minireason.model import ModelConfig, Transformer, count_params

for old in Path("runs").glob("t09_*"):  # a re-run starts from nothing, so it gives the same results
    shutil.rmtree(old)
RUN_ROOT = Path("runs/t09_many_devices")
RUN_ROOT.mkdir(parents=True)

print(jax.devices())
assert jax.device_count() >= 8, f"{jax.device_count()} devices: XLA_FLAGS was set after JAX started"

# %% [markdown]
# ## 2. A mesh, and how an array is split over it
#
# A **mesh** (`jax.sharding.Mesh`) lays the devices out in a grid whose axes have names. The
# project uses two:
#
# - `data`: devices that work on different rows of the batch (data parallelism);
# - `fsdp`: devices that each *store* only a slice of every weight (fully sharded data
#   parallelism): a layer's weight is gathered from them when the layer runs.
#
# Both axes split the batch, so 8 devices as `data=2 x fsdp=4` each take an eighth of the rows,
# and each store a quarter of the weights. `mesh.make_mesh` builds it (with `jax.make_mesh`):

# %%
print(inspect.getsource(mesh.make_mesh))
m = mesh.make_mesh(2, 4)
print(mesh.describe(m))
print(m.devices)  # the grid: row i is data=i, column j is fsdp=j
assert dict(m.shape) == {"data": 2, "fsdp": 4}, m.shape

# %% [markdown]
# Where an array lives is a **sharding**. A `PartitionSpec` names, for each dimension of the
# array, the mesh axis it is split over (`None`: not split); a `NamedSharding` pairs it with a
# mesh. `jax.device_put(x, sharding)` copies `x` onto the devices, each device receiving its
# piece. Along a mesh axis the spec does not name, the pieces are copied: every device of that
# axis holds the same one. An 8 x 8 array, three ways:

# %%
x = jnp.arange(64.0).reshape(8, 8)
for spec in (PartitionSpec("data", "fsdp"), PartitionSpec(("data", "fsdp"), None), PartitionSpec()):
    placed = jax.device_put(x, NamedSharding(m, spec))
    pieces = {s.device.id: s.data.shape for s in placed.addressable_shards}
    print(f"{str(spec):40s} piece on each device: {sorted(set(pieces.values()))}")
    jax.debug.visualize_array_sharding(placed)
    assert len(pieces) == 8 and np.array_equal(np.asarray(placed), np.asarray(x)), "the same array, in pieces"
split = jax.device_put(x, NamedSharding(m, PartitionSpec("data", "fsdp")))
assert {s.data.shape for s in split.addressable_shards} == {(4, 2)}, "rows split in 2, columns in 4"

# %% [markdown]
# The pieces still form one array to you: `np.asarray` gathers it, and a jitted function on it
# is compiled into one program per device, with the communication it needs added by the compiler
# (a sum over all of `x` needs each device's partial sum).

# %%
total = jax.jit(jnp.sum)(split)
print(float(total), total.sharding)
assert float(total) == float(np.arange(64.0).sum())

# %% [markdown]
# ## 3. How the project labels and places its weights
#
# Nobody writes "device 3 holds rows 8 to 15" by hand. Each weight says, where `model.py` creates
# it, how it would be split: `nnx.with_partitioning` attaches a label (one mesh-axis name, or
# `None`, per dimension) to the initializer. Every kernel of the transformer splits its rows
# over `fsdp`. The label is only a label until a mesh is given.

# %%
print(inspect.getsource(model_lib._sharded))
print(inspect.getsource(model_lib._linear))

# %% [markdown]
# A small model (every width a multiple of 4, so a kernel's rows split evenly over `fsdp=4`) and
# the labels `nnx.get_partition_spec` reads from its parameters:

# %%
CFG = ModelConfig(d_model=32, n_layers=1, n_heads=2, mlp_hidden=64)  # one block shows every split
graphdef, params = nnx.split(Transformer(CFG, nnx.Rngs(0)))
specs = nnx.get_partition_spec(params)
qkv_spec = specs["blocks"][0]["attn"]["qkv"]["kernel"].get_value()
scale_spec = specs["norm"]["scale"].get_value()
print(f"{count_params(nnx.merge(graphdef, params)):,} parameters; qkv kernel {qkv_spec}, final norm scale {scale_spec}")
assert qkv_spec == PartitionSpec("fsdp", None) and scale_spec == PartitionSpec(), (qkv_spec, scale_spec)

# %% [markdown]
# `mesh.place` turns the labels into `NamedSharding`s on a mesh and puts each array there; the
# optimizer's state (AdamW's two running averages, one of each per weight) carries the same
# labels and is placed the same way. (`_put` builds each array from the pieces this host's
# devices need, which matters once several machines share a mesh; on one machine it acts like
# `jax.device_put`.)

# %%
print(inspect.getsource(mesh._put))
print(inspect.getsource(mesh.place))
tx = sft.make_optimizer(OptimConfig(warmup_steps=1), 10)
opt_state = tx.init(params)
state = mesh.place(dict(params=params, opt_state=opt_state), m)

kernel = state["params"]["blocks"][0]["attn"]["qkv"]["kernel"]
print("qkv kernel", kernel.shape, kernel.sharding.spec)
jax.debug.visualize_array_sharding(kernel)
for shard in kernel.addressable_shards[:4]:
    span = shard.index[0]  # the slice of the whole array this piece is
    print(f"  device {shard.device.id}: rows {span.start}-{span.stop - 1}, piece {shard.data.shape}")
D = CFG.d_model
assert {s.data.shape for s in kernel.addressable_shards} == {(D // 4, 3 * D)}, "a quarter of the rows per device"
assert len({s.index[0].start for s in kernel.addressable_shards}) == 4, "4 distinct slices, each on 2 devices"
moment = state["opt_state"][1][0].mu["blocks"][0]["attn"]["qkv"]["kernel"]  # Adam's running mean of that kernel
assert moment.sharding.spec == kernel.sharding.spec, "the optimizer state is split like its weight"

# %% [markdown]
# ## 4. Batches: split by rows
#
# A batch's rows are split over all 8 devices: each device computes the loss and gradient of its
# own row, and the compiler sums the gradients over devices. `jax.set_mesh(m)` makes `m` the
# mesh *in context*; while it is set `mesh.rows` splits a batch's first axis over it (without a
# mesh, as in tutorials 01-08, it returns the batch unchanged).

# %%
print(inspect.getsource(mesh.rows))
DATA = DataConfig(tasks={"add": 1.0}, levels={"add": (1, 2)}, batch_size=8, seq_len=40)
batch = sft.batch_at(DATA, seed=0, step=0)  # (tokens_BT, mask_BT) as numpy arrays, as in tutorial 05
with jax.set_mesh(m):
    placed_batch = mesh.rows(batch)
tokens_BT = placed_batch[0]
print("tokens", tokens_BT.shape, tokens_BT.sharding.spec, "piece", tokens_BT.addressable_shards[0].data.shape)
assert {s.data.shape for s in tokens_BT.addressable_shards} == {(1, DATA.seq_len)}, "one row per device"

# %% [markdown]
# A config the mesh cannot split stops with one line naming the key to change, before anything
# is built (`mesh.check`, which `train.py` calls):

# %%
bad = config_lib.load(None, ["data.batch_size=6", "mesh.data=2", "mesh.fsdp=4"])  # None: the defaults, then these
try:
    mesh.check(bad, m)
except UserError as e:
    message = str(e)
print(message)
assert "data.batch_size (6) must be a multiple of the 8 devices" in message

# %% [markdown]
# ## 5. One SFT step on 1 device and on 8
#
# The training step is tutorial 05's `make_train_step`, unchanged. Called on arrays that live on
# one device it compiles a one-device program; called on the placed state and batch it compiles
# 8 programs, with the communication added. Inside the step, `mesh.pin` asks the compiler to
# leave the new parameters split as they came (else the next call could see another split and
# compile again). Same inputs, so the same numbers, up to the order of float32 sums.

# %%
train_step = sft.make_train_step(graphdef, tx)
STEPS = 1 if FAST else 3  # fast mode compares one step; full mode three (each on its own batch)
p1, o1 = params, opt_state
for step in range(STEPS):
    p1, o1, m1 = train_step(p1, o1, *sft.batch_at(DATA, 0, step))
with jax.set_mesh(m):
    p8, o8 = state["params"], state["opt_state"]
    for step in range(STEPS):
        p8, o8, m8 = train_step(p8, o8, *mesh.rows(sft.batch_at(DATA, 0, step)))
    hlo = train_step.lower(p8, o8, *mesh.rows(batch)).compile().as_text()
print(f"loss after {STEPS} step(s): 1 device {float(m1['loss']):.7f}, 8 devices {float(m8['loss']):.7f}")
assert np.isclose(float(m1["loss"]), float(m8["loss"]), rtol=1e-6), "the same loss"
worst = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
            zip(jax.tree.leaves((p1, o1)), jax.tree.leaves((p8, o8))))
print(f"largest difference over all parameters and optimizer state: {worst:.1e}")
for a, b in zip(jax.tree.leaves((p1, o1)), jax.tree.leaves((p8, o8))):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
assert p8["blocks"][0]["attn"]["qkv"]["kernel"].sharding.spec == PartitionSpec("fsdp", None), "still split"
assert len(p1["blocks"][0]["attn"]["qkv"]["kernel"].devices()) == 1, "the first run used one device"

# %% [markdown]
# The compiled 8-device program shows the communication XLA added: `all-gather` (a layer's weight
# collected from the 4 `fsdp` devices before it is used) and `all-reduce` / `reduce-scatter`
# (gradients summed over devices, each keeping the slice of the weights it stores).

# %%
ops = ("all-gather", "all-reduce", "reduce-scatter")
counts = {op: hlo.count(f" {op}(") + hlo.count(f" {op}-start(") for op in ops}  # -start: the asynchronous form
print(counts)
assert counts["all-gather"] > 0 and counts["all-reduce"] + counts["reduce-scatter"] > 0, counts

# %% [markdown]
# ## 6. Saved on 8 devices, restored on 1
#
# A checkpoint does not remember where its arrays lived. Orbax (through the project's
# `Checkpointer`, tutorial 05) writes each array from its pieces, and a restore reads it into the
# placement of the `like` tree it is given: pass arrays on one device, get arrays on one device.
# So a run can stop on 8 GPUs and go on with 1, or the reverse.

# %%
print(inspect.getsource(Checkpointer.restore)[:600], "...")
ckpt = Checkpointer(RUN_ROOT / "eight")
ckpt.save(STEPS, dict(params=p8, opt_state=o8), dict(step=STEPS))
ckpt.close()

ckpt = Checkpointer(RUN_ROOT / "eight")
restored, meta = ckpt.restore(dict(params=params, opt_state=opt_state))  # `like`: the one-device state of section 3
ckpt.close()
leaves = jax.tree.leaves(restored)
print(f"restored step {meta['step']}: {len(leaves)} arrays, on {max(len(x.devices()) for x in leaves)} device at most")
assert meta["step"] == STEPS and all(len(x.devices()) == 1 for x in leaves), "every array on one device"
for a, b in zip(leaves, jax.tree.leaves(dict(params=p8, opt_state=o8))):
    assert np.array_equal(np.asarray(a), np.asarray(b)), "the same bits as the 8-device arrays"

# %% [markdown]
# ## 7. bfloat16 and the attention switch
#
# On accelerators the matrix products run fastest in bfloat16 (16 bits: float32's range, but only
# about 3 significant digits). `model.dtype = "bfloat16"` computes in it, while the parameters,
# the optimizer state, the logits and the losses stay float32. Same parameters, two compute
# types: the logits differ by bfloat16's rounding, not more.
#
# `model.attention` picks how attention is computed: `"naive"` writes out
# softmax(QK^T / sqrt(K)) V (tutorial 03), `"dot_product"` calls `jax.nn.dot_product_attention`,
# XLA's fused kernel (on NVIDIA GPUs `"cudnn"` asks it for cuDNN's flash attention). They must
# agree.
#
# To rebuild the model with another setting around the same parameters we need only its
# structure: `nnx.eval_shape` runs the constructor on shapes alone, allocating no weights.

# %%
tokens = jnp.asarray(batch[0][:, :-1])


def logits_with(**change):
    """Logits of our `params` in a model built with `change` to CFG (eval_shape: the structure, no new weights)."""
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: Transformer(dataclasses.replace(CFG, **change), nnx.Rngs(0))))
    return np.asarray(jax.jit(lambda p, t: nnx.merge(graphdef, p)(t)[0])(params, tokens))


naive, fused, bf16 = logits_with(), logits_with(attention="dot_product"), logits_with(dtype="bfloat16")
print(f"dot_product vs naive: largest difference {np.max(np.abs(fused - naive)):.1e}")
print(f"bfloat16 vs float32: largest difference {np.max(np.abs(bf16 - naive)):.1e} "
      f"(logits span {naive.min():.2f} to {naive.max():.2f}), logits dtype {bf16.dtype}")
np.testing.assert_allclose(fused, naive, rtol=1e-5, atol=1e-5)
assert bf16.dtype == np.float32 and 0 < np.max(np.abs(bf16 - naive)) < 0.1, "bfloat16: close, not equal"
assert (bf16.argmax(-1) == naive.argmax(-1)).mean() > 0.95, "nearly always the same top token"

# %% [markdown]
# ## 8. On real accelerators
#
# Everything above runs unchanged on GPUs or TPUs: `train.py` builds the mesh from the config's
# `[mesh]` section (`mesh.data`, `mesh.fsdp`; by default every device on `data`), places the
# state, and runs every step under `jax.set_mesh`. From the command line:
#
#     XLA_FLAGS=--xla_force_host_platform_device_count=8 python train.py configs/tiny.toml mesh.data=2 mesh.fsdp=4
#     python train.py configs/gpu/mix_sft.toml                # one GPU, or every GPU of the machine on data
#     python train.py configs/gpu/mix_sft.toml mesh.fsdp=8    # 8 GPUs, each storing an eighth of the model
#
# Several machines run the same command, joined by `jax.distributed.initialize()` (set
# `MINIREASON_DISTRIBUTED=1` under SLURM, Open MPI, Kubernetes or a TPU pod); the mesh then
# spans the devices of all of them. `docs/multi_device.md` has the launch commands, the
# measurements on simulated devices (including two processes as two hosts) and notes for TPUs.
#
# `configs/gpu/mix_sft.toml` is a GPU-sized recipe: a 54.6M-parameter model in bfloat16 with
# fused attention, on a harder mix of tasks. **It has not been run on a GPU**: none was at hand.
# `docs/multi_device.md` estimates about 20 minutes of GPU work on one H100, and about an hour
# in practice because the batches are built in Python on the host; those are estimates, not
# measurements. In a checkout of the repository we can at least count its parameters without
# allocating them (`nnx.eval_shape` again) and check that our 2 x 4 mesh could split it:

# %%
shipped = Path("../configs/gpu/mix_sft.toml")
if shipped.exists():  # the configs are in the repository, not in the installed package
    gpu = config_lib.load(str(shipped))
    shapes = nnx.eval_shape(lambda: Transformer(gpu.model, nnx.Rngs(0)))
    n = count_params(shapes)
    print(f"{shipped.name}: {n / 1e6:.1f}M parameters, {gpu.model.dtype}, attention {gpu.model.attention}")
    mesh.check(gpu, m)  # raises if the batch or the widths could not be split over 2 x 4
    assert round(n / 1e6, 1) == 54.6, n

# %% [markdown]
# ## Exercises
#
# 1. Make the mesh `data=8 x fsdp=1` and `data=1 x fsdp=8` (`mesh.make_mesh(8, 1)`, ...), place
#    the state and print the piece of the qkv kernel each device holds. How much of the model
#    does one device store in each case, and how many rows of a batch does it compute?
# 2. Count the `all-gather`s and `all-reduce`s of section 5's compiled step for those two meshes.
#    Which one moves weights, and which one only gradients? When is each the better choice?
# 3. Save a checkpoint on one device and restore it onto the 2 x 4 mesh: which `like` tree makes
#    `Checkpointer.restore` return split arrays? Check their `sharding.spec`.
# 4. Train 20 steps in bfloat16 and in float32 from the same start (tutorial 05's loop), and plot
#    both losses. How far apart do they end?
# 5. Run `python train.py configs/tiny.toml mesh.data=3` under the 8-device flag: what does the
#    error say, and why can a 3 x 1 mesh not exist on 8 devices?
#
# This is the last tutorial. For more, see `docs/multi_device.md` and the recipes in `configs/`.
