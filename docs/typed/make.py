"""Write the typed-prompt sets: problems as a person types them, made apart from the generators.

    python docs/typed/make.py        # rewrites docs/typed/TASK.txt, one prompt per line

Each set mixes hand-written prompts (the first ones people try, edge cases, famous examples)
with small grids and random draws written the way people write: short numbers, any order,
trailing zeros, repeated letters. Every prompt stays inside what the task's shipped SFT config
claims (its highest trained level), so a model is scored only on problems it says it can do.
`minireason eval --checkpoint runs/TASK_sft --task TASK --prompts docs/typed/TASK.txt` scores one.
cipher_sub.txt holds substitution ciphers (cipher level 3), for a model trained on them (docs/results.md).
"""

import random
from fractions import Fraction
from pathlib import Path

from minireason.tasks import countdown as cd
from minireason.tasks.logic import evaluate

HERE = Path(__file__).parent
rng = random.Random(2026)

add = ["1+1=", "0+0=", "2+2=", "0+7=", "7+0=", "1+9=", "5+5=", "10+10=", "99+1=", "1+99=", "100+200=", "999+1=",
       "123+456=", "45+55=", "500+500=", "7+993=", "250+250=", "12+9=", "64+36=", "999+999=", "100+1=", "11+11="]
add += [f"{a}+{b}=" for a in range(0, 13) for b in range(0, 13) if rng.random() < 0.4]
add += [f"{rng.randint(0, 999)}+{rng.randint(0, 99)}=" for _ in range(30)]
add += [f"{10 * rng.randint(1, 99)}+{10 * rng.randint(1, 99)}=" for _ in range(20)]

sub = ["1-1=", "0-0=", "5-0=", "0-5=", "10-3=", "3-10=", "100-1=", "1-100=", "500-250=", "7-7=", "999-1=", "100-99=",
       "42-17=", "17-42=", "900-899=", "20-30=", "30-20=", "123-456=", "456-123=", "12-21=",
       "99-100=", "50-5=", "5-50="]
sub += [f"{a}-{b}=" for a in range(0, 13) for b in range(0, 13) if rng.random() < 0.4]
sub += [f"{rng.randint(0, 999)}-{rng.randint(0, 999)}=" for _ in range(30)]
sub += [f"{rng.randint(0, 99)}-{rng.randint(0, 999)}=" for _ in range(20)]
sub += ["101-102=", "205-203=", "964-966=", "733-734=", "612-616=", "585-588=", "301-310=", "871-873="]  # same lead

mul = ["1*1=", "0*5=", "5*0=", "2*2=", "7*8=", "8*7=", "12*12=", "25*4=", "4*25=", "99*99=", "10*10=", "11*11=",
       "50*2=", "15*15=", "20*30=", "9*9=", "13*7=", "1*99=", "99*1=", "0*0="]
mul += [f"{a}*{b}=" for a in range(0, 13) for b in range(0, 13) if rng.random() < 0.4]
mul += [f"{rng.randint(10, 99)}*{rng.randint(0, 9)}=" for _ in range(20)]
mul += [f"{rng.randint(0, 99)}*{rng.randint(10, 99)}=" for _ in range(20)]

compare = ["9.11 vs 9.8", "9.8 vs 9.11", "9.9 vs 9.11", "0.5 vs 0.25", "1.5 vs 1.45", "3.14 vs 3.2", "19.00 vs 5",
           "5.000 vs 4.999", "2.50 vs 2.6", "10 vs 9.99", "0.1 vs 0.09", "7 vs 7.1", "12.5 vs 12.45", "1 vs 0.999",
           "20 vs 19.5", "3.0 vs 2.9", "2.10 vs 2.09", "0 vs 0.001", "6.5 vs 6.49",
           "19.9 vs 20", "4.20 vs 4.3", "1.01 vs 1.1", "8.0 vs 8.01", "15 vs 5.5", "0.75 vs 0.8"]


def decimal(whole_max: int, decimals: int, zeros: bool) -> str:
    whole = rng.randint(0, whole_max)
    if decimals == 0:
        return str(whole) + (".0" if zeros else "")
    digits = "".join(str(rng.randint(0, 9)) for _ in range(decimals))
    return f"{whole}.{digits}" + ("0" * rng.randint(1, 3 - decimals) if zeros and decimals < 3 else "")


while len(compare) < 120:
    a = decimal(20, rng.randint(0, 3), rng.random() < 0.3)
    b = decimal(20, rng.randint(0, 3), rng.random() < 0.3) if rng.random() < 0.5 else a.split(".")[0] + "." + str(
        rng.randint(0, 99))
    if Fraction(a) != Fraction(b) and len(a.partition(".")[2]) <= 3 and len(b.partition(".")[2]) <= 3:
        compare.append(f"{a} vs {b}")

words = ("strawberry mississippi banana bookkeeper committee balloon cheese apple hello pizza coffee success letter "
         "parallel address assess possess tomato potato cherry raspberry blueberry bubble puppy kitten rabbit giraffe "
         "elephant umbrella butterfly chocolate necessary occasion tomorrow beginning different a i cat dog sheep moon "
         "book tree little summer yellow google").split()
count = ["count r in strawberry", "count s in mississippi", "count p in mississippi", "count i in mississippi",
         "count a in banana", "count n in banana", "count e in bookkeeper", "count o in bookkeeper",
         "count k in bookkeeper", "count m in committee", "count t in committee", "count l in balloon",
         "count z in pizza", "count e in cheese", "count p in apple", "count l in hello", "count x in hello",
         "count a in a", "count b in a", "count i in i", "count s in success", "count c in success"]
while len(count) < 150:
    w = rng.choice(words)
    letter = rng.choice(w) if rng.random() < 0.8 else rng.choice("abcdefghijklmnopqrstuvwxyz")
    count.append(f"count {letter} in {w}")
count += ["count s in sss", "count c in cc", "count e in eee", "count x in xxx", "count z in zzzzzz", "count b in aaa"]
count += ["count q in q", "count x in x", "count k in k", "count q in z", "count z in q", "count i in a"]  # one letter

logic = ["T", "F", "!T", "!F", "!!T", "T&F", "T|F", "T^T", "F^T", "F|F", "T&T", "!(T&F)", "T&!F", "(T|F)&F",
         "T|F&F", "!T|T", "F^T^T", "(T&T)|(F&T)", "!(!T)", "T&(F|!T)", "!(T|F)&T", "(F|F)^(T&T)", "T^F|F",
         "F|T&T", "!T&!F", "(T^T)|!F", "T&T&T", "F|F|T", "!(T^F)", "(T|(F&T))&!F"]


def tree(depth: int) -> str:
    if depth == 0:
        return rng.choice(["T", "F", "!T", "!F"])
    op = rng.choice("&|^")
    left, right = tree(depth - 1), tree(rng.randint(0, depth - 1))
    text = f"{left}{op}{right}" if rng.random() < 0.5 else f"{right}{op}{left}"
    return f"({text})" if rng.random() < 0.6 else text


while len(logic) < 120:
    e = tree(rng.randint(1, 3))
    if e.startswith("(") and e.endswith(")") and rng.random() < 0.7:
        e = e[1:-1]
    if evaluate(e) is not None and len(e) <= 40:
        logic.append(e)
logic += ["(T)", "(F)", "((F))", "!(T)", "!(F)", "(T)|(F)", "T&(F)", "(F)^T"]  # a literal in parentheses
logic += ["!((T))", "!((F))", "((T))", "!!(T)", "!(!(F))"]  # two pairs of parentheses, (T) negated twice
logic += ["!!T&F", "F|!!T", "T&!!F", "!!(F)&T"]  # a literal negated twice inside an expression
logic += ["((T|F))", "((F&T))"]  # the whole expression in two pairs of parentheses

equation = ["x+5=3", "x-3=4", "5=x+2", "2x=6", "3x+5=20", "-x=4", "2x-4=0", "10-x=3", "7-2x=-3", "20=3x+5",
            "4x=-12", "-3x+9=0", "x+20=10", "5x-25=0", "x-1=0", "x+1=1", "9=x", "2x+1=7", "-x+4=1", "6=2x", "0=x-8", "3x=0", "x+10=-10", "-2x=-8", "8-x=8", "1+x=1", "x-7=-7"]


def term(a: int) -> str:
    return {1: "x", -1: "-x"}.get(a, f"{a}x")


while len(equation) < 200:
    a, x = rng.choice([1, 1, 1, -1, 2, 3, 4, 5, -2, -3, 6, 7, 8, 9]), rng.randint(-10, 10)
    b = rng.randint(-20, 20)
    c = a * x + b
    left = rng.choice([f"{term(a)}{'+' if b >= 0 else ''}{b}", f"{b}{'+' if a > 0 else ''}{term(a)}"]) if b else term(a)
    equation.append(f"{left}={c}" if rng.random() < 0.7 else f"{c}={left}")
equation += ["x+0=5", "x-0=3", "0+x=0", "3x+0=12", "0-x=4", "2x-0=-8", "7=0+x", "0=x+0"]  # a constant 0 written out

countdown = ["make 24 from 2 5 7", "make 10 from 2 3 5", "make 24 from 4 6 1", "make 12 from 3 4 1",
             "make 15 from 5 3 1", "make 7 from 2 3 2", "make 24 from 8 3 1", "make 20 from 10 2 1", "make 9 from 3 3 3",
             "make 5 from 2 3", "make 6 from 2 3", "make 1 from 5 4", "make 30 from 5 6 1", "make 13 from 9 4 8",
             "make 48 from 12 4 1", "make 11 from 12 1", "make 21 from 7 3", "make 60 from 12 5 1", "make 8 from 2 2 2", "make 2 from 7 5"]
while len(countdown) < 150:
    values = [rng.randint(1, 12) for _ in range(rng.choice([2, 3, 3]))]
    target = cd._random_target(rng, values)
    if 1 <= target <= 60:
        countdown.append(f"make {target} from {' '.join(map(str, values))}")

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def enciphered(text: str, key: str) -> str:
    return text.translate(str.maketrans(LETTERS, key))


def shifted(k: int) -> str:
    return LETTERS[k:] + LETTERS[:k]


# (example, message, shift): the ones people try first (hello world under Caesar's 3, rot13, one back, none)
shifts = [("hello", "world", 1), ("hello", "world", 3), ("hello", "world", 13), ("hello", "world", 25),
          ("hello", "world", 0), ("abc", "hello", 1), ("a", "hello", 3), ("a", "cat", 1), ("cat", "dog", 2),
          ("yes", "no", 5), ("zoo", "apple", 1), ("attack", "at dawn", 3), ("secret", "message", 7), ("hi", "a", 4),
          ("good", "night moon", 10), ("hello", "hello", 6), ("abc", "xyz", 2), ("z", "a b c", 1), ("moon", "noon", 13),
          ("i am", "here", 20), ("dog", "a cat", 24), ("pizza", "pasta", 9)]
cipher = [f"decode: {enciphered(e, shifted(k))}={e}; {enciphered(m, shifted(k))}" for e, m, k in shifts]
atbash = LETTERS[::-1]
# (example, message): a substitution whose example holds every letter of the message
substitutions = [("hello world", "low"), ("the cat", "hat"), ("sun and moon", "moss"), ("secret code", "deer"),
                 ("good luck", "dog"), ("big red car", "crab"), ("apple pie", "pale"), ("my cat is", "city"),
                 ("sea and sky", "snake"), ("hot tea", "toe"), ("fish and chips", "dish"), ("one two", "note")]
# substitutions are level 3, past the shipped shift recipe: their own set, for a model trained on level 3
cipher_sub = [f"decode: {enciphered(e, key)}={e}; {enciphered(m, key)}"
              for i, (e, m) in enumerate(substitutions)
              for key in [atbash if i % 4 == 0 else "".join(rng.sample(LETTERS, 26))]]
while len(cipher) < 50:  # a shift, one or two words of example, one to three words to decode
    k = rng.randrange(26)
    e = " ".join(rng.sample([w for w in words if len(w) <= 5], rng.choice([1, 1, 2])))
    m = " ".join(rng.sample([w for w in words if len(w) <= 5], rng.randint(1, 3)))
    if len(m.replace(" ", "")) <= 15:
        cipher.append(f"decode: {enciphered(e, shifted(k))}={e}; {enciphered(m, shifted(k))}")
cipher += [f"decode: {enciphered(e, shifted(k))}={e}; {enciphered(m, shifted(k))}"  # one-letter words to decode
           for e, m, k in [("abc", "x y z", 3), ("hello", "b", 7), ("cat", "a dog", 11), ("moon", "i see u", 5)]]

for name, prompts in dict(add=add, sub=sub, mul=mul, compare=compare, count=count, logic=logic, equation=equation,
                          countdown=countdown, cipher=cipher, cipher_sub=cipher_sub).items():
    unique = list(dict.fromkeys(prompts))
    (HERE / f"{name}.txt").write_text("\n".join(unique) + "\n")
    print(f"{name}: {len(unique)} prompts")
