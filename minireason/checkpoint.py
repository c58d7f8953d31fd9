"""Orbax checkpoints under runs/NAME/checkpoints: parameters, optimizer state and the step.

The step is all a resumed run needs besides the arrays: the data of step s (and the samples of
RL's step s) are a pure function of (seed, s), and the eval key is derived from the seed.
Orbax writes each step to a temporary directory and renames it when complete, so a save that is
interrupted never touches the previous good checkpoint. We keep the last `keep_last` steps and
the best one by held-out accuracy. Restores go through an abstract target (shapes and dtypes
only), so nothing is allocated twice and a mismatched checkpoint fails loudly. The JSON meta
holds a sha256 of each saved part (parameters, optimizer state): a restore that reads different
bytes (a flipped bit on disk) is refused instead of sampling from NaN weights. Reading a whole
run directory back (its config, model and parameters) is minireason/runs.py.

On many devices (minireason/mesh.py) each array is saved from its pieces, and restored into the
placement of `like` (arrays, or ShapeDtypeStructs that carry a sharding), whatever placement it
was saved from: a run saved on 8 devices resumes on 1, and back.
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
        policies.BestN(get_metric_fn=lambda m: m["accuracy"], reverse=False, n=1,
                       keep_checkpoints_without_metrics=False),
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
    """Saves and restores {"params", "opt_state"} plus a JSON `meta`: {"step": ..., "checksums": {part: sha256}}."""

    def __init__(self, run_dir: str | Path, keep_last: int = 2):
        self.directory = Path(run_dir).absolute() / "checkpoints"
        self.manager = _manager(self.directory, keep_last)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict, meta: dict, metrics: dict | None = None) -> None:
        meta = dict(meta, checksums={part: checksum(tree) for part, tree in state.items()})
        args = ocp.args.Composite(state=ocp.args.PyTreeSave(state), meta=ocp.args.JsonSave(meta))
        self.manager.save(step, args=args, metrics=metrics, force=True)

    def restore(self, like: dict, step: int | None = None) -> tuple[dict, dict]:
        """Restore into the structure of `like` (real or abstract arrays). Raises UserError."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise UserError(f"no checkpoint in {self.directory}: train one first (python train.py CONFIG.toml)")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        # partial_restore: read what `like` names and skip the rest (older runs also saved an unused `rng`)
        state = ocp.args.PyTreeRestore(abstract, ocp.checkpoint_utils.construct_restore_args(abstract),
                                       partial_restore=True)
        previous, sys.unraisablehook = sys.unraisablehook, _quiet_closed_loop(sys.unraisablehook)
        try:
            out = self.manager.restore(step, args=ocp.args.Composite(state=state, meta=ocp.args.JsonRestore()))
        except Exception as e:  # Orbax raises many types; the user needs one clear line (the hook stays installed)
            if "stored shape" in _reason(e) or "Structure mismatch" in _reason(e):  # not damaged: another model
                raise UserError(f"checkpoint {self.directory / str(step)} holds a model of another shape "
                                f"({_reason(e)}); use the [model] settings it was trained with") from None
            raise self._damaged(step, f"could not be read: {_reason(e)}") from None
        sys.unraisablehook = previous
        state, meta = out["state"], out["meta"]
        shapes = [(x.shape, y.shape) for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(abstract))]
        if any(got != want for got, want in shapes):  # a partial restore reads what is stored, whatever `like` says
            got, want = next(pair for pair in shapes if pair[0] != pair[1])
            raise UserError(f"checkpoint {self.directory / str(step)} holds a model of another shape (an array of "
                            f"{got} where this config has {want}); use the [model] settings it was trained with")
        if not (isinstance(meta, dict) and type(meta.get("step")) is int):
            raise self._damaged(step, f"meta/metadata lacks the step: {str(meta)[:100]}")
        saved = meta.get("checksums") or {}  # checkpoints from before checksums load as they are
        for part, tree in state.items():
            got = checksum(tree)  # None, like a save's, where arrays span hosts: nothing to compare
            if saved.get(part) and got and saved[part] != got:
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

