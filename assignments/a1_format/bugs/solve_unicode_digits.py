"""Digits are checked with str.isdigit(), which accepts non-ASCII digits such as '٣' (and int() reads them)."""


def _side(text):
    coef = const = terms = 0
    i = 0
    while i < len(text):
        sign = 1
        if text[i] in "+-" and (i > 0 or text[i] == "-"):
            sign, i = (-1 if text[i] == "-" else 1), i + 1
        elif i > 0:
            return None
        j = i
        while j < len(text) and text[j].isdigit():
            j += 1
        digits = text[i:j]
        if len(digits) > 9 or (len(digits) > 1 and digits[0] == "0"):
            return None
        if j < len(text) and text[j] == "x":
            coef, j = coef + sign * int(digits or "1"), j + 1
        elif digits:
            const += sign * int(digits)
        else:
            return None
        i, terms = j, terms + 1
    return (coef, const) if 0 < terms <= 4 else None


def solve(equation):
    if len(equation) > 64 or equation.count("=") != 1:
        return None
    left, right = (_side(s) for s in equation.split("="))
    if left is None or right is None:
        return None
    a, c = left[0] - right[0], right[1] - left[1]
    return c // a if a and c % a == 0 else None
