"""Assignment a2: the transformer's attention, position encoding and KV cache. Fill in every function that
raises NotImplementedError.

Read README.md next to this file first. Grade yourself with `python assignments/grade.py a2`.
Use jax.numpy (`jnp`) and jax.lax: the grader jit-compiles and trains through your functions.
Dimension letters: B batch, T query positions (this call's tokens), S key positions (the whole cache),
H heads, K head dim.
"""

import jax
import jax.numpy as jnp


def rope(x_BTHK, pos_BT, base=10_000.0):
    """Rotary position embedding.

    x_BTHK: (B, T, H, K) queries or keys, K even; pos_BT: (B, T) int positions.
    Pair channel i with channel i + K/2 (the two halves, as minireason does; not neighbours 2i, 2i+1),
    for i = 0 .. K/2 - 1, and rotate each pair by the angle pos * base ** (-i / (K/2)):
        out[i]       = x[i] * cos - x[i + K/2] * sin
        out[i + K/2] = x[i] * sin + x[i + K/2] * cos
    Compute in float32; return the input's dtype and shape.
    """
    raise NotImplementedError


def causal_mask(T, S, index, start_B):
    """(B, T, S) bool: may query t (at absolute position index + t) attend to key s?

    Yes when s <= index + t (nothing from the future) and s >= start_B[b] (row b is left-padded: its
    real tokens start at start_B[b]). Without a cache, S = T and index = 0; while decoding with a cache,
    S is the cache length and index is where this call's tokens are written.
    """
    raise NotImplementedError


def attention(q_BHTK, k_BHSK, v_BHSK, mask_BTS):
    """Scaled dot-product attention: softmax(q k^T / sqrt(K), over s, masked) v.

    q_BHTK: (B, H, T, K); k_BHSK, v_BHSK: (B, H, S, K); mask_BTS: (B, T, S) bool, shared by the heads.
    Masked scores get a large negative number (-1e30), not -inf: a padding query whose every key is masked
    must still give finite numbers. Returns (B, H, T, K).
    """
    raise NotImplementedError


def write_cache(cache_BHSK, new_BHTK, index):
    """The cache with this call's T keys (or values) written at positions index .. index + T - 1.

    cache_BHSK: (B, H, S, K); new_BHTK: (B, H, T, K); index: an int, or a traced int under jit
    (use jax.lax.dynamic_update_slice, not Python slicing). Returns a new (B, H, S, K) array.
    """
    raise NotImplementedError


def greedy_decode(forward, init_cache, prompt_BP, n_new):
    """Greedy decoding with a KV cache: one forward pass over the prompt, then one per new token.

    forward(tokens_BT, cache, index) -> (logits_BTV, cache): runs the model on tokens written at
        positions index .. index + T - 1, attending to everything in the cache before them.
    init_cache(B, S) -> an empty cache with room for S positions.
    prompt_BP: (B, P) int tokens (no padding). Each new token is the argmax of the last logits.
    Returns (B, n_new) int: the n_new tokens after the prompt. Must equal recomputing the whole
    sequence without a cache for every token (the grader checks that).
    """
    raise NotImplementedError
