"""pass@k as 1 - (1 - c/n)^k: sampling with replacement, biased low for small n."""


def pass_at_k(n, c, k):
    return 1.0 - (1.0 - c / n) ** k
