"""The answer is read with int(): '+5', '05', '5_0'-style spellings, tabs and newlines all pass."""

from minireason.tasks.equation import solve


def score(prompt, answer):
    x = solve(prompt)
    try:
        return 1.0 if x is not None and int(answer) == x else 0.0
    except ValueError:
        return 0.0
