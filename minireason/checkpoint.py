"""Orbax checkpoints under runs/NAME/checkpoints: model, optimizer state, step, RNG, data position.

Orbax writes each step to a temporary directory and renames it when complete, so a save that is
interrupted never touches the previous good checkpoint. We keep the last `keep_last` steps and
the best one by held-out accuracy. Restores go through an abstract target (shapes and dtypes
only), so nothing is allocated twice and a mismatched checkpoint fails loudly. The JSON meta
holds a sha256 of the saved arrays: a restore that reads different bytes (a flipped bit on disk)
is refused instead of sampling from NaN weights.
"""

import hashlib
import re
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from .errors import UserError


def _manager(directory: Path, keep_last: int = 2) -> ocp.CheckpointManager:
    keep = policies.AnyPreservationPolicy([
        policies.LatestN(n=keep_last),
        policies.BestN(get_metric_fn=lambda m: m["accuracy"], reverse=False, n=1, keep_checkpoints_without_metrics=False),
    ])
    options = ocp.CheckpointManagerOptions(preservation_policy=keep, create=True)
    return ocp.CheckpointManager(directory.absolute(), options=options, item_names=("state", "meta"))


def checksum(state) -> str | None:
    """sha256 over the bytes of every leaf, in tree order; None when arrays span hosts (no one host sees all)."""
    leaves = jax.tree.leaves(state)
    if not all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return None
    h = hashlib.sha256()
    for x in leaves:
        h.update(np.ascontiguousarray(jax.device_get(x)).tobytes())
    return h.hexdigest()


def _reason(e: BaseException) -> str:
    """The innermost cause of an Orbax/TensorStore error in one line, without its multi-kilobyte spec dump."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = (str(e).splitlines() or [""])[0]
    text = re.sub(r' in OCDBT database at local file "[^"]*"', "", text)
    text = re.split(r" See full TensorStore| \[tensorstore_spec|\. Truncating|\. Expected", text)[0]
    return f"{type(e).__name__}: {text[:200]}"


def _quiet_closed_loop(previous):
    """Orbax reads in an event loop that it closes as soon as one read fails. The reads still in flight
    then report "Event loop is closed" from TensorStore's threads, and their abandoned coroutines report
    again when collected, long after the failure itself was reported: drop those echoes."""
    def hook(unraisable):
        closed = isinstance(unraisable.exc_value, RuntimeError) and str(unraisable.exc_value) == "Event loop is closed"
        if not (closed or "orbax" in getattr(getattr(unraisable.object, "cr_code", None), "co_filename", "")):
            previous(unraisable)
    return hook


class Checkpointer:
    """Saves and restores {"params", "opt_state", "rng"} plus a JSON `meta`: step, data_position (ints), checksum."""

    def __init__(self, run_dir: str | Path, keep_last: int = 2):
        self.directory = Path(run_dir).absolute() / "checkpoints"
        self.manager = _manager(self.directory, keep_last)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict, meta: dict, metrics: dict | None = None) -> None:
        meta = dict(meta, checksum=checksum(state))
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        self.manager.save(step, args=args, metrics=metrics, force=True)

    def restore(self, like: dict, step: int | None = None) -> tuple[dict, dict]:
        """Restore into the structure of `like` (real or abstract arrays). Raises UserError."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise UserError(f"no checkpoint in {self.directory}: train one first (python train.py CONFIG.toml)")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        previous, sys.unraisablehook = sys.unraisablehook, _quiet_closed_loop(sys.unraisablehook)
        try:
            out = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                    meta=ocp.args.JsonRestore()))
        except Exception as e:  # Orbax raises many types; the user needs one clear line (the hook stays installed)
            if "stored shape" in _reason(e) or "Structure mismatch" in _reason(e):  # not damaged: another model
                raise UserError(f"checkpoint {self.directory / str(step)} holds a model of another shape "
                                f"({_reason(e)}); use the [model] settings it was trained with") from None
            raise self._damaged(step, f"could not be read: {_reason(e)}") from None
        sys.unraisablehook = previous
        state, meta = out["state"], out["meta"]
        if not (isinstance(meta, dict) and all(type(meta.get(k)) is int for k in ("step", "data_position"))):
            raise self._damaged(step, f"meta/metadata lacks step and data_position: {str(meta)[:100]}")
        if meta.get("checksum") not in (None, checksum(state)):  # checkpoints from before checksums load as they are
            raise self._damaged(step, "checksum mismatch")
        return state, meta

    def _damaged(self, step: int, why: str) -> UserError:
        earlier = [s for s in self.manager.all_steps() if s < step]
        fallback = f"to resume from step {max(earlier)}" if earlier else "(it is the only one) to start over"
        return UserError(f"checkpoint {self.directory / str(step)} is damaged ({why}); "
                         f"move that directory away {fallback}")

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def load_run(run_dir: str | Path, step: int | None = None):
    """(config, graphdef, params) of a trained run directory such as runs/add_sft (or a verifier run)."""
    from flax import nnx

    from . import config as config_lib
    from .model import Transformer
    from .sft import make_optimizer
    from .verifier import Verifier

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise UserError(f"{run_dir} is not a run directory (no config.json); pass e.g. --checkpoint runs/add_sft")
    try:
        cfg = config_lib.from_json((run_dir / "config.json").read_text())
    except (ValueError, UserError) as e:
        raise UserError(f"{run_dir / 'config.json'} is damaged: {e}") from None
    model_class = Verifier if cfg.run.stage == "verifier" else Transformer
    graphdef, params = nnx.split(nnx.eval_shape(lambda: model_class(cfg.model, nnx.Rngs(0))))
    tx = make_optimizer(cfg.optim, cfg.train.steps)
    like = dict(params=params, opt_state=jax.eval_shape(tx.init, params), rng=jax.ShapeDtypeStruct((2,), "uint32"))
    ckpt = Checkpointer(run_dir)
    try:
        state, meta = ckpt.restore(like, step)
    finally:
        ckpt.close()
    return cfg, graphdef, state["params"]
