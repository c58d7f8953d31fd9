"""The answer is right if the solution appears in it: '3 or 4' and 'x=3' score 1."""

from minireason.tasks.equation import solve


def score(prompt, answer):
    x = solve(prompt)
    return 1.0 if x is not None and str(x) in answer else 0.0
