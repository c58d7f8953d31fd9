"""One kind of error for every problem the user can fix: a bad config key or value, an unknown
task, a missing or damaged checkpoint, a malformed input file or command-line value.

`train.py` and the `minireason` command print it as one line on stderr (`error: ...`) and exit
with status 2. Anything else is a bug in minireason and keeps its traceback.
"""


class UserError(Exception):
    """What is wrong and how to fix it, in one line."""
