import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests run from a checkout, installed or not

from minireason.model import ModelConfig  # noqa: E402  (after the platform is chosen)

TINY_MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=2, mlp_hidden=64)  # the model of configs/tiny.toml

TINY_LOGIC = ["run.name=tiny_logic", "data.tasks={logic=1}", "data.levels={logic=[1,1]}", "data.seq_len=32",
              "train.steps=60", "optim.lr=1e-2", "optim.warmup_steps=5"]


@pytest.fixture(scope="session")
def tiny_logic_policy(tmp_path_factory):
    """A tiny policy that writes well-formed T/F answers, some right and some wrong (about 10 s on a CPU)."""
    from minireason import train

    out = tmp_path_factory.mktemp("policy")
    train.main([str(ROOT / "configs" / "tiny.toml"), f"run.out_dir={out}", *TINY_LOGIC])
    return out / "tiny_logic"


@pytest.fixture(scope="session")
def tiny_verifier(tiny_logic_policy, tmp_path_factory):
    """(run_dir, argv): configs/tiny_verifier.toml trained on tiny_logic_policy's samples."""
    from minireason import train

    out = tmp_path_factory.mktemp("verifier")
    argv = [str(ROOT / "configs" / "tiny_verifier.toml"), f"run.out_dir={out}", f"verifier.policy={tiny_logic_policy}"]
    train.main(argv)
    return out / "tiny_verifier", argv
