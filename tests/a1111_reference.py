"""An independent re-implementation of A1111's ``parse_prompt_attention``, written for the tests from the
behaviour documented in shared/reference/embedding-weighting.md (1.1): one regex scan, separate stacks for
round and square brackets, ``multiply_range`` when a bracket closes, unclosed brackets applied at the end
(round first, then square), BREAK split out of text runs, and adjacent equal weights merged.
promptkit computes the same thing from its tree; these tests compare the two on real and random prompts.
"""

import re

TOKEN = re.compile(
    r"\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|]|[^\\()\[\]:]+|:"
)
BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


def parse_prompt_attention(text):
    res = []
    round_open, square_open = [], []

    def scale(start, factor):
        for item in res[start:]:
            item[1] *= factor

    for m in TOKEN.finditer(text):
        tok, weight = m.group(0), m.group(1)
        if tok.startswith("\\"):
            res.append([tok[1:], 1.0])
        elif tok == "(":
            round_open.append(len(res))
        elif tok == "[":
            square_open.append(len(res))
        elif weight is not None and round_open:
            try:
                factor = float(weight)
            except ValueError:  # A1111 raises here; promptkit keeps the text (documented difference)
                return None
            scale(round_open.pop(), factor)
        elif tok == ")" and round_open:
            scale(round_open.pop(), 1.1)
        elif tok == "]" and square_open:
            scale(square_open.pop(), 1 / 1.1)
        else:
            for i, part in enumerate(BREAK.split(tok)):
                if i:
                    res.append(["BREAK", -1])
                res.append([part, 1.0])
    for pos in round_open:
        scale(pos, 1.1)
    for pos in square_open:
        scale(pos, 1 / 1.1)
    if not res:
        res = [["", 1.0]]
    merged = [res[0]]
    for item in res[1:]:
        if merged[-1][1] == item[1]:
            merged[-1][0] += item[0]
        else:
            merged.append(item)
    return [(t, w) for t, w in merged]
