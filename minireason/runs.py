"""Reading a trained run back: runs/NAME/ -> its config, its model and its parameters.

A run directory holds `config.json` (the full config it was trained with) and Orbax checkpoints
(minireason/checkpoint.py). The config says which model to rebuild: a policy (the transformer)
or, for run.stage = "verifier", the learned verifier (transformer + scalar head). The model is
built abstractly (shapes only) and the parameters are restored into it: split over the mesh in
context, if one is set (minireason/mesh.py), else as numpy arrays.
"""

from pathlib import Path

import jax
from flax import nnx

from . import config as config_lib
from .checkpoint import Checkpointer
from .errors import UserError
from .mesh import abstract
from .model import Transformer
from .sft import make_optimizer
from .verifier import Verifier


def load_config(run_dir: str | Path) -> config_lib.Config:
    """The config a run was trained with (its config.json)."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run directory (no config.json); pass e.g. --checkpoint runs/add_sft")
    try:
        return config_lib.from_json(path.read_text())
    except (ValueError, UserError) as e:
        raise UserError(f"{path} is damaged: {e}") from None


def load_run(run_dir: str | Path, step: int | None = None):
    """(config, graphdef, params) of a trained run directory such as runs/add_sft (or a verifier run)."""
    cfg = load_config(run_dir)
    model_class = Verifier if cfg.run.stage == "verifier" else Transformer
    graphdef, params = nnx.split(nnx.eval_shape(lambda: model_class(cfg.model, nnx.Rngs(0))))
    tx = make_optimizer(cfg.optim, cfg.train.steps)  # only the optimizer state's structure matters here
    ckpt = Checkpointer(run_dir)
    try:
        state, _ = ckpt.restore(abstract(dict(params=params, opt_state=jax.eval_shape(tx.init, params))), step)
    finally:
        ckpt.close()
    return cfg, graphdef, state["params"]


def load_policy(run_dir: str | Path, name: str):
    """load_run for a run that must be a policy; `name` says where the user gave it (e.g. "--checkpoint")."""
    if load_config(run_dir).run.stage == "verifier":
        raise UserError(f"{name} {run_dir} is a verifier run, not a policy (an SFT or RL run)")
    return load_run(run_dir)
