"""Train and sampler speed; see minireason/bench.py. Same as `minireason bench`."""

from minireason.bench import main

if __name__ == "__main__":
    main()
