"""The package's own answers to assignment a1, behind the names student.py uses.

`grade.py a1 --solution` grades this file; a teacher keeps it (and bugs/) out of the handout.
"""

from minireason.tasks.equation import score, solve
from minireason.tokenizer import parse_completion, render

__all__ = ["render", "parse_completion", "solve", "score"]
