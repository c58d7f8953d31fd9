"""End-to-end: train.py on the tiny config, resuming, the CLI, and one-line errors."""

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from minireason import cli, train
from minireason.bench import table_peak
from minireason.config import load
from minireason.model import Transformer, count_params
from minireason.runs import load_run

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.toml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    report = train.main([TINY, f"run.out_dir={out}"])
    assert 0.0 <= report["accuracy"] <= 1.0
    return out / "tiny"


def test_train_writes_the_run_directory(run_dir):
    assert (run_dir / "config.json").is_file()
    report = json.loads((run_dir / "eval.json").read_text())
    assert report["step"] == 20
    assert "add" in report["tasks"]
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == ["10", "20"]


def test_resume_after_interruption_matches_uninterrupted(run_dir, tmp_path):
    """Delete the last checkpoint (as if the run died after step 10) and re-run the same command."""
    copy = tmp_path / "tiny"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "checkpoints" / "20")
    train.main([TINY, f"run.out_dir={tmp_path}"])
    history = [json.loads(line)["step"] for line in (copy / "eval_history.jsonl").read_text().splitlines()]
    assert history == [10, 20]  # step 20 was evaluated again: its line is replaced, not repeated
    _, _, resumed = load_run(copy)
    _, _, straight = load_run(run_dir)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_rl_from_sft_saves_resumes_and_continues_identically(run_dir, tmp_path):
    """The RL config has no [model]: the model is the one of the run it starts from."""
    config = tmp_path / "rl.toml"
    config.write_text("[data]" + Path(TINY).read_text().split("[data]", 1)[1])  # tiny.toml without its [model]
    assert "[model]" not in config.read_text()
    args = [str(config), f"run.out_dir={tmp_path}", "run.name=rl", "run.stage=rl", f"run.init_from={run_dir}",
            "train.steps=4", "train.log_every=1", "train.eval_every=2", "train.save_every=2", "rl.group_size=4",
            "rl.prompts_per_step=2", "rl.max_new=12", "rl.kl_beta=0.01", "rl.dynamic_sampling=true", "eval.samples=2"]
    report = train.main(args)
    assert {"pass@1", "pass@2"} <= report["tasks"]["add"].keys()
    history = [json.loads(line) for line in (tmp_path / "rl" / "eval_history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [0, 2, 4]
    png = tmp_path / "curve.png"
    assert cli.main(["plot", str(tmp_path / "rl"), "--output", str(png), "--metric", "pass@2", "--log-x"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _, _, straight = load_run(tmp_path / "rl")
    shutil.rmtree(tmp_path / "rl" / "checkpoints" / "4")
    train.main(args)
    history = [json.loads(line)["step"] for line in (tmp_path / "rl" / "eval_history.jsonl").read_text().splitlines()]
    assert history == [0, 2, 4]
    _, _, resumed = load_run(tmp_path / "rl")
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_generate_sample_eval(run_dir, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "1+2=", "id": 1}\n{"prompt": "3+4="}\n')
    out = tmp_path / "out.jsonl"
    assert cli.main(["generate", "--checkpoint", str(run_dir), "--input", str(src), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["id"] == 1
    assert isinstance(rows[0]["thinking_tokens"], int)
    assert {"thinking", "answer", "thinking_tokens", "answer_tokens"} <= rows[1].keys()
    assert cli.main(["generate", "--checkpoint", str(run_dir), "--input", str(src), "--output", str(out), "--samples", "3"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows[0]["answer"]) == 3
    assert len(rows[0]["thinking_tokens"]) == 3

    assert cli.main(["sample", "--checkpoint", str(run_dir), "1+2="]) == 0
    out = capsys.readouterr()
    assert "thinking:" in out.out and "note:" not in out.err
    assert cli.main(["sample", "--checkpoint", str(run_dir), "1 + 2 ="]) == 0  # spaces its add prompts never have
    out = capsys.readouterr()
    assert "never hold ' '" in out.err and "thinking:" in out.out
    assert cli.main(["eval", "--checkpoint", str(run_dir), "--task", "add", "--n", "8"]) == 0
    result = json.loads((run_dir / "eval_add_level1.json").read_text())
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["n"] == 8


def test_eval_reports_every_level(run_dir, tmp_path, capsys):
    report = json.loads((run_dir / "eval.json").read_text())
    assert list(report["tasks"]["add"]["levels"]) == ["1"]  # the tiny config trains add at level 1 only
    out = tmp_path / "levels.json"
    assert cli.main(["eval", "--checkpoint", str(run_dir), "--task", "add", "--level", "all", "--n", "4",
                     "--output", str(out)]) == 0
    levels = json.loads(out.read_text())["levels"]
    assert list(levels) == ["1", "2", "3", "4", "5", "6"]
    assert all(m["n"] == 4 for m in levels.values())
    assert all(0.0 <= m["accuracy"] <= 1.0 for m in levels.values())
    table = capsys.readouterr().out
    assert all(f"\n{level:>5}  " in table for level in range(1, 7))
    png = tmp_path / "levels.png"
    assert cli.main(["plot", str(out), "--output", str(png)]) == 0  # accuracy against level
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_scores_your_own_prompts(run_dir, tmp_path, capsys):
    prompts = tmp_path / "mine.txt"
    prompts.write_text("1+2=\n\n3+4=\n9+9=\n")
    out = tmp_path / "mine.json"
    assert cli.main(["eval", "--checkpoint", str(run_dir), "--task", "add", "--prompts", str(prompts),
                     "--output", str(out)]) == 0
    r = json.loads(out.read_text())
    assert [s["prompt"] for s in r["samples"]] == ["1+2=", "3+4=", "9+9="]  # blank lines skipped
    assert r["accuracy"] == sum(s["right"] for s in r["samples"]) / 3
    assert f"of 3 prompts from {prompts}" in capsys.readouterr().out
    prompts.write_text("1+2=\n1+\u00e9=\n")
    assert cli.main(["eval", "--checkpoint", str(run_dir), "--task", "add", "--prompts", str(prompts)]) == 2
    assert "line 2" in capsys.readouterr().err


def test_tasks_lists_every_task(capsys):
    from minireason.tasks import TASKS

    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}  levels" in out for name in TASKS)


def test_bench_reports_mfu_and_takes_its_options_and_overrides(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--config", TINY, "--rl-config", "", "--repeats", "1", "--new-tokens", "4",
                     "--batch", "2", "--out", str(out), "model.d_model=48"]) == 0
    r = json.loads(out.read_text())
    assert r["peak_from"].startswith("measured") and 0 < r["mfu"] < 1  # a CPU: its peak is a measured matmul
    assert r["train_tflops"] == pytest.approx(r["mfu"] * r["peak_tflops"], rel=0.01)
    d_model_48 = count_params(Transformer(dataclasses.replace(load(TINY).model, d_model=48), nnx.Rngs(0)))
    assert r["params"] == d_model_48  # the override reached the model
    assert "bench.json" in capsys.readouterr().out
    assert "model.bogus" in one_line_error("benchmarks/bench.py", "--config", TINY, "model.bogus=1")


def test_accelerator_peaks_come_from_the_table():
    assert table_peak("NVIDIA H100 80GB HBM3", "bfloat16") == (989.4, "data sheet: H100 bfloat16")
    assert table_peak("NVIDIA H100 PCIe", "bfloat16")[0] == 756.0  # not the SXM part's
    assert table_peak("TPU v5 lite", "bfloat16")[0] == 197.0 and table_peak("TPU v5p", "bfloat16")[0] == 459.0
    assert table_peak("TPU v4", "float32")[0] is None
    assert table_peak("Some New Chip", "bfloat16") == (None, "not in PEAK_TFLOPS: Some New Chip")


def one_line_error(*args):
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize("override, words", [
    ("train.stpes=3", "train.steps"),  # the close match is suggested
    ("train.steps=lots", "must be int"),
    ("data.tasks={addd=1}", "add"),
    ("data.train_buckets=[0,9]", "bucket 0 is the held-out split"),
    ("run.stage=rl rl.advantage=ppo", "rl.advantage must be one of"),
    ("run.stage=rl run.init_from=nowhere", "not a run directory"),
])
def test_bad_config_is_one_line(override, words, tmp_path):
    assert words in one_line_error("train.py", TINY, f"run.out_dir={tmp_path}", *override.split())


def test_bad_checkpoint_and_prompt_are_one_line(run_dir, tmp_path):
    assert "vocabulary" in one_line_error("-m", "minireason.cli", "sample", "--checkpoint", str(run_dir), "1+2=\u00e9")
    assert "not a run directory" in one_line_error("-m", "minireason.cli", "sample", "--checkpoint", str(tmp_path), "1+2=")
    assert "unknown task" in one_line_error("-m", "minireason.cli", "eval", "--checkpoint", str(run_dir), "--task", "nope")
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    for f in (broken / "checkpoints" / "20" / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(b"garbage")
    assert "could not be read" in one_line_error("-m", "minireason.cli", "sample", "--checkpoint", str(broken), "1+2=")
    assert "d_model=32 there but 48 here" in one_line_error("train.py", TINY, f"run.out_dir={tmp_path}", "run.stage=rl",
                                                           f"run.init_from={run_dir}", "model.d_model=48")


def test_nan_loss_is_one_line_and_keeps_the_last_good_checkpoint(run_dir, tmp_path):
    shutil.copytree(run_dir, tmp_path / "tiny")
    err = one_line_error("train.py", TINY, f"run.out_dir={tmp_path}", "train.steps=40", "optim.lr=1e30")
    assert "loss became nan" in err
    assert "optim.warmup_steps" in err  # what to change: resuming alone would diverge the same way
    ckpts = sorted(p.name for p in (tmp_path / "tiny" / "checkpoints").iterdir() if p.name.isdigit())
    assert ckpts == ["10", "20"]
    load_run(tmp_path / "tiny")  # still restores
