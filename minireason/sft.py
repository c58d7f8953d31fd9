"""Supervised fine-tuning on worked traces: masked next-token cross-entropy.

The loss covers the thinking, `</think>`, the answer and `<eos>`, never the prompt (the model
is taught to reason about a question, not to predict which question comes). The optimizer is
optax AdamW with linear warmup, cosine decay and global-norm clipping. `make_step` turns a loss
into one pure jitted optimizer step over explicit pytrees (params, optimizer state, batch); every
stage (SFT here, RL in rl.py, the verifier in verifier.py) trains through it, on one device or
many (minireason/mesh.py: the same step, with the batch split by rows). `nnx.merge` inside
the loss rebuilds the module, which costs nothing once traced.

Data is a pure function of (seed, step): a resumed run sees exactly the batches an
uninterrupted run would have seen, and batches can be built ahead in other processes
(`Batches`) without changing a thing.
"""

import functools
import multiprocessing
import random
import weakref
from concurrent.futures import ProcessPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .config import DataConfig, OptimConfig
from .mesh import pin, rows
from .tasks import training_examples
from .tokenizer import PAD_ID, render


def batch_at(data: DataConfig, seed: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The training batch for `step`: (tokens_BT, loss_mask_BT), right-padded to data.seq_len.

    An example longer than seq_len is skipped and another drawn in its place (`check_seq_len`
    makes sure at start-up that this is rare), so a long outlier never stops a run midway.
    """
    rng = random.Random(f"{seed}/{step}")
    tokens = np.full((data.batch_size, data.seq_len), PAD_ID, np.int32)
    mask = np.zeros((data.batch_size, data.seq_len), np.float32)
    i = 0
    while i < data.batch_size:
        for _, ex in training_examples(data.tasks, data.levels, rng, data.batch_size - i, data.train_buckets,
                                       data.level_weights):
            ids, m = render(ex, think=data.think)
            if len(ids) <= data.seq_len:
                tokens[i, :len(ids)], mask[i, :len(ids)] = ids, m
                i += 1
    return tokens, mask


def packed_batch_at(data: DataConfig, seed: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training batch for `step` with several examples per row: (tokens_BT, loss_mask_BT, segment_BT).

    Short examples waste most of a padded row (countdown: a median of 71 tokens in rows of 192),
    so each example goes into the first row with room for it (first fit), until 16 draws in a row
    find none. segment_BT numbers the examples in each row from 1 (0 is padding); the model keeps
    them apart (see `Transformer.features`), so an example's loss is the same as unpacked.
    """
    rng = random.Random(f"{seed}/{step}/packed")
    tokens = np.full((data.batch_size, data.seq_len), PAD_ID, np.int32)
    mask = np.zeros((data.batch_size, data.seq_len), np.float32)
    segment = np.zeros((data.batch_size, data.seq_len), np.int32)
    used, count = [0] * data.batch_size, [0] * data.batch_size
    misses = 0
    while misses < 16:
        for _, ex in training_examples(data.tasks, data.levels, rng, data.batch_size, data.train_buckets,
                                       data.level_weights):
            ids, m = render(ex, think=data.think)
            row = next((r for r in range(data.batch_size) if used[r] + len(ids) <= data.seq_len), None)
            if row is None:
                misses += 1
                continue
            misses, at = 0, used[row]
            tokens[row, at:at + len(ids)], mask[row, at:at + len(ids)] = ids, m
            count[row] += 1
            segment[row, at:at + len(ids)] = count[row]
            used[row] += len(ids)
    return tokens, mask, segment


class Batches:
    """batches(step) -> the training batch of `step`, built ahead by `workers` processes (0: built when asked).

    Building a batch is Python (drawing problems, writing traces, packing), one core's work; an
    accelerator can finish a step sooner. With workers, the batches of the next 2 x workers steps are
    always being built, in processes started fresh ("spawn": a forked copy of a process running JAX
    is unsafe), and the pool shuts down when this object goes.
    """

    def __init__(self, data: DataConfig, seed: int, workers: int = 0):
        self.build = functools.partial(packed_batch_at if data.pack else batch_at, data, seed)
        self.ahead, self.pending = 2 * workers, {}
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers else None
        if self.pool:
            weakref.finalize(self, self.pool.shutdown, wait=False, cancel_futures=True)

    def __call__(self, step: int):
        if self.pool is None:
            return self.build(step)
        self.pending = {s: f for s, f in self.pending.items() if s >= step}  # a jump ahead drops the skipped ones
        for s in range(step, step + self.ahead):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(self.build, s)
        return self.pending.pop(step).result()


def check_seq_len(data: DataConfig, n: int = 2000, max_skipped: float = 0.01) -> None:
    """Raise ValueError if more than `max_skipped` of the training examples would not fit in seq_len."""
    drawn = training_examples(data.tasks, data.levels, random.Random("seq_len check"), n, data.train_buckets,
                              data.level_weights)
    lengths = [len(render(ex, think=data.think)[0]) for _, ex in drawn]
    too_long = sum(length > data.seq_len for length in lengths)
    if too_long > max_skipped * n:
        longest = max(lengths)
        raise ValueError(f"{too_long / n:.0%} of training examples are longer than data.seq_len={data.seq_len} "
                         f"(the longest of {n} drawn has {longest} tokens); raise it, e.g. data.seq_len={longest + 8}, "
                         f"or lower the levels")


def masked_ce(logits_BTV, targets_BT, mask_BT):
    """Mean negative log-likelihood of the targets over positions where mask is 1."""
    logp_BTV = jax.nn.log_softmax(logits_BTV.astype(jnp.float32))
    nll_BT = -jnp.take_along_axis(logp_BTV, targets_BT[..., None], axis=-1)[..., 0]
    return jnp.sum(nll_BT * mask_BT) / jnp.maximum(jnp.sum(mask_BT), 1.0)


def lr_schedule(opt: OptimConfig, steps: int) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(0.0, opt.lr, opt.warmup_steps, max(steps, opt.warmup_steps + 1),
                                              end_value=opt.lr * opt.min_lr_ratio)


def make_optimizer(opt: OptimConfig, steps: int) -> optax.GradientTransformation:
    schedule = lr_schedule(opt, steps)
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)  # matrices only, not norm scales
    return optax.chain(optax.clip_by_global_norm(opt.clip_norm),
                       optax.adamw(schedule, opt.b1, opt.b2, weight_decay=opt.weight_decay, mask=decay_mask))


def sft_loss(graphdef, params, tokens_BT, mask_BT, segment_BT=None):
    """Predict token t+1 from tokens up to t; mask_BT marks which tokens are targets."""
    segment_BT = None if segment_BT is None else segment_BT[:, :-1]
    logits_BTV, _ = nnx.merge(graphdef, params)(tokens_BT[:, :-1], segment_BT=segment_BT)
    return masked_ce(logits_BTV, tokens_BT[:, 1:], mask_BT[:, 1:])


def make_step(loss_fn, tx: optax.GradientTransformation):
    """step(params, opt_state, *batch) -> (params, opt_state, metrics): one jitted optimizer step on a batch.

    `loss_fn(params, *batch)` returns (loss, metrics); the step adds the gradient's and the new
    parameters' global norms (a diverging run shows in them first).
    """
    @jax.jit
    def step(params, opt_state, *batch):
        (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        params, opt_state = pin((optax.apply_updates(params, updates), opt_state))  # on many devices: split as before
        return params, opt_state, dict(metrics, grad_norm=optax.tree.norm(grads), param_norm=optax.tree.norm(params))

    return step


def make_train_step(graphdef, tx: optax.GradientTransformation):
    """train_step(params, opt_state, tokens_BT, mask_BT[, segment_BT]) -> (params, opt_state, metrics)."""
    def loss_fn(params, tokens_BT, mask_BT, segment_BT=None):
        loss = sft_loss(graphdef, params, tokens_BT, mask_BT, segment_BT)
        return loss, dict(loss=loss)

    return make_step(loss_fn, tx)


def make_sft_update(graphdef, tx: optax.GradientTransformation, cfg, data=None):
    """update(step, params, opt_state) -> (params, opt_state, metrics) on the batch of `step` (see `batch_at`).

    `data` is unused: SFT draws its batches from cfg.data, a pure function of (seed, step).
    """
    train_step = make_train_step(graphdef, tx)
    batches = Batches(cfg.data, cfg.run.seed, cfg.data.workers)

    def update(step: int, params, opt_state):
        batch = batches(step)
        params, opt_state, metrics = train_step(params, opt_state, *rows(batch))
        return params, opt_state, dict(metrics, tokens=batch[0].size)

    return update
