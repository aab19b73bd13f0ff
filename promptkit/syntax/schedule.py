"""A1111 prompt editing and alternation: which prompt text is active at which sampling step.

``prompt_schedules(text, steps)`` gives what A1111's ``get_learned_conditioning_prompt_schedules`` gives:
a list of ``(last_step, text)`` pairs, e.g. ``[a:b:10]`` at 20 steps -> ``[(10, "a"), (20, "b")]``.
Rules reproduced (see ``grammars/a1111_schedule.lark``):

- ``when`` with a decimal point is a fraction of the steps, otherwise a step number;
- with ``hires_steps`` the schedule is for the hires pass: integers count from the end of the first pass
  (``when - steps``), fractions from 1.0 (``(when - 1) * hires_steps``);
- ``[a|b]`` changes every step; nesting works; a prompt the schedule grammar cannot parse
  (a bare ``|``, a trailing backslash) is used unchanged for every step.
"""

from __future__ import annotations

import functools
from typing import Iterator

from .._resources import grammar_path


@functools.cache
def _schedule_parser():
    from lark import Lark

    return Lark(grammar_path("a1111_schedule").read_text(encoding="utf-8"), parser="earley",
                maybe_placeholders=True)


def prompt_schedules(text: str, steps: int, hires_steps: int | None = None) -> list[tuple[int, str]]:
    if hires_steps is None:
        int_offset, float_offset, total = 0, 0.0, steps
    else:
        int_offset, float_offset, total = steps, 1.0, hires_steps
    if "[" not in text:  # nothing to schedule; A1111 gives the text itself for every step
        return [(total, text)]
    return list(_cached_schedule(text, total, int_offset, float_offset))


@functools.lru_cache(maxsize=4096)
def _cached_schedule(text: str, total: int, int_offset: int, float_offset: float) -> tuple[tuple[int, str], ...]:
    from lark import Token, Tree
    from lark.exceptions import LarkError

    try:
        tree = _schedule_parser().parse(text)
    except LarkError:
        return ((total, text),)

    # Resolve every switch point to a step once (A1111 rewrites the NUMBER child in place the same way).
    switch_steps = {total}
    for node in tree.iter_subtrees():
        if node.data == "scheduled":
            number = str(node.children[-2])
            value = float(number)
            value = (value - float_offset) * total if "." in number else value - int_offset
            when = min(total, int(value))
            node.children[-2] = when
            if when >= 1:
                switch_steps.add(when)
        elif node.data == "alternate":
            switch_steps.update(range(1, total + 1))

    def text_at(step: int) -> str:
        out: list[str] = []
        # Iterative walk: (node) items; strings and tokens are emitted, trees expanded in order.
        stack: list = [tree]
        while stack:
            node = stack.pop()
            if node is None:
                continue
            if isinstance(node, Token):
                out.append(str(node))
                continue
            if isinstance(node, str):
                out.append(node)
                continue
            if isinstance(node, int):  # a resolved switch step is never text
                continue
            assert isinstance(node, Tree)
            if node.data == "scheduled":
                before, after = node.children[0], node.children[1]
                when = node.children[-2]
                stack.append(before if step <= when else after)
            elif node.data == "alternate":
                options = node.children
                stack.append(options[(step - 1) % len(options)] or "")
            elif node.data == "plain":
                out.append(str(node.children[0]))
            else:
                stack.extend(reversed(node.children))
        return "".join(out)

    return tuple((step, text_at(step)) for step in sorted(switch_steps))


def iter_schedule_texts(text: str, steps: int) -> Iterator[str]:
    """The distinct prompt texts a schedule uses, in order of first use."""
    seen: set[str] = set()
    for _, t in prompt_schedules(text, steps):
        if t not in seen:
            seen.add(t)
            yield t
