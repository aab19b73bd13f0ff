"""Count tags (``1girl``, ``2boys``, ``6+girls``, ``multiple_girls``): how many people a caption says there are."""

from __future__ import annotations

import re

_PEOPLE = re.compile(r"^(\d+)\+?(girl|boy|other)s?$")
_MULTIPLE = frozenset({"multiple_girls", "multiple_boys", "multiple_others"})


def people_in(name: str) -> int:
    """People a single normalized tag counts: ``2girls`` -> 2, ``multiple_boys`` -> 2 (at least), else 0."""
    m = _PEOPLE.match(name)
    if m:
        return int(m.group(1))
    return 2 if name in _MULTIPLE else 0
