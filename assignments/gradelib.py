"""What every assignment's checks are made of: parts with points, and failures that explain themselves.

A check raises `Fail` with a message written for the student: which property failed, on what
small input, what was expected and what came back. `close` compares arrays that way.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np


class Fail(Exception):
    """A check did not pass; str(self) is shown to the student as it is."""


@dataclass(frozen=True)
class Part:
    name: str  # also the pytest marker suffix: `a1_render`
    points: int
    title: str  # one line: what the part grades
    check: Callable  # check(module) -> None; raises Fail (or anything, which the worker explains)
    timeout: float  # seconds; student code past it is stopped and the part scores 0


class Parts(list):
    """An assignment's parts in grading order; `@parts("name", points, "title")` registers a check."""

    def __call__(self, name: str, points: int, title: str, timeout: float = 30.0):
        def register(check):
            self.append(Part(name, points, title, check, timeout))
            return check
        return register


def show(x) -> str:
    """A short printable form of a value: small arrays in full, rounded; big ones by shape."""
    if isinstance(x, (list, tuple)) and not any(hasattr(v, "shape") for v in x):
        return repr(x)
    a = np.asarray(x)
    if a.size > 24:
        return f"array of shape {a.shape}"
    return np.array2string(a, precision=4, suppress_small=True, separator=", ").replace("\n", "")


def close(got, want, what: str, given: str = "", rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Fail unless `got` matches `want` in shape and value; the message shows where and by how much."""
    on = f" on {given}" if given else ""
    if got is None:
        raise Fail(f"{what}{on}: got None (did you forget a `return`?)")
    g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise Fail(f"{what}{on}: expected shape {w.shape}, got {g.shape}")
    if np.isnan(g).any() and not np.isnan(w).any():
        raise Fail(f"{what}{on}: got NaN at index {tuple(int(i) for i in np.argwhere(np.isnan(g))[0])}; "
                   f"expected {show(w)}")
    bad = ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        detail = f"expected {show(w)}, got {show(g)}" if w.size <= 24 else \
            f"at index {i} expected {w[i]:.6g}, got {g[i]:.6g} ({int(bad.sum())} of {w.size} entries differ)"
        raise Fail(f"{what}{on}: {detail}")


def require(ok, message: str) -> None:
    if not ok:
        raise Fail(message)
