"""Datasets out and in (`minireason data export`, JSONL files as tasks), tasks from your own Python
file, and the cost figures of eval and generate (tokens, latency, tokens per second)."""

import json
import random
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from minireason import cli, train
from minireason.config import DataConfig, load
from minireason.errors import UserError
from minireason.sampler import _timed
from minireason.sft import batch_at, check_seq_len, packed_batch_at
from minireason.tasks import TASKS, draw, get_task, heldout_examples, training_draws, training_examples
from minireason.tokenizer import decode

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.toml")
PARITY = f"{ROOT / 'docs' / 'my_tasks.py'}:parity"


def export(out: Path, *args) -> Path:
    assert cli.main(["data", "export", *args, "--output", str(out)]) == 0
    return out


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the built-in tasks are untouched -----------------------------------------------------------

def test_builtin_draws_are_the_registry_stream_of_before():
    """training_examples as it was written before file tasks existed (TASKS looked up by name), against today's."""
    def before(tasks, levels, rng, n, buckets=(1, 9), level_weights={}):
        names = list(tasks)
        picks = rng.choices(names, weights=[tasks[k] for k in names], k=n)
        out = []
        for name in picks:
            t = TASKS[name]
            lo, hi = levels.get(name, (t.min_level, t.max_level))
            weights = level_weights.get(name)
            level = rng.choices(range(lo, hi + 1), weights)[0] if weights else rng.randint(lo, hi)
            out.append((name, draw(t, rng, level, heldout=False, buckets=buckets)))
        return out

    mix, levels, weights = {n: 1.0 for n in TASKS}, {"countdown": (2, 3), "mul": (1, 2)}, {"mul": (1.0, 3.0)}
    assert training_examples(mix, levels, random.Random(5), 300, (2, 8), weights) == \
        before(mix, levels, random.Random(5), 300, (2, 8), weights)
    data = DataConfig(tasks={"add": 1.0, "logic": 2.0}, levels={"add": (1, 3)}, batch_size=8, seq_len=64)
    a, b = batch_at(data, 3, 11), batch_at(data, 3, 11)  # and the batches built from them are deterministic
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    rng = random.Random("heldout/add/2/1234")  # the held-out set: the first distinct prompts of its seeded stream
    first = list(dict.fromkeys(draw(TASKS["add"], rng, 2, heldout=True) for _ in range(200)))[:30]
    assert heldout_examples("add", 2, 30) == first


# --- export -------------------------------------------------------------------------------------

def test_export_writes_the_training_stream_and_the_heldout_set(tmp_path):
    lines = rows(export(tmp_path / "train.jsonl", "--task", "add", "--n", "200", "--seed", "3"))
    drawn = training_draws({"add": 1.0}, {"add": (1, 6)}, random.Random(3), 200)
    assert [(r["task"], r["level"], r["prompt"], r["thinking"], r["answer"]) for r in lines] == \
        [(name, level, ex.prompt, ex.thinking, ex.answer) for name, level, ex in drawn]
    assert {r["level"] for r in lines} == set(range(1, 7))
    held = rows(export(tmp_path / "held.jsonl", "--task", "equation", "--level", "2", "--n", "40", "--split", "heldout"))
    assert [r["prompt"] for r in held] == [ex.prompt for ex in heldout_examples("equation", 2, 40)]
    assert {r["level"] for r in held} == {2}


def test_exported_file_trains_on_the_same_split_and_evaluates_on_the_same_problems(tmp_path):
    """train + heldout lines in one file: the file task holds out exactly the exported held-out problems."""
    both = tmp_path / "add.jsonl"
    train_part = export(tmp_path / "train.jsonl", "--task", "add", "--level", "2", "--n", "500")
    held_part = export(tmp_path / "held.jsonl", "--task", "add", "--level", "2", "--n", "30", "--split", "heldout")
    both.write_text(held_part.read_text() + train_part.read_text())  # the split is by hash, not by position
    task = get_task(str(both))
    assert (task.min_level, task.max_level) == (2, 2)
    assert heldout_examples(str(both), 2, 30) == heldout_examples("add", 2, 30)
    trained = {ex.prompt for _, ex in training_examples({str(both): 1.0}, {}, random.Random(0), 400)}
    assert trained <= {r["prompt"] for r in rows(train_part)}
    assert not any(TASKS["add"].is_heldout(p) for p in trained)
    ex = heldout_examples(str(both), 2, 1)[0]
    assert task.score(ex.prompt, f" {ex.answer} ") == 1.0 and task.score(ex.prompt, ex.answer + "0") == 0.0
    assert task.score("999+999=", "1998") == 0.0  # a prompt the file does not hold (level 2: up to 2 digits)


def test_a_line_that_names_a_builtin_task_is_scored_by_it_and_other_lines_by_exact_match(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"prompt": "make 24 from 3 8 1", "thinking": "", "answer": "3*8*1", "task": "countdown"}\n'
                    '{"prompt": "capital of France?", "answer": "Paris", "task": "trivia", "level": 2}\n')
    task = get_task(str(path))
    assert task.score("make 24 from 3 8 1", "8*3/1") == 1.0  # another right expression: countdown's scorer
    assert task.score("capital of France?", "Paris") == 1.0
    assert task.score("capital of France?", "paris") == 0.0
    assert (task.min_level, task.max_level) == (1, 2)


def test_a_file_without_thinking_trains_the_no_think_format(tmp_path):
    path = tmp_path / "direct.jsonl"
    prompts = [f"{a}+{b}=" for a in range(10) for b in range(10)]
    path.write_text("".join(json.dumps({"prompt": p, "answer": str(plain_sum(p))}) + "\n" for p in prompts))
    data = DataConfig(tasks={str(path): 1.0}, batch_size=6, seq_len=24)
    for tokens in (batch_at(data, 0, 0)[0], packed_batch_at(data, 0, 0)[0]):
        for row in tokens:
            text = decode(row)
            if text:
                assert "<think></think>" in text, text
                prompt = text.split("<bos>")[1].split("<think>")[0]
                assert prompt in prompts and zlib.crc32(prompt.encode()) % 10 != 0  # its own prompt-hash split


def plain_sum(prompt: str) -> int:
    a, b = prompt[:-1].split("+")
    return int(a) + int(b)


@pytest.mark.parametrize("content, words", [
    ('{"prompt": "1+2=", "answer": "3"}\n{"prompt": "1+3=", "answer": "4"\n', "line 2 is not valid JSON"),
    ('["1+2=", "3"]\n', "line 1 must be a JSON object"),
    ('{"prompt": "1+2="}\n', 'line 1 needs a non-empty string field "answer"'),
    ('\n{"answer": "3"}\n', 'line 2 needs a non-empty string field "prompt"'),
    ('{"prompt": "1+2=", "answer": "3", "level": 0}\n', 'line 1: "level" must be an integer >= 1'),
    ('{"prompt": "1+2=", "answer": "3", "level": "2"}\n', '"level" must be an integer'),
    ('{"prompt": "1+2=", "answer": "3", "thinking": 7}\n', '"thinking" must be a string'),
    ('{"prompt": "caf\\u00e9?", "answer": "3"}\n', "line 1, \"prompt\": character '\u00e9'"),
    ('{"prompt": "1+2=", "answer": "3", "thinking": "a\\tb"}\n', "character '\\t'"),
    ('{"prompt": "1+2=", "answer": "4", "task": "add"}\n', "add's scorer rejects the answer '4'"),
    ("\n\n", "holds no examples"),
])
def test_a_malformed_line_is_one_error_naming_the_line(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=None) as e:
        get_task(str(path))
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_files_in_the_config_and_their_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths are relative to the directory you run from
    Path("sub").mkdir()
    parts = [export(Path(f"{level}.jsonl"), "--task", "logic", "--level", str(level), "--n", "50") for level in (1, 3)]
    Path("sub/logic.jsonl").write_text("".join(part.read_text() for part in parts))
    cfg = load(None, ['data.tasks={"sub/logic.jsonl"=2,add=1}', 'data.levels={"sub/logic.jsonl"=[3,3]}'])
    assert cfg.data.tasks == {"sub/logic.jsonl": 2.0, "add": 1.0}
    with pytest.raises(UserError, match="no training line at level 2"):
        training_examples({"sub/logic.jsonl": 1.0}, {"sub/logic.jsonl": (2, 2)}, random.Random(0), 5)
    for override, words in [('data.tasks={"sub/logik.jsonl"=1}', "task file 'sub/logik.jsonl' could not be read"),
                            ('data.levels={"sub/logic.jsonl"=[1,4]}', "1 <= low <= high <= 3"),
                            ('data.tasks={"sub/logic.jsonl"=1}', "nothing to evaluate")]:  # only training lines
        with pytest.raises(UserError, match=words):
            load(None, [override])
    cfg = load(None, ['data.tasks={"sub/logic.jsonl"=1,logic=0}'])  # evaluate on the built-in task beside it
    from minireason.evaluate import eval_levels
    assert eval_levels(cfg) == {"logic": list(range(1, TASKS["logic"].max_level + 1))}


def test_export_takes_a_range_of_levels(tmp_path, capsys):
    lines = rows(export(tmp_path / "a.jsonl", "--task", "add", "--level", "2-3", "--n", "60"))
    assert {r["level"] for r in lines} == {2, 3}
    for bad in ("3-2", "0-2", "2-9", "x"):
        assert cli.main(["data", "export", "--task", "add", "--level", bad, "--n", "5",
                         "--output", str(tmp_path / "b.jsonl")]) == 2
        assert "--level for 'add' must be a level or a range" in capsys.readouterr().err


def test_keep_writes_only_the_right_samples_and_the_shortest_per_prompt(tmp_path, capsys):
    """Rejection sampling on a file shaped as `minireason generate --samples K` writes it (no model needed)."""
    samples = tmp_path / "samples.jsonl"
    lines = [dict(prompt="12+5=", task="add", level=2, thinking=["2+5+0=07 7,1+0+0=01 17", "x", "wrong", "x"],
                  answer=["17", "17", "18", "17"]),
             dict(prompt="make 6 from 2 3", task="countdown", level=2, thinking=["2*3=6 vs 6 ok"], answer=["2*3"]),
             dict(prompt="7+1=", task="add", thinking="7+1+0=08 8", answer="9")]  # --samples 1: strings
    samples.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert cli.main(["data", "keep", "--input", str(samples), "--output", str(tmp_path / "all.jsonl")]) == 0
    kept = rows(tmp_path / "all.jsonl")
    assert [(r["prompt"], r["thinking"], r["answer"], r["level"]) for r in kept] == [
        ("12+5=", "2+5+0=07 7,1+0+0=01 17", "17", 2), ("12+5=", "x", "17", 2),
        ("make 6 from 2 3", "2*3=6 vs 6 ok", "2*3", 2)]
    assert "kept 3 distinct right completions of 6 samples (2 prompts" in capsys.readouterr().out
    assert cli.main(["data", "keep", "--input", str(samples), "--output", str(tmp_path / "short.jsonl"),
                     "--shortest"]) == 0
    assert [r["thinking"] for r in rows(tmp_path / "short.jsonl")] == ["x", "2*3=6 vs 6 ok"]
    # the kept file trains like any exported one, and fits the flywheel's student recipe
    assert get_task(str(tmp_path / "all.jsonl")).max_level == 2
    student = load(str(ROOT / "configs" / "flywheel" / "add_student.toml"),
                   [f'data.tasks={{"{tmp_path / "all.jsonl"}"=1,add=0}}'])
    check_seq_len(student.data, max_skipped=0.001)
    samples.write_text(json.dumps(dict(prompt="1+1=", thinking="", answer="2")) + "\n")
    assert cli.main(["data", "keep", "--input", str(samples), "--output", str(tmp_path / "x.jsonl")]) == 2
    assert "line 1 needs a string \"prompt\" and a \"task\" (or give --task)" in capsys.readouterr().err
    assert cli.main(["data", "keep", "--input", str(samples), "--output", str(tmp_path / "x.jsonl"),
                     "--task", "add"]) == 0


# --- your own task ------------------------------------------------------------------------------

def test_the_docs_example_task_loads_with_its_checks():
    task = get_task(PARITY)
    assert (task.name, task.min_level, task.max_level) == (PARITY, 1, 3)
    ex = heldout_examples(PARITY, 2, 5)[0]
    assert task.is_heldout(ex.prompt) and task.score(ex.prompt, ex.answer) == 1.0
    assert task.score(ex.prompt, "1" if ex.answer == "0" else "0") == 0.0
    assert load(None, [f'data.tasks={{"{PARITY}"=1}}']).data.tasks == {PARITY: 1.0}


GOOD = ("def generate(rng, level):\n    a = rng.randint(0, 10 ** (level + 1))\n"
        "    return f'{a}?', '', str(a)\n"
        "def score(prompt, answer):\n    return float(prompt[:-1] == answer.strip())\n")


@pytest.mark.parametrize("source, spec, words", [
    (GOOD, "t.py", None),
    (f"class echo:\n    max_level = 2\n{textwrap.indent(GOOD, '    ')}", "t.py:echo", None),
    (f"class echo:\n{textwrap.indent(GOOD, '    ')}", "t.py:ecko", "has no task 'ecko'. Did you mean t.py:echo?"),
    ("x = 1\n", "t.py", "has no functions generate(rng, level) and score(prompt, answer)"),
    ("import nothing_like_this\n", "t.py", "importing t.py raised ModuleNotFoundError"),
    (GOOD.replace("str(a)", "str(a + 1)"), "t.py", "is 0.0, not 1.0 (its own generated answer)"),
    (GOOD.replace("float(", "1.0 + 0 * float("), "t.py", "not 0.0 (an answer that cannot be right)"),
    (GOOD.replace("float(prompt[:-1] == answer.strip())", "float(int(answer) == int(prompt[:-1]))"), "t.py",
     "raised ValueError"),
    (GOOD.replace("f'{a}?'", "f'{a}\u00e9'"), "t.py", "character '\u00e9'"),
    (GOOD.replace("return f'{a}?', '', str(a)", "return [str(a)]"), "t.py", "must return an Example or a"),
    (GOOD.replace("10 ** (level + 1)", "2"), "t.py", "level 1: no held-out prompt in 10,000 draws"),
])
def test_your_own_task_gets_the_checks_of_a_builtin_one(tmp_path, monkeypatch, source, spec, words):
    monkeypatch.chdir(tmp_path)
    Path("t.py").write_text(source)
    if words is None:
        task = get_task(spec)
        assert task.name == spec and task.score("12?", "12") == 1.0
        assert training_examples({spec: 1.0}, {}, random.Random(0), 3)[0][0] == spec
        return
    with pytest.raises(UserError) as e:
        get_task(spec)
    assert words in str(e.value)


# --- end to end: train on a file and on your own task; eval and generate report their cost -------

def test_train_on_a_file_then_eval_and_generate_report_their_cost(tiny_logic_policy, tmp_path, monkeypatch, capsys):
    """tiny_logic_policy (conftest) has the model and sampling shapes used here: only the train step compiles anew."""
    monkeypatch.chdir(tmp_path)
    parts = [export(Path("train.jsonl"), "--task", "logic", "--level", "1", "--n", "300"),
             export(Path("held.jsonl"), "--task", "logic", "--level", "1", "--n", "8", "--split", "heldout")]
    Path("logic.jsonl").write_text("".join(part.read_text() for part in parts))
    report = train.main([TINY, "run.out_dir=runs", 'data.tasks={"logic.jsonl"=1}', "data.seq_len=48",
                         "train.steps=2", "eval.n=8"])
    assert report["tasks"]["logic.jsonl"]["n"] == 8  # the file's 8 held-out lines
    run = str(tiny_logic_policy)
    assert cli.main(["eval", "--checkpoint", run, "--task", "logic.jsonl", "--level", "1", "--batch-size", "8",
                     "--output", "f.json"]) == 0
    assert json.loads(Path("f.json").read_text())["n"] == 8
    assert cli.main(["eval", "--checkpoint", run, "--task", PARITY, "--level", "1", "--n", "6", "--output", "e.json"]) == 0
    r = json.loads(Path("e.json").read_text())
    assert r["n"] == 6 and 0 < r["latency_p50_s"] <= r["latency_p95_s"]
    assert r["thinking_tokens_p50"] <= r["thinking_tokens_p95"] and r["tokens_per_s"] > 0
    assert "latency per problem: p50" in capsys.readouterr().out
    Path("in.jsonl").write_text("".join(json.dumps({"prompt": ex.prompt}) + "\n" for ex in heldout_examples("logic", 1, 16)))
    assert cli.main(["generate", "--checkpoint", run, "--input", "in.jsonl", "--output", "out.jsonl",
                     "--batch-size", "8"]) == 0
    out = rows(Path("out.jsonl"))
    tokens = sum(o["thinking_tokens"] + o["answer_tokens"] for o in out)
    batches = list(dict.fromkeys(o["latency_s"] for o in out))  # each batch's time, once
    assert len(batches) == 2
    printed = capsys.readouterr().out
    assert f"{tokens / sum(batches):.0f} tokens/s" in printed
    assert "thinking tokens per completion (16): mean" in printed


def test_timing_leaves_out_compilation():
    import jax
    import jax.numpy as jnp

    calls = []

    @jax.jit
    def f(x):
        return jnp.sin(x) @ x

    def counted(x):
        calls.append(x.shape)
        return f(x)

    x = jnp.ones((7, 7))
    _timed(counted, (x,))
    assert len(calls) == 2  # it compiled: decoded again, and that second call is the one timed
    _timed(counted, (x,))
    assert len(calls) == 3  # compiled already: timed as it ran
