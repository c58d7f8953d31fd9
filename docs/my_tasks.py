"""Your own task, defined outside the package: the parity of a bit string (see docs/own_tasks.md).

    python train.py configs/tiny.toml 'data.tasks={"docs/my_tasks.py:parity"=1}' data.seq_len=64
    minireason eval --checkpoint runs/tiny --task docs/my_tasks.py:parity --level all

A prompt is `parity 10110`; the thinking is the parity after each bit (`11011`), and the answer
is the last of them (`1`: an odd number of ones).
"""

from minireason.tasks import Task


def generate(rng, level):
    """(prompt, thinking, answer) for 1 to 8 * level bits: the length uniform, then the bits."""
    bits = "".join(rng.choice("01") for _ in range(rng.randint(1, 8 * level)))
    running, parity = "", 0
    for bit in bits:
        parity ^= int(bit)
        running += str(parity)
    return f"parity {bits}", running, str(parity)


def score(prompt, answer):
    """1.0 for the right parity, 0.0 for anything else (never raises: it is the RL reward too)."""
    bits = prompt.removeprefix("parity ")
    if bits == prompt or not 0 < len(bits) <= 64 or set(bits) - {"0", "1"}:
        return 0.0
    return 1.0 if answer.strip(" ") == str(bits.count("1") % 2) else 0.0


parity = Task("parity", min_level=1, max_level=3, level_help="strings of 1 to 8 * level bits",
              generate=generate, score=score)
