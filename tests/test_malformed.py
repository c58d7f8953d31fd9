"""Malformed input, table by table: each is refused with one line on stderr (`error: ...`), exit
status 2, and the run it was aimed at stays as it was (eval.json, config.json, checkpoints)."""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minireason import cli, train

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.toml")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny run with checkpoints at steps 10 and 20."""
    out = tmp_path_factory.mktemp("malformed")
    train.main([TINY, f"run.out_dir={out}", "run.name=base", "train.steps=20"])
    return out / "base"


def snapshot(run_dir: Path) -> dict:
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and not p.name.startswith("events.")}


def one_line(rc: int, capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1, err
    assert err[0].startswith("error:"), err
    return err[0]


@pytest.mark.parametrize("override, words", [
    ("train.log_every=0", "train.log_every must be >= 1"),
    ("train.eval_every=0", "train.eval_every"),
    ("train.save_every=0", "train.save_every"),
    ("train.steps=-5", "train.steps"),
    ("train.steps=0", "train.steps"),
    ("train.steps=10", "past train.steps=10"),  # the run is at step 20: finishing would relabel it
    ("data.batch_size=-1", "data.batch_size"),
    ("data.batch_size=0", "data.batch_size"),
    ("data.tasks={add=nan}", "finite"),
    ("model.d_model=0", "model.d_model"),
    ("model.n_heads=3", "even head"),
    ("model.n_layers=0", "model.n_layers"),
    ("model.dtype=float8", "model.dtype"),
    ("model.d_model=48", "another shape"),  # the run's checkpoint holds d_model=32
    ("optim.lr=-1", "optim.lr"),
    ("optim.lr=nan", "finite"),
    ("optim.lr=inf", "finite"),
    ("optim.warmup_steps=-1", "optim.warmup_steps"),
    ("optim.b2=1.5", "optim.b2"),
    ("eval.n=0", "eval.n"),
    ("eval.max_new=0", "eval.max_new"),
    ("eval.batch_size=0", "eval.batch_size"),
    ("eval.temperature=-1", "eval.temperature"),
    ("eval.levels={compare=9}", "not in data.tasks"),
    ("eval.levels={add=99}", "1..6"),
    ("eval.levels={nope=1}", "nope"),
    ("rl.clip_low=-1", "rl.clip_low"),
])
def test_bad_config_value(base, override, words, capsys):
    before = snapshot(base)
    assert words in one_line(train.cli([TINY, f"run.out_dir={base.parent}", "run.name=base", override]), capsys)
    assert snapshot(base) == before


@pytest.mark.parametrize("content", [b"\xff\xfe[model]\n", bytes(range(256)) * 4, "dir", ""])
def test_bad_config_file(content, tmp_path, capsys):
    path = tmp_path / "c.toml"
    if content == "dir":
        path.mkdir()
    elif content == "":
        path = ""
    else:
        path.write_bytes(content)
    assert "config file" in one_line(train.cli([str(path)]), capsys)


@pytest.mark.parametrize("argv, words", [
    ("eval --task add --max-new -1", "--max-new"),
    ("eval --task add --n 0", "--n"),
    ("eval --task add --n -5", "--n"),
    ("eval --task add --temperature -1", "--temperature"),
    ("eval --task add --temperature nan", "--temperature"),
    ("sample --temperature -1 1+2=", "--temperature"),
    ("sample --temperature nan 1+2=", "--temperature"),
    ("sample --samples 0 1+2=", "--samples"),
    ("generate --input in.jsonl --output out.jsonl --samples 0", "--samples"),
    ("eval", "required"),
])
def test_bad_command_line(base, argv, words, capsys):
    before = snapshot(base)
    command, *rest = argv.split()
    assert words in one_line(cli.main([command, "--checkpoint", str(base), *rest]), capsys)
    assert snapshot(base) == before


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe{}\n", "UTF-8"),
    (bytes(range(256)) * 4, "UTF-8"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"prompt": "1+2=", "id": ' + b"9" * 5000 + b"}\n", "digits"),
    (b'{"prompt": "1+2="}\n{"prompt": 3}\n', "line 2"),
    ("dir", "could not be read"),
])
def test_bad_generate_input(base, content, words, tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.mkdir() if content == "dir" else src.write_bytes(content)
    out.write_text("previous results\n")
    rc = cli.main(["generate", "--checkpoint", str(base), "--input", str(src), "--output", str(out)])
    assert words in one_line(rc, capsys)
    assert out.read_text() == "previous results\n"


def test_plot_history_cut_short(base, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    lines = (base / "eval_history.jsonl").read_text().splitlines()
    run.mkdir()
    (run / "eval_history.jsonl").write_text("\n".join(lines) + "\n" + lines[-1][:20])  # the last write was cut
    assert cli.main(["plot", str(run), "--output", str(tmp_path / "a.png")]) == 0
    assert "note: skipped the last line" in capsys.readouterr().out
    (run / "eval_history.jsonl").write_text(lines[0][:20] + "\n" + "\n".join(lines) + "\n")  # a broken middle line
    assert "line 1" in one_line(cli.main(["plot", str(run), "--output", str(tmp_path / "b.png")]), capsys)


def flip_bits(run: Path) -> None:
    """Flip one bit in the middle of the largest data file of step 20: it still decompresses, to other numbers."""
    path = max(glob.glob(str(run / "checkpoints/20/state/ocdbt.process_0/d/*")), key=os.path.getsize)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 1
    Path(path).write_bytes(data)


def truncate(run: Path) -> None:
    path = max(glob.glob(str(run / "checkpoints/20/state/ocdbt.process_0/d/*")), key=os.path.getsize)
    os.truncate(path, 1000)


@pytest.mark.parametrize("damage, words", [
    (flip_bits, "checkpoints/20 is damaged (checksum mismatch); move that directory away to resume from step 10"),
    (truncate, "checkpoints/20 is damaged"),
    (lambda run: (run / "checkpoints/20/meta/metadata").write_text("{}"), "lacks the step"),
])
def test_damaged_checkpoint(base, damage, words, tmp_path, capsys):
    run = tmp_path / "base"
    shutil.copytree(base, run)
    damage(run)
    assert words in one_line(cli.main(["sample", "--checkpoint", str(run), "1+2="]), capsys)
    before = snapshot(run)
    assert words in one_line(train.cli([TINY, f"run.out_dir={tmp_path}", "run.name=base"]), capsys)
    assert snapshot(run) == before  # eval.json and the checkpoints are as they were


@pytest.mark.parametrize("content", [b"[]", b"{}", b"\xff", b'{"model": {"d_model": 0}}'])
def test_damaged_config_json(base, content, tmp_path, capsys):
    run = tmp_path / "base"
    shutil.copytree(base, run)
    (run / "config.json").write_bytes(content)
    words = "another shape" if content == b"{}" else "config.json is damaged"  # {}: the default model
    assert words in one_line(cli.main(["sample", "--checkpoint", str(run), "1+2="]), capsys)


def test_old_checkpoint_without_checksum_loads(base, tmp_path, capsys):
    run = tmp_path / "base"
    shutil.copytree(base, run)
    meta = run / "checkpoints/20/meta/metadata"
    meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "checksums"}))
    assert cli.main(["sample", "--checkpoint", str(run), "1+2="]) == 0


def test_failed_restore_is_one_line_in_a_real_process(base, tmp_path):
    """Orbax's failed reads echo "Event loop is closed" from other threads, until the process exits."""
    run = tmp_path / "base"
    shutil.copytree(base, run)
    (run / "checkpoints/20/state/manifest.ocdbt").unlink()
    r = subprocess.run([sys.executable, "-m", "minireason.cli", "sample", "--checkpoint", str(run), "1+2="],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1, r.stderr
    assert "checkpoints/20 is damaged" in lines[0], r.stderr
