"""pass@k's product starts one term too late: prod over i = n-c+2 .. n of (1 - k/i)."""

import numpy as np


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 2, n + 1)))
