"""Count a letter in a word: `count r in strawberry` -> `3` (an absent letter counts `0`).

Why it is in the suite: "how many r's in strawberry?" is the famous failure of models that see
words as tokens instead of letters, and was OpenAI's own teaser for o1 ("Strawberry"). Thinking
fixes it the slow way: spell the word out and keep a running count.

Trace: every letter of the word followed by the count so far, separated by spaces:

    count r in strawberry   thinking `s0 t0 r1 a1 w1 b1 e1 r2 r3 y3`   answer `3`

Levels: the longest word is 5 / 8 / 12 / 14 letters at levels 1 / 2 / 3 / 4; level 4 also uses
random lowercase strings up to 14 letters and level 5 random strings up to 20. Words come from
words.txt, a hand-written list of a few thousand English words.

Draws lean towards what people ask about: three words in ten come from the words with a doubled
letter or a letter three or more times (mississippi, bookkeeper, banana), one in thirty is one
letter (`count a in a`, `count q in q`) and one in thirty a letter over and over (`count s in
sss`). Four times in five (half the time in a one-letter word) the letter is one of the word's
own, a third of those times its most frequent one (`count s in mississippi`); otherwise it is a
letter the word lacks (answer `0`; `count q in z`). Each prompt is its own problem for the
held-out split.
"""

import random
import string
from importlib import resources

from .base import Example, Task, exact

WORDS = resources.files(__package__).joinpath("words.txt").read_text().split()
# Words where counting is easy to get wrong: a doubled letter, or one letter three or more times.
REPEATS = [w for w in WORDS if max(map(w.count, w)) >= 3 or any(x == y for x, y in zip(w, w[1:]))]
MAX_WORD = {1: 5, 2: 8, 3: 12, 4: 14}
MAX_RANDOM = {4: 14, 5: 20}  # levels that also use random strings, and their longest


def _word(rng: random.Random, level: int) -> str:
    if rng.random() < 1 / 30:  # one letter: the English words `a` and `i` half the time, else any (`count q in q`)
        return rng.choice("ai" if rng.random() < 0.5 else string.ascii_lowercase)
    if rng.random() < 1 / 30:  # one letter over and over: `sss`, `zzzzzz`
        return rng.choice(string.ascii_lowercase) * rng.randint(2, MAX_WORD.get(level, MAX_RANDOM.get(level, 0)))
    if level in MAX_RANDOM and (level not in MAX_WORD or rng.random() < 0.5):
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, MAX_RANDOM[level])))
    words = REPEATS if rng.random() < 0.3 else WORDS
    while True:
        word = rng.choice(words)
        if len(word) <= MAX_WORD[level]:
            return word


def generate(rng: random.Random, level: int) -> Example:
    word = _word(rng, level)
    if rng.random() < (0.5 if len(word) == 1 else 0.8):  # one letter: as often another (`count q in z`)
        letter = max(word, key=word.count) if rng.random() < 1 / 3 else rng.choice(word)
    else:
        letter = rng.choice([c for c in string.ascii_lowercase if c not in word])
    steps, n = [], 0
    for c in word:
        n += c == letter
        steps.append(f"{c}{n}")
    return Example(f"count {letter} in {word}", " ".join(steps), str(n))


def _is_lower_word(text: str) -> bool:
    return text.isascii() and text.isalpha() and text.islower()


def score(prompt: str, answer: str) -> float:
    parts = prompt.split(" ") if len(prompt) <= 100 else []
    if len(parts) != 4 or parts[0] != "count" or parts[2] != "in":
        return 0.0
    letter, word = parts[1], parts[3]
    if len(letter) != 1 or not _is_lower_word(letter) or not _is_lower_word(word):
        return 0.0
    return exact(answer, str(word.count(letter)))


TASK = Task(
    name="count",
    min_level=1,
    max_level=5,
    level_help="longest word 5/8/12/14 letters (levels 1-4); random strings up to 14 (level 4) and 20 (level 5)",
    generate=generate,
    score=score,
)
