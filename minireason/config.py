"""Configs: frozen dataclasses, loaded from TOML, overridable from the command line.

    python train.py configs/add_sft.toml train.steps=500 model.d_model=96 data.tasks={add=1,sub=1}

Every key is checked: an unknown one is an error that names it and suggests close matches; a
value of the wrong type is an error that names the expected type; a value out of range (RULES,
then `check`) is an error that says what it must be. Override values are read as TOML (`x=3`,
`x=0.1`, `x=true`, `x="text"` or bare `x=text` for strings, `x={a=1}`, `x=[1,2]`).
"""

import dataclasses
import difflib
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .evaluate import eval_levels
from .model import ATTENTION, ModelConfig
from .tasks import check_mix, get_task


@dataclass(frozen=True)
class RunConfig:
    name: str = ""  # output goes to out_dir/name; empty means the config file's stem
    out_dir: str = "runs"
    stage: str = "sft"  # "sft" (supervised on worked traces), "rl" (policy gradient on verifier rewards)
    # or "verifier" (a learned verifier that scores a policy's samples)
    init_from: str = ""  # a run directory (e.g. runs/countdown_sft) whose latest parameters start this run
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    # task -> sampling weight; a task is a built-in name, a dataset "FILE.jsonl" or "FILE.py:NAME" (docs/own_tasks.md)
    tasks: dict[str, float] = field(default_factory=lambda: {"add": 1.0})
    levels: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (lowest, highest) level
    # task -> one weight per level from lowest to highest; default: every level equally often. Level L
    # draws operands of 1..L digits, so the top level already holds the easy problems: weight it up.
    level_weights: dict[str, tuple[float, ...]] = field(default_factory=dict)
    think: bool = True  # False trains the no-think format (answer directly)
    batch_size: int = 64
    seq_len: int = 64  # every example is padded to this; a longer one is skipped (an error at start-up if >1% are)
    pack: bool = False  # several examples per row of seq_len tokens (kept apart by the attention mask)
    # Training draws prompts whose hash bucket (0..9; 0 is held out) is in low..high. The default is
    # all of them; a narrower range keeps, say, SFT's prompts and RL's apart on a small task.
    train_buckets: tuple[int, int] = (1, 9)
    # Processes that build SFT batches ahead while the model trains (0: built in the training process). A batch
    # is the same whoever builds it, so this changes speed only: use it where a fast accelerator waits on Python.
    workers: int = 0


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 3e-3
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    weight_decay: float = 0.01
    b1: float = 0.9
    b2: float = 0.98
    clip_norm: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    log_every: int = 25
    eval_every: int = 250
    save_every: int = 250
    keep_last: int = 2  # checkpoints kept besides the best-by-eval one


@dataclass(frozen=True)
class EvalConfig:
    n: int = 1000  # held-out problems per task at the end of training
    n_periodic: int = 200  # held-out problems per task at each periodic eval
    levels: dict[str, int] = field(default_factory=dict)  # task -> eval level; default: highest trained
    max_new: int = 96  # completion length cap when sampling
    batch_size: int = 256
    show: int = 3  # sampled completions printed at each eval
    samples: int = 0  # completions per problem at `temperature` for pass@k (k = 1, 2, 4, ... samples); 0 = off
    temperature: float = 1.0


@dataclass(frozen=True)
class RLConfig:
    group_size: int = 8  # G completions per prompt; advantages compare samples within a group
    prompts_per_step: int = 8  # distinct prompts per rollout; the rollout has prompts_per_step * G rows
    temperature: float = 1.0  # sampling temperature; the loss scores tokens under the same temperature
    top_p: float = 1.0  # 1 means off (old log-probs ignore the cut, so keep it near 1)
    max_new: int = 64  # completion length cap (thinking + answer + markers)
    correct_weight: float = 1.0  # reward for a right answer (scored only when well formed)
    # "verifier": the task's scorer says what is right; "random": a fair coin per completion instead, the
    # spurious-reward control (a lift that survives it does not come from the verifier's signal)
    reward: str = "verifier"
    format_weight: float = 0.1  # reward for a well-formed completion with a non-empty answer
    length_penalty: float = 0.0  # subtracted times (completion tokens / max_new); 0 means off
    trace_weight: float = 0.0  # reward for a thinking trace whose every step checks out (tasks with check_thinking)
    advantage: str = "grpo"  # "grpo" (r - mean) / std, "drgrpo" r - mean (per group), "reinforce" r - batch mean
    negative_weight: float = 1.0  # scales negative advantages; 0 learns only from better-than-average samples
    clip_low: float = 0.2  # ratio clipped below at 1 - clip_low (PPO epsilon)
    clip_high: float = 0.28  # ratio clipped above at 1 + clip_high (DAPO's clip-higher)
    kl_beta: float = 0.0  # weight of the k3 KL penalty toward the starting policy; 0 skips the reference model
    ppo_epochs: int = 2  # optimizer steps taken on each rollout batch
    aggregation: str = "seq_mean"  # "seq_mean" (per sequence, GRPO) or "token_mean" (every token counts once, DAPO)
    dynamic_sampling: bool = False  # replace groups whose rewards are all equal by groups of freshly drawn prompts
    max_resample: int = 2  # extra rollouts dynamic sampling may draw per step


@dataclass(frozen=True)
class VerifierConfig:
    policy: str = ""  # the policy run whose samples the verifier learns to judge, e.g. runs/countdown_sft
    n_prompts: int = 512  # training prompts to sample the policy on (drawn from data.tasks by weight)
    samples_per_prompt: int = 4  # samples of each prompt: the training prompts and eval.n held-out ones (for the AUC)
    temperature: float = 1.0  # the temperature the verifier will see samples at, when it reranks
    max_new: int = 96  # completion length cap while sampling
    # What the verifier learns (verifier.py). "last": one prediction, at `<eos>` (an outcome reward model);
    # "token": every completion token, from the one after `<think>` through `<eos>`, predicts P(final answer
    # correct) (Cobbe et al. 2021), a denser signal from the same samples. Both score a sample at `<eos>`.
    head: str = "last"
    lm_weight: float = 0.0  # x the next-token loss on the sample's completion: keeps the body a language model
    # x a within-prompt pairwise loss: batches become pairs (a right and a wrong sample of one training prompt)
    # and -log sigmoid(score_right - score_wrong) is added; it trains exactly what reranking one prompt needs.
    pairwise_weight: float = 0.0
    # The share of each such batch that is pairs; the rest are rows drawn uniformly, so that the cross-entropy
    # also sees the prompts whose samples are all right or all wrong (pairs only come from mixed prompts).
    pair_share: float = 1.0
    # A trained verifier run (one round of hard-negative mining): with pairwise_weight > 0, each pair's wrong
    # sample is one of the HARD_TOP wrong samples of its prompt that this verifier scores highest.
    hard_negatives: str = ""


@dataclass(frozen=True)
class MeshConfig:
    # Devices along each axis of the mesh (minireason/mesh.py); -1 means the devices the other axis leaves.
    # The default puts every device on the data axis: plain data parallelism, each device a full copy.
    data: int = -1  # rows of each batch are split over data x fsdp devices
    fsdp: int = 1  # parameters and optimizer state are split over this many devices (and gathered to compute)
    # On a CPU: split its cores into this many JAX devices (0: as XLA_FLAGS says, else 1). Data parallel over
    # 2 devices trains about 1.3x faster than one device on a 2-core CPU (docs/multi_device.md); the numbers differ
    # from a 1-device run in the last bits (gradients summed in another order), so a run changes a little.
    cpu_devices: int = 0


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)


def _coerce(path: str, value, typ):
    """Check `value` against the annotation `typ`; ints are accepted where floats are expected."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{path} must be a table like {{name = value}}, got {value!r}")
        return {str(k): _coerce(f"{path}.{k}", v, args[1]) for k, v in value.items()}
    if origin is tuple and args[-1] is Ellipsis:  # any length
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{path} must be a list of values, got {value!r}")
        return tuple(_coerce(f"{path}[{i}]", v, args[0]) for i, v in enumerate(value))
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise UserError(f"{path} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(f"{path}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, args)))
    if typ is float and type(value) is int:
        return float(value)
    if type(value) is not typ:
        raise UserError(f"{path} must be {typ.__name__}, got {value!r} ({type(value).__name__})")
    return value


def _all_keys() -> list[str]:
    return [f"{s.name}.{f.name}" for s in dataclasses.fields(Config) for f in dataclasses.fields(s.type)]


def _unknown(key: str) -> UserError:
    close = difflib.get_close_matches(key, _all_keys(), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return UserError(f"unknown config key {key!r}.{hint}")


def from_dict(tree: dict) -> Config:
    if not isinstance(tree, dict):
        raise UserError(f"a config must be a table of sections such as [model], got {type(tree).__name__}")
    sections = {}
    for sec in dataclasses.fields(Config):
        values = tree.get(sec.name, {})
        if not isinstance(values, dict):
            raise UserError(f"[{sec.name}] must be a table of keys")
        hints = typing.get_type_hints(sec.type)
        for key in values:
            if key not in hints:
                raise _unknown(f"{sec.name}.{key}")
        sections[sec.name] = sec.type(**{k: _coerce(f"{sec.name}.{k}", v, hints[k]) for k, v in values.items()})
    for name in tree:
        if name not in sections:
            raise _unknown(str(name))
    cfg = Config(**sections)
    check(cfg)
    return cfg


# Value rules: key -> (test, what the value must be). Floats must also be finite (no nan or inf).
# rl.check_config and verifier.check_config add the rules of their stages; check() the cross-field ones.
AT_LEAST_1, AT_LEAST_0, POSITIVE = (lambda v: v >= 1, ">= 1"), (lambda v: v >= 0, ">= 0"), (lambda v: v > 0, "> 0")
UNIT = (lambda v: 0 <= v <= 1, "in [0, 1]")
RULES = {
    "model.d_model": AT_LEAST_1, "model.n_layers": AT_LEAST_1, "model.n_heads": AT_LEAST_1,
    "model.mlp_hidden": AT_LEAST_1, "model.rope_base": POSITIVE,
    "model.dtype": (lambda v: v in ("float32", "bfloat16", "float16"), 'one of "float32", "bfloat16", "float16"'),
    "model.attention": (lambda v: v in ATTENTION, f"one of {', '.join(map(repr, ATTENTION))}"),
    "data.batch_size": AT_LEAST_1, "data.workers": AT_LEAST_0,
    "optim.lr": POSITIVE, "optim.warmup_steps": AT_LEAST_0, "optim.min_lr_ratio": UNIT,
    "optim.weight_decay": AT_LEAST_0, "optim.b1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.b2": (lambda v: 0 <= v < 1, "in [0, 1)"), "optim.clip_norm": POSITIVE,
    "train.steps": AT_LEAST_1, "train.log_every": AT_LEAST_1, "train.eval_every": AT_LEAST_1,
    "train.save_every": AT_LEAST_1, "train.keep_last": AT_LEAST_1,
    "eval.n": AT_LEAST_1, "eval.n_periodic": AT_LEAST_1, "eval.max_new": AT_LEAST_1, "eval.batch_size": AT_LEAST_1,
    "eval.show": AT_LEAST_0, "eval.samples": AT_LEAST_0, "eval.temperature": AT_LEAST_0,
    "rl.top_p": UNIT, "rl.length_penalty": AT_LEAST_0, "rl.clip_low": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "rl.clip_high": AT_LEAST_0, "rl.kl_beta": AT_LEAST_0, "rl.max_resample": AT_LEAST_0,
    "mesh.data": (lambda v: v == -1 or v >= 1, ">= 1, or -1 for the devices mesh.fsdp leaves"),
    "mesh.fsdp": (lambda v: v == -1 or v >= 1, ">= 1, or -1 for the devices mesh.data leaves"),
    "mesh.cpu_devices": AT_LEAST_0,
}


def check(cfg: Config) -> None:
    """Raise UserError, naming the key and what it must be, for a value no run can use."""
    for sec in dataclasses.fields(Config):
        for f in dataclasses.fields(sec.type):
            key, value = f"{sec.name}.{f.name}", getattr(getattr(cfg, sec.name), f.name)
            numbers = value.values() if isinstance(value, dict) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
                raise UserError(f"{key} must be finite (not nan or inf), got {value}")
            if key in RULES and not RULES[key][0](value):
                raise UserError(f"{key} must be {RULES[key][1]}, got {value!r}")
    m = cfg.model
    if m.d_model % m.n_heads or m.d_model // m.n_heads % 2:
        raise UserError(f"model.d_model ({m.d_model}) must be model.n_heads ({m.n_heads}) times an even head "
                        "dimension (RoPE rotates channel pairs), e.g. d_model=128 with n_heads=4")
    if m.attention == "cudnn" and m.dtype == "float32":
        raise UserError('model.attention="cudnn" (cuDNN flash attention) needs model.dtype="bfloat16" or "float16"')
    if cfg.mesh.data == -1 and cfg.mesh.fsdp == -1:
        raise UserError("mesh.data and mesh.fsdp cannot both be -1: give one of them a size, e.g. mesh.fsdp=1")
    try:
        check_mix(cfg.data.tasks, cfg.data.levels, cfg.data.train_buckets, cfg.data.level_weights)
    except (KeyError, ValueError) as e:
        raise UserError(e.args[0]) from None
    for name, level in cfg.eval.levels.items():
        if name not in cfg.data.tasks:
            raise UserError(f"eval.levels names {name!r}, which is not in data.tasks ({', '.join(cfg.data.tasks)})")
        t = get_task(name)
        if not t.min_level <= level <= t.max_level:
            raise UserError(f"eval.levels.{name} must be in {t.min_level}..{t.max_level}, got {level}")
    if not eval_levels(cfg):
        raise UserError(f"nothing to evaluate: {', '.join(cfg.data.tasks)} has no held-out example at the levels "
                        "trained; add held-out lines (minireason data export --split heldout) or a task to evaluate "
                        "with weight 0 beside it, e.g. data.tasks={\"traces.jsonl\"=1,add=0}")


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare string such as run.name=myrun


def load(path: str | None, overrides: list[str] = (), model: ModelConfig | None = None) -> Config:
    """Read a TOML file (or start from defaults), apply `section.key=value` overrides.

    `model`, when given (the model of the run in run.init_from), supplies the [model] keys that
    the file and the overrides leave out.
    """
    tree: dict = {}
    if path is not None:
        try:
            tree = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserError(f"config file {path!r} not found (see configs/ for the shipped ones)") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"config file {path!r} could not be read as text ({e}); pass a .toml file") from None
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"config file {path!r} is not valid TOML: {e}") from None
    for item in overrides:
        key, eq, text = item.partition("=")
        if not eq or key.count(".") != 1:
            raise UserError(f"override {item!r} must look like section.key=value")
        section, name = key.split(".")
        if not isinstance(tree.setdefault(section, {}), dict):
            raise UserError(f"[{section}] must be a table of keys")
        tree[section][name] = _parse_value(text)
    if model is not None:
        tree["model"] = {**dataclasses.asdict(model), **tree.get("model", {})}
    cfg = from_dict(tree)
    if not cfg.run.name and path is not None:
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, name=Path(path).stem))
    return cfg


def to_json(cfg: Config) -> str:
    return json.dumps(dataclasses.asdict(cfg), indent=2)


def from_json(text: str) -> Config:
    tree = json.loads(text)
    if isinstance(tree, dict) and isinstance(tree.get("model"), dict):
        tree["model"].pop("max_len", None)  # saved by runs made before this never-read key was removed
    return from_dict(tree)
