"""Train a model: python train.py CONFIG.toml [section.key=value ...]

The recipe itself, to read top to bottom, is minireason/train.py; this script only runs it, so
that `python train.py` works in a checkout and `minireason train` (the same code) anywhere once
the package is installed.
"""

import sys

from minireason.train import cli

if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
