"""Assignment a1: the chain-of-thought format and a strict verifier. Fill in every function that raises
NotImplementedError.

Read README.md next to this file first. Grade yourself with `python assignments/grade.py a1`.
You may use the vocabulary from minireason.tokenizer (`encode`, `decode`, and the ids BOS_ID, EOS_ID,
THINK_ID, END_THINK_ID); everything else you write yourself.
"""

from minireason.tokenizer import BOS_ID, END_THINK_ID, EOS_ID, THINK_ID, decode, encode  # noqa: F401


def render(example, think=True):
    """(ids, loss_mask) of one worked example, two lists of ints of the same length.

    example: has .prompt, .thinking and .answer (strings of printable ASCII).
    ids:  <bos> PROMPT <think> THINKING </think> ANSWER <eos>
          (think=False, the no-think format: <bos> PROMPT <think></think> ANSWER <eos>)
    loss_mask: 1 on every token after <think> (the thinking, </think>, the answer and <eos>), 0 on
          <bos>, the prompt and <think>: the model learns to reason, never to predict the question.
    Example: prompt "1+2=", thinking "3", answer "3" gives 10 ids and mask [0,0,0,0,0,0,1,1,1,1].
    """
    raise NotImplementedError


def parse_completion(ids):
    """Split what a model wrote after <think> into (thinking, answer, well_formed).

    ids: list of token ids. Only the part before the first <eos> counts (the body).
    well_formed: the body has exactly one </think> and no <think> or <bos>, and an <eos> was written.
    thinking: decode(body before the first </think>) (the whole body when there is none);
    answer: decode(body after the first </think>) ("" when there is none).
            Example: [*encode("ab"), END_THINK_ID, *encode("7"), EOS_ID, *encode("zz")] -> ("ab", "7", True).
    """
    raise NotImplementedError


def solve(equation):
    """The integer solution x of a linear equation such as "3x+5=20", "7-2x=-3", "20=3x+5"; None otherwise.

    Grammar (anything else gives None; never raise, whatever the text):
      - at most 64 characters, exactly one "=", and each side a sum of 1 to 4 terms;
      - a term is an optional sign, then either digits, or digits followed by "x", or "x" alone;
        the first term of a side may have a "-" (not a "+"); every later term needs a "+" or "-";
      - digits are ASCII 0-9 only, at most 9 of them, no leading zero ("0" alone is fine): "٣", "07", "1e3" are not;
      - no spaces, no "*", no "X".
    Gather a*x = c from both sides; None when a == 0 or when c / a is not an integer.
    Example: "7-2x=-3" -> 5, "x=x" -> None, "2x=3" -> None, "3x+5=20=1" -> None.
    """
    raise NotImplementedError


def score(prompt, answer):
    """1.0 if `answer` is exactly the solution of the equation `prompt`, else 0.0; it never raises.

    The answer must be the integer as Python's str() writes it ("5", "-8"); spaces around it are
    forgiven (" 5 " is right) and nothing else is: "+5", "05", "5.0", "x=5", "5 or 6", "٥" are wrong.
    A prompt that `solve` rejects scores 0.0 with any answer.
    """
    raise NotImplementedError
