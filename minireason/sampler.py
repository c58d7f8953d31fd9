"""Batched sampling with a KV cache: one prefill over the prompts, then a jitted decode loop.

Prompts are left-padded to a bucket length so every row decodes in lockstep and a run compiles
once per (batch, bucket) shape. The loop (`lax.while_loop`) stops when every row has written
`<eos>` or the length cap is hit. Each row has its own random stream, so a row's sample does
not depend on what else is in the batch.

Thinking budget (budget forcing, as in s1: Muennighoff et al. 2025, "s1: Simple test-time
scaling"): once a row has written `max_thinking` thinking tokens without closing its thought,
the sampler writes `</think>` for it. The other direction, `min_thinking`, makes `</think>` and
`<eos>` impossible until a row has thought that long. s1 also appends a cue ("Wait") when it
suppresses the end of thought; we only suppress, since our models never saw a cue in training.

On many devices (minireason/mesh.py) `generate` splits each batch's rows over them: each
device decodes its own rows (and their part of the KV cache), all in lockstep, until every row
of the whole batch is done.

`sample_naive` recomputes the whole sequence for every new token. It is slow on purpose: it is
the reference the cached path is tested (and benchmarked) against.
"""

import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm import tqdm

from .mesh import row_multiple, rows, to_host
from .model import init_cache
from .tokenizer import END_THINK_ID, EOS_ID, PAD_ID, parse_completion, prompt_ids


@dataclass(frozen=True)
class SampleConfig:
    max_new: int = 128  # completion length cap (thinking + answer + markers)
    temperature: float = 0.0  # 0 means greedy
    top_k: int = 0  # 0 means off
    top_p: float = 1.0  # 1 means off
    max_thinking: int = -1  # thinking-token budget; -1 means no cap
    min_thinking: int = 0  # thinking tokens a row must write before it may close its thought (max_thinking wins)


def round_up(n: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= n: lengths padded to a few buckets compile a few shapes."""
    return -(-n // multiple) * multiple


def pad_prompts(prompts: list[str], bucket: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Left-pad `<bos> PROMPT <think>` to a multiple of `bucket`; returns (tokens_BP, start_B)."""
    rows = [prompt_ids(p) for p in prompts]
    P = round_up(max(len(r) for r in rows), bucket)
    tokens = np.full((len(rows), P), PAD_ID, np.int32)
    for i, r in enumerate(rows):
        tokens[i, P - len(r):] = r
    return tokens, np.array([P - len(r) for r in rows], np.int32)


def _pick(logits_BV, keys_B, t, cfg: SampleConfig):
    """Choose next tokens; returns (token_B, logprob_B) under the temperature-scaled distribution."""
    if cfg.temperature == 0.0:
        token_B = jnp.argmax(logits_BV, axis=-1)
        return token_B, jnp.take_along_axis(jax.nn.log_softmax(logits_BV), token_B[:, None], 1)[:, 0]
    logits_BV = logits_BV / cfg.temperature
    logp_BV = jax.nn.log_softmax(logits_BV)
    filtered = logits_BV
    if cfg.top_k > 0:
        kth_B1 = jax.lax.top_k(filtered, cfg.top_k)[0][:, -1:]
        filtered = jnp.where(filtered < kth_B1, -jnp.inf, filtered)
    if cfg.top_p < 1.0:  # keep the smallest set of tokens whose probability reaches top_p
        sorted_BV = jnp.sort(filtered, axis=-1)[:, ::-1]
        cum_BV = jnp.cumsum(jax.nn.softmax(sorted_BV), axis=-1)
        cutoff_B1 = jnp.take_along_axis(sorted_BV, jnp.sum(cum_BV < cfg.top_p, axis=-1, keepdims=True), 1)
        filtered = jnp.where(filtered < cutoff_B1, -jnp.inf, filtered)
    token_B = jax.vmap(lambda k, l: jax.random.categorical(jax.random.fold_in(k, t), l))(keys_B, filtered)
    return token_B, jnp.take_along_axis(logp_BV, token_B[:, None], 1)[:, 0]


class Rows(NamedTuple):
    """Where each row of the batch stands, updated after every token."""

    closed: jax.Array  # (B,) bool: the row has written `</think>`
    n_think: jax.Array  # (B,) int: thinking tokens written so far
    done: jax.Array  # (B,) bool: the row has written `<eos>`

    @classmethod
    def start(cls, B: int) -> "Rows":
        return cls(jnp.zeros((B,), bool), jnp.zeros((B,), jnp.int32), jnp.zeros((B,), bool))


def _suppress_stop(logits_BV, rows: Rows, cfg: SampleConfig):
    """min_thinking: rows still short of it cannot pick `</think>` or `<eos>`; shared by both paths."""
    if cfg.min_thinking <= 0:
        return logits_BV
    early_B1 = (~rows.closed & (rows.n_think < cfg.min_thinking))[:, None]
    ids_V = jnp.arange(logits_BV.shape[-1])
    return jnp.where(early_B1 & ((ids_V == END_THINK_ID) | (ids_V == EOS_ID)), -jnp.inf, logits_BV)


def _step_rules(token_B, rows: Rows, cfg: SampleConfig) -> tuple[jax.Array, Rows]:
    """Budget forcing and end-of-sequence bookkeeping, shared by the cached and naive paths."""
    if cfg.max_thinking >= 0:
        token_B = jnp.where(~rows.closed & (rows.n_think >= cfg.max_thinking), END_THINK_ID, token_B)
    token_B = jnp.where(rows.done, PAD_ID, token_B)
    thinking_B = ~rows.closed & ~rows.done & (token_B != END_THINK_ID) & (token_B != EOS_ID)
    return token_B, Rows(closed=rows.closed | (token_B == END_THINK_ID), n_think=rows.n_think + thinking_B,
                         done=rows.done | (token_B == EOS_ID))


@partial(jax.jit, static_argnames=("graphdef", "cfg"))
def sample(graphdef, params, tokens_BP, start_B, key, cfg: SampleConfig):
    """Returns dict: tokens (B, N), logprobs (B, N), thinking_tokens (B,), length (B,), done (B,)."""
    model = nnx.merge(graphdef, params)
    B, P = tokens_BP.shape
    N = cfg.max_new
    logits_BTV, cache = model(tokens_BP, start_B, init_cache(model.cfg, B, P + N), 0)
    keys_B = jax.random.split(key, B)
    init = dict(t=0, cache=cache, logits=logits_BTV[:, -1], out=jnp.full((B, N), PAD_ID, jnp.int32),
                logp=jnp.zeros((B, N)), rows=Rows.start(B))

    def cond(s):
        return (s["t"] < N) & ~jnp.all(s["rows"].done)

    def body(s):
        t = s["t"]
        token_B, logp_B = _pick(_suppress_stop(s["logits"], s["rows"], cfg), keys_B, t, cfg)
        token_B, rows = _step_rules(token_B, s["rows"], cfg)
        logits_B1V, cache = model(token_B[:, None], start_B, s["cache"], P + t)
        return dict(t=t + 1, cache=cache, logits=logits_B1V[:, 0], out=s["out"].at[:, t].set(token_B),
                    logp=s["logp"].at[:, t].set(jnp.where(rows.done & (token_B == PAD_ID), 0.0, logp_B)), rows=rows)

    s = jax.lax.while_loop(cond, body, init)
    return dict(tokens=s["out"], logprobs=s["logp"], thinking_tokens=s["rows"].n_think,
                length=jnp.sum(s["out"] != PAD_ID, axis=1), done=s["rows"].done)


def answer_tokens(out: dict) -> np.ndarray:
    """Answer tokens of each row of a `sample` result: what follows `</think>`, without `<eos>`."""
    return np.maximum(np.asarray(out["length"]) - np.asarray(out["thinking_tokens"]) - 1 - np.asarray(out["done"]), 0)


def sample_naive(graphdef, params, tokens_BP, start_B, cfg: SampleConfig):
    """Greedy reference decode: a full forward over the whole buffer for every new token."""
    assert cfg.temperature == 0.0, "the naive reference decode is greedy only"
    B, P = tokens_BP.shape
    forward = jax.jit(lambda p, x: nnx.merge(graphdef, p)(x, start_B)[0])
    buf = jnp.concatenate([tokens_BP, jnp.full((B, cfg.max_new), PAD_ID, jnp.int32)], axis=1)
    rows = Rows.start(B)
    for t in range(cfg.max_new):
        token_B = jnp.argmax(_suppress_stop(forward(params, buf)[:, P + t - 1], rows, cfg), axis=-1)
        token_B, rows = _step_rules(token_B, rows, cfg)
        buf = buf.at[:, P + t].set(token_B)
        if bool(jnp.all(rows.done)):
            break
    return dict(tokens=buf[:, P:], thinking_tokens=rows.n_think)


def generate(graphdef, params, prompts: list[str], cfg: SampleConfig, key, batch_size: int = 256,
             progress: str = "", timed: bool = False) -> list[dict]:
    """One completion per prompt, sampled in batches of a fixed shape; `progress` names a progress bar.

    With `timed`, each completion also has `latency_s`, the wall time of the batch it was decoded in (the
    rows of a batch finish together), and `batch`, its number. A batch that compiled first is decoded
    again for its time.
    """
    results = []
    B = round_up(min(batch_size, len(prompts)), row_multiple())  # every batch one shape, its rows split evenly
    starts = range(0, len(prompts), batch_size)
    for lo in tqdm(starts, desc=progress, file=sys.stdout, unit="batch") if progress else starts:
        chunk = prompts[lo:lo + batch_size]
        tokens, start = rows(pad_prompts(chunk + [chunk[0]] * (B - len(chunk))))
        args = (graphdef, params, tokens, start, jax.random.fold_in(key, lo), cfg)
        out, seconds = _timed(sample, args) if timed else (to_host(sample(*args)), None)
        n_answer = answer_tokens(out)
        for i in range(len(chunk)):
            thinking, answer, ok = parse_completion(out["tokens"][i])
            results.append(dict(thinking=thinking, answer=answer, well_formed=ok,
                                thinking_tokens=int(out["thinking_tokens"][i]), answer_tokens=int(n_answer[i]),
                                **({} if seconds is None else dict(latency_s=seconds, batch=lo // batch_size))))
    return results


def _timed(fn, args) -> tuple[dict, float]:
    """(fn(*args) on the host, its wall time); a call that traced or compiled is made again and timed warm."""
    events = []

    def listen(event: str, duration: float, **kwargs):
        events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        for _ in range(2):
            events.clear()
            t0 = time.perf_counter()
            out = to_host(fn(*args))
            seconds = time.perf_counter() - t0
            if not any(e.startswith("/jax/core/compile") for e in events):
                break
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return out, seconds
