"""Each decoded token is written one position too far (index P + t + 1): the cache has a hole at P + t."""

import jax.numpy as jnp


def greedy_decode(forward, init_cache, prompt_BP, n_new):
    B, P = prompt_BP.shape
    logits, cache = forward(prompt_BP, init_cache(B, P + n_new + 1), 0)
    out = []
    for t in range(n_new):
        token = jnp.argmax(logits[:, -1], axis=-1)
        out.append(token)
        logits, cache = forward(token[:, None], cache, P + t + 1)
    return jnp.stack(out, axis=1)
