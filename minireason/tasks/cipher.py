"""Cipher: decode a message from one example of the cipher, `decode: ifmmp=hello; xpsme` -> `world`.

Why it is in the suite: the first worked example in OpenAI's o1 announcement is a cipher. Given
one enciphered text and its plain text, the model must work out the rule and then apply it to a
new message: induction from an example, then careful letter-by-letter execution. Answering at a
glance means doing every lookup at once; the trace makes each a small local step.

Prompt: `decode: CIPHER=PLAIN; MESSAGE`, lowercase words with single spaces. Spaces are not
enciphered, so the two sides of the example have the same word lengths; the answer is the
decoded message with its spaces. A message has one right answer when every letter it uses is in
the example (any one-to-one substitution), or when the example is a shift (Caesar) cipher: every
letter moved the same number of places, so it decodes letters the example lacks too. The scorer
gives 0 to every answer of a prompt that is neither, or is malformed (mismatched word lengths, a
letter enciphered two ways, two letters enciphered as one).

Trace: two parts joined by `;`. A shift example gives its key, the distance of its first pair as a
letter counted from a=0 (`i-h=b`: one place), and then the message is decoded letter by letter,
each cipher letter followed by itself minus the key, words separated by `,`:

    decode: ifmmp=hello; xpsme   thinking `i-h=b;xw po sr ml ed`   answer `world`

A substitution example is instead read in step, cipher letter then plain letter, pairs separated by
spaces and words by `,` (`ih fe ml ml po`), and each message letter is looked up in that table.

Why this shape: every step is small and local. The key needs only the two first letters (found by
what precedes them: `: ` and `=`) and one 26x26 table of letter subtraction; a decoded letter is the
letter just written minus the key, the same table. A small model learns that table quickly, while
reading two strings in step (the substitution table) takes it longer: with 3 layers of width 128 and
1,500 steps, shifts reach 96% at level 2 and substitutions alone 82% at level 3 (docs/results.md).
The trace is a function of the prompt (the scorer's solver says which kind an example is), so a
model trained on one kind never has to decide; one trained on both would have to see it first.

Levels (cipher kind, example, message; letters not counting spaces):
1 shift, example one word <= 6 letters, message one word <= 6 letters;
2 shift, example 1-2 words <= 10 letters, message 1-3 words <= 15 letters;
3 substitution, example 2-3 words <= 14 letters, message 1-2 words <= 8 letters;
4 substitution, example 2-4 words <= 22 letters, message 1-3 words <= 14 letters;
5 either kind, example 2-4 words <= 26 letters, message 1-4 words <= 20 letters.

Draws lean towards what people try: shifts 0, 1, 3 (Caesar's), 13 (rot13) and 25 three times in
ten, the others uniform; a substitution is atbash (a<->z, b<->y) one time in ten, else a random
one. Examples are words from words.txt, sometimes a run of the alphabet (`abc`) or one letter
(`d=a`); message words are from words.txt (three in ten with a repeated letter), random letters
(one in four), or one letter (one in fifteen; half of those `a` or `i`); one message in thirty
decodes a word of the example's cipher text. Substitution messages use only the example's
letters. The held-out split keys on the message and its decoding, so one message under one cipher
is one problem whatever the example.
"""

import random
import re
import string

from .base import Example, Task, exact
from .count import REPEATS, WORDS

LETTERS = string.ascii_lowercase
SPECIAL_SHIFTS = (0, 1, 3, 13, 25)  # none, one place either way, Caesar's own, rot13
ATBASH = LETTERS[::-1]
# level: (kind, example words, example letters, message words, message letters)
LEVELS = {1: ("shift", 1, 6, 1, 6), 2: ("shift", 2, 10, 3, 15), 3: ("substitution", 3, 14, 2, 8),
          4: ("substitution", 4, 22, 3, 14), 5: ("either", 4, 26, 4, 20)}
MAX_PROMPT = 200
TEXT = r"[a-z]+(?: [a-z]+)*"  # lowercase words, single spaces
PROMPT = re.compile(f"decode: ({TEXT})=({TEXT}); ({TEXT})")


def _mask(text: str) -> int:
    """The set of letters in text, as bits (a subset test is then one `&`)."""
    return sum(1 << (ord(c) - ord("a")) for c in set(text))


POOLS = {name: sorted(pool, key=len) for name, pool in (("all", WORDS), ("repeats", REPEATS))}
MASKS = {name: [_mask(w) for w in pool] for name, pool in POOLS.items()}
SHORTER = {name: [sum(len(w) <= n for w in pool) for n in range(30)] for name, pool in POOLS.items()}


def _word(rng: random.Random, room: int, letters: str, random_share: float) -> str:
    """At most `room` letters, spelled with `letters` only: an English word, a one-letter word or random letters."""
    if room == 1 or rng.random() < 1 / 15:  # one letter: `a` or `i` half the time, else any (`a=z; b c d`)
        english = [w for w in "ai" if w in letters]
        return rng.choice(english if english and rng.random() < 0.5 else letters)
    if rng.random() < random_share:
        if rng.random() < 0.1:  # one letter repeated: `zzz`
            return rng.choice(letters) * rng.randint(2, room)
        return "".join(rng.choices(letters, k=rng.randint(1, room)))
    name = "repeats" if rng.random() < 0.3 else "all"
    pool, n = POOLS[name], SHORTER[name][min(room, 29)]
    if letters == LETTERS and n:
        return pool[rng.randrange(n)]
    outside = ~_mask(letters)
    spelled = [w for w, m in zip(pool[:n], MASKS[name]) if not m & outside]
    return rng.choice(spelled) if spelled else "".join(rng.choices(letters, k=rng.randint(1, room)))


def _phrase(rng: random.Random, words: tuple[int, int], letters: int, alphabet: str = LETTERS,
            random_share: float = 1 / 4) -> str:
    out: list[str] = []
    for _ in range(rng.randint(*words)):
        room = letters - sum(map(len, out))
        if room < 1:
            break
        out.append(_word(rng, room, alphabet, random_share))
    return " ".join(out)


def _example(rng: random.Random, kind: str, words: int, letters: int) -> str:
    """The example's plain text: mostly English words, now and then a run of the alphabet or one letter."""
    if kind == "shift" and rng.random() < 0.1:
        if rng.random() < 0.5:
            return rng.choice(LETTERS)
        start = rng.randrange(26 - 3)
        return LETTERS[start:start + rng.randint(3, min(letters, 26 - start))]
    while True:  # a substitution example of one short word decodes little: two words at least
        text = _phrase(rng, (1 if kind == "shift" else 2, words), letters, random_share=0.1)
        if kind == "shift" or len(set(text) - {" "}) >= 4:
            return text


def generate(rng: random.Random, level: int) -> Example:
    kind, ex_words, ex_letters, msg_words, msg_letters = LEVELS[level]
    if kind == "either":
        kind = rng.choice(["shift", "substitution"])
    if kind == "shift":
        k = rng.choice(SPECIAL_SHIFTS) if rng.random() < 0.3 else rng.randrange(26)
        key = LETTERS[k:] + LETTERS[:k]  # plain letter i -> key[i]
    else:
        key = ATBASH if rng.random() < 0.1 else "".join(rng.sample(LETTERS, 26))
    encipher = str.maketrans(LETTERS, key)
    plain = _example(rng, kind, ex_words, ex_letters)
    echo = [w for w in plain.split(" ") if len(w) <= msg_letters]
    if rng.random() < 1 / 30 and echo:
        message = rng.choice(echo)  # decoding a word of the example's own cipher text back
    else:
        alphabet = LETTERS if kind == "shift" else "".join(sorted(set(plain) - {" "}))
        message = _phrase(rng, (1, msg_words), msg_letters, alphabet)
    prompt = f"decode: {plain.translate(encipher)}={plain}; {message.translate(encipher)}"
    return Example(prompt, _trace(*PROMPT.fullmatch(prompt).groups(), message), message)


def _shift(cipher: str, plain: str) -> int | None:
    """The key when every letter of the example moved the same number of places; None for a substitution."""
    shifts = {(ord(c) - ord(p)) % 26 for c, p in zip(cipher, plain) if c != " "}
    return shifts.pop() if len(shifts) == 1 else None


def _trace(cipher: str, plain: str, message: str, decoded: str) -> str:
    def pairs(a: str, b: str) -> str:
        return ",".join(" ".join(x + y for x, y in zip(u, v)) for u, v in zip(a.split(" "), b.split(" ")))

    k = _shift(cipher, plain)
    if k is not None:  # a shift: the key, then every message letter minus the key
        return f"{cipher[0]}-{plain[0]}={LETTERS[k]};{pairs(message, decoded)}"
    return f"{pairs(cipher, plain)};{pairs(message, decoded)}"  # a substitution: the table, then lookups


# --- scoring ------------------------------------------------------------------------------------

def solve(prompt: str) -> tuple[str, str, str, str] | None:
    """(cipher, plain, message, decoded message), or None when the prompt is malformed or has no one answer."""
    m = PROMPT.fullmatch(prompt) if len(prompt) <= MAX_PROMPT else None
    if m is None:
        return None
    cipher, plain, message = m.groups()
    if [len(w) for w in cipher.split(" ")] != [len(w) for w in plain.split(" ")]:
        return None
    table: dict[str, str] = {}
    for c, p in zip(cipher.replace(" ", ""), plain.replace(" ", "")):
        if table.setdefault(c, p) != p:
            return None  # one cipher letter, two plain letters
    if len(set(table.values())) != len(table):
        return None  # two cipher letters, one plain letter: not a cipher one can decode
    k = _shift(cipher, plain)
    if k is not None:  # a shift cipher decodes every letter, in the example or not
        table = {c: LETTERS[(i - k) % 26] for i, c in enumerate(LETTERS)}
    table[" "] = " "
    if not set(message) <= table.keys():
        return None  # a letter the example lacks, and no shift to decode it with
    return cipher, plain, message, "".join(table[c] for c in message)


def score(prompt: str, answer: str) -> float:
    solved = solve(prompt) if len(answer) <= MAX_PROMPT else None
    return 0.0 if solved is None else exact(answer, solved[3])


def check_thinking(prompt: str, thinking: str) -> bool:
    """The trace is a function of the prompt: every step is checked by writing the right trace and comparing."""
    solved = solve(prompt)
    return solved is not None and thinking == _trace(*solved)


def problem(prompt: str) -> str:
    """The message and its decoding: one message under one cipher is one problem, whatever the example."""
    solved = solve(prompt)
    return prompt if solved is None else f"{solved[2]}>{solved[3]}"


TASK = Task(
    name="cipher",
    min_level=1,
    max_level=5,
    level_help="1-2 shift (Caesar) cipher, messages up to 6/15 letters; 3-4 substitution, up to 8/14 letters; "
               "5 either, up to 20",
    generate=generate,
    score=score,
    check_thinking=check_thinking,
    problem=problem,
)
