"""Train and sampler speed; see minireason/bench.py. Same as `minireason bench`."""

import sys

from minireason.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
