"""Many devices with JAX's own engine: a mesh of devices, parameters split as model.py annotates
them, batches split by rows.

The devices form a grid with named axes, the mesh (`jax.make_mesh`), here of two axes:

    data x fsdp      e.g. 8 GPUs as 2 x 4; the default puts every device on data

- Rows of each batch are split over all data x fsdp devices: each device computes the loss and
  gradients of its own rows, and the gradients are summed across devices (data parallelism).
- Each weight, and its two Adam moments, is split over the fsdp devices along the dimension its
  annotation names (`_sharded` in model.py), so a device stores 1/fsdp of the model: a layer's
  weight is gathered when the layer runs and its gradient scattered back (fully sharded data
  parallelism, FSDP, the ZeRO-3 of Rajbhandari et al. 2020, arXiv:1910.02054). With fsdp = 1
  every device holds a full copy.

Nothing here is hand-written parallel code. We only say where each input of a jitted step lives
(a `NamedSharding`: the mesh, and for each dimension the mesh axes it is split over, a
`PartitionSpec`), and XLA's partitioner compiles the same step into one program per device,
adding the gathers and sums it needs. The axes are `Auto`: the compiler places the values
inside a step itself, so the model code does not change.

train.py makes the mesh and runs under `jax.set_mesh(mesh)`. While a mesh is set, `rows` puts a
batch on it, and `pin` keeps a step's new parameters and optimizer state on their annotated
split (left to itself the compiler may choose another split for a step's outputs, and the next
call would compile again). Without a mesh (the tests, the tutorials) both change nothing.

Several hosts: `initialize` joins them (docs/multi_device.md has the launch commands) and the
mesh spans the devices of all of them. Every host computes the same batch (a pure function of
seed and step) and copies only its own rows to its devices; what a host needs whole (sampled
completions, to score them) `to_host` gathers from all. Orbax (checkpoint.py) saves the split
arrays as they are and restores them into the split the restoring run asks for, so a run saved
on 8 devices resumes on 1, and back.
"""

import os

import jax
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from .errors import UserError

AXES = ("data", "fsdp")


def initialize() -> None:
    """Join the other hosts of a multi-host run; call it before anything else asks JAX about devices.

    MINIREASON_DISTRIBUTED=1 lets JAX find them (Cloud TPU pods, SLURM, Open MPI, Kubernetes). By
    hand, on each host: JAX_COORDINATOR_ADDRESS=HOST:PORT MINIREASON_NUM_PROCESSES=N MINIREASON_PROCESS_ID=I.
    """
    if jax.distributed.is_initialized():
        return
    if os.environ.get("MINIREASON_DISTRIBUTED") == "1":
        jax.distributed.initialize()
    elif "MINIREASON_NUM_PROCESSES" in os.environ:
        jax.distributed.initialize(num_processes=int(os.environ["MINIREASON_NUM_PROCESSES"]),
                                   process_id=int(os.environ.get("MINIREASON_PROCESS_ID", "0")))


def cpu_devices(n: int) -> None:
    """Make the CPU show JAX `n` devices (0: leave it as XLA_FLAGS says); before anything asks JAX for devices.

    A CPU is one device to JAX; XLA spreads each operation over the cores, which for a small
    model's small matrices leaves a core idle much of the time. As several devices, each computes
    its share of the rows on its own (the same data parallelism as on several GPUs).
    """
    if n == 0 or jax.config.jax_num_cpu_devices == n:
        return
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # JAX has started in this process (a test, a notebook): its devices are fixed now
        have = len(jax.devices("cpu"))
        if have != n:
            raise UserError(f"mesh.cpu_devices={n}, but JAX already started here with {have} CPU device(s): run "
                            f"train.py in a new process, or leave mesh.cpu_devices=0") from None


def make_mesh(data: int, fsdp: int) -> Mesh:
    """The data x fsdp mesh over every device of every host; -1 on one axis takes the devices the other leaves."""
    n = jax.device_count()
    data = n // fsdp if data == -1 else data
    fsdp = n // data if fsdp == -1 else fsdp
    if data * fsdp != n:
        raise UserError(f"mesh.data x mesh.fsdp must come to the {n} devices there are ({jax.default_backend()}), got "
                        f"{data} x {fsdp}; e.g. mesh.data=-1 mesh.fsdp=1 (to use fewer GPUs, set CUDA_VISIBLE_DEVICES)")
    return jax.make_mesh((data, fsdp), AXES, axis_types=(AxisType.Auto,) * len(AXES))


def check(cfg, mesh: Mesh) -> None:
    """Raise UserError, naming the key to change, for a config whose arrays cannot be split over `mesh`."""
    n, fsdp = mesh.size, mesh.shape["fsdp"]
    if cfg.run.stage == "rl":
        key, batch = "rl.prompts_per_step x rl.group_size", cfg.rl.prompts_per_step * cfg.rl.group_size
    else:
        key, batch = "data.batch_size", cfg.data.batch_size
    if batch % n:
        raise UserError(f"{key} ({batch}) must be a multiple of the {n} devices of the mesh (each takes as many rows); "
                        f"e.g. {-(-batch // n) * n}")
    for key, width in (("model.d_model", cfg.model.d_model), ("model.mlp_hidden", cfg.model.mlp_hidden)):
        if width % fsdp:
            raise UserError(f"{key} ({width}) must be a multiple of mesh.fsdp ({fsdp}): the weights are split along it")
    if cfg.model.attention == "cudnn" and jax.default_backend() != "gpu":
        raise UserError(f'model.attention="cudnn" needs an NVIDIA GPU (this is {jax.default_backend()}); '
                        'use model.attention="dot_product"')


def describe(mesh: Mesh) -> str:
    """E.g. "8 x cpu on 1 host; mesh data=2 x fsdp=4"."""
    hosts = jax.process_count()
    return (f"{mesh.size} x {mesh.devices.flat[0].device_kind} on {hosts} host{'s' if hosts > 1 else ''}; "
            f"mesh data={mesh.shape['data']} x fsdp={mesh.shape['fsdp']}")


def _put(x, sharding: NamedSharding) -> jax.Array:
    """`x` (the same whole array on every host) split as `sharding` says; each host copies in its devices' pieces."""
    if isinstance(x, jax.Array) and x.sharding == sharding:  # already there (e.g. restored onto this mesh)
        return x
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def place(tree, mesh: Mesh):
    """Parameters or optimizer state on `mesh`, each array split as annotated (not annotated: a copy on each device)."""
    return jax.tree.map(_put, tree, nnx.get_named_sharding(tree, mesh))


def rows(tree):
    """Batch arrays split by rows (their first axis) over every device of the mesh in context; unchanged without one."""
    mesh = jax.sharding.get_mesh()
    if mesh.empty:
        return tree
    sharding = NamedSharding(mesh, PartitionSpec(AXES))
    return jax.tree.map(lambda x: _put(x, sharding), tree)


def row_multiple() -> int:
    """How many devices share a batch's rows: batches are padded to a multiple of it."""
    mesh = jax.sharding.get_mesh()
    return 1 if mesh.empty else mesh.size


def pin(tree):
    """Inside a jitted step: `tree` (new parameters, optimizer state) kept on its annotated split, if a mesh is set."""
    if jax.sharding.get_abstract_mesh().empty:
        return tree
    return jax.lax.with_sharding_constraint(tree, nnx.get_partition_spec(tree))


def by_rows(x_BTD):
    """Inside a jitted model: activations split by rows over the mesh in context, if one is set.

    Without it the compiler may split activations the way fsdp splits a weight, and move them
    between devices at every layer; with it, it gathers the weight instead (FSDP).
    """
    if jax.sharding.get_abstract_mesh().empty:
        return x_BTD
    return jax.lax.with_sharding_constraint(x_BTD, PartitionSpec(AXES))


def abstract(tree):
    """Shapes and dtypes of `tree` for a restore, split as annotated over the mesh in context (if one is set)."""
    mesh = jax.sharding.get_mesh()
    if mesh.empty:  # restored as numpy arrays, which jit copies to the default device
        return tree
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree,
                        nnx.get_named_sharding(tree, mesh))


def to_host(tree):
    """numpy copies of `tree` on this host; arrays split over several hosts are gathered from all of them."""
    def get(x):
        return np.asarray(x) if x.is_fully_addressable else multihost_utils.process_allgather(x, tiled=True)
    return jax.tree.map(get, tree)
