"""The package's own answers to assignment a2, behind the names student.py uses.

`grade.py a2 --solution` grades this file; a teacher keeps it (and bugs/) out of the handout.
rope is minireason.model.rope itself; the other three are lines of minireason/model.py
(Transformer.features and Attention.__call__) as functions, and greedy_decode is the loop of
minireason/sampler.py's `sample` without its sampling options.
"""

import jax
import jax.numpy as jnp

from minireason.model import rope

__all__ = ["rope", "causal_mask", "attention", "write_cache", "greedy_decode"]


def causal_mask(T, S, index, start_B):
    q_T, k_S = index + jnp.arange(T), jnp.arange(S)
    causal_BTS = k_S[None, None, :] <= q_T[None, :, None]
    return causal_BTS & (k_S[None, None, :] >= jnp.asarray(start_B)[:, None, None])


def attention(q_BHTK, k_BHSK, v_BHSK, mask_BTS):
    scores_BHTS = jnp.einsum("bhtk,bhsk->bhts", q_BHTK, k_BHSK) / q_BHTK.shape[-1] ** 0.5
    scores_BHTS = jnp.where(mask_BTS[:, None], scores_BHTS, -1e30)
    return jnp.einsum("bhts,bhsk->bhtk", jax.nn.softmax(scores_BHTS, axis=-1), v_BHSK)


def write_cache(cache_BHSK, new_BHTK, index):
    return jax.lax.dynamic_update_slice(cache_BHSK, new_BHTK.astype(cache_BHSK.dtype), (0, 0, index, 0))


def greedy_decode(forward, init_cache, prompt_BP, n_new):
    B, P = prompt_BP.shape
    logits_BTV, cache = forward(prompt_BP, init_cache(B, P + n_new), 0)
    out = []
    for t in range(n_new):
        token_B = jnp.argmax(logits_BTV[:, -1], axis=-1)
        out.append(token_B)
        logits_BTV, cache = forward(token_B[:, None], cache, P + t)
    return jnp.stack(out, axis=1)
