"""maj@k votes once over all K answers instead of over each block of k."""

from collections import Counter


def maj_at_k(answers, correct, k):
    votes = Counter(a.strip() for a in answers if a is not None)
    return float(bool(votes) and votes.most_common(1)[0][0] == correct)
