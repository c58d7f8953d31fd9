"""A solution that is not an integer is floored (2x=3 gives 1) instead of rejected."""

from minireason.tasks.equation import _side


def solve(equation):
    if len(equation) > 64 or equation.count("=") != 1:
        return None
    left, right = (_side(s) for s in equation.split("="))
    if left is None or right is None:
        return None
    a, c = left[0] - right[0], right[1] - left[1]
    return c // a if a else None
