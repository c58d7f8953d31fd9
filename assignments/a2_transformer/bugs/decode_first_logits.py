"""After the prefill, the first new token is read from the logits of the first prompt position, not the last."""

import jax.numpy as jnp


def greedy_decode(forward, init_cache, prompt_BP, n_new):
    B, P = prompt_BP.shape
    logits, cache = forward(prompt_BP, init_cache(B, P + n_new), 0)
    out = []
    for t in range(n_new):
        token = jnp.argmax(logits[:, 0], axis=-1)
        out.append(token)
        logits, cache = forward(token[:, None], cache, P + t)
    return jnp.stack(out, axis=1)
