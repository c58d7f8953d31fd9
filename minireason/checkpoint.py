"""Orbax checkpoints under runs/NAME/checkpoints: parameters, optimizer state and the step.

The step is all a resumed run needs besides the arrays: the data of step s (and the samples of
RL's step s) are a pure function of (seed, s), and the eval key is derived from the seed.
Orbax writes each step to a temporary directory and renames it when complete, so a save that is
interrupted never touches the previous good checkpoint. We keep the last `keep_last` steps and
the best one by held-out accuracy. Restores go through an abstract target (shapes and dtypes
only), so nothing is allocated twice and a mismatched checkpoint fails loudly. Reading a whole
run directory back (its config, model and parameters) is minireason/runs.py.
"""

from pathlib import Path

import jax
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


class Checkpointer:
    """Saves and restores {"params", "opt_state"} plus a JSON `meta` ({"step": ...})."""

    def __init__(self, run_dir: str | Path, keep_last: int = 2):
        self.directory = Path(run_dir).absolute() / "checkpoints"
        self.manager = _manager(self.directory, keep_last)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict, meta: dict, metrics: dict | None = None) -> None:
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
        try:
            out = self.manager.restore(step, args=ocp.args.Composite(state=state, meta=ocp.args.JsonRestore()))
        except Exception as e:  # Orbax raises many types; the user needs one clear line
            raise UserError(f"checkpoint {self.directory / str(step)} could not be read "
                                  f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); if it is damaged, "
                                  "move that step directory away to fall back to the previous one") from None
        return out["state"], out["meta"]

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()

