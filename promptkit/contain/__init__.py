"""The stage between text and parse: the prompts, regions and options a text holds, with their spans.

>>> doc = split_document('masterpiece, {prompt}, detailed background')
>>> doc.container, [(s.role, s.text) for s in doc.segments]
('a1111-styles-csv', [('positive', 'masterpiece, {prompt}, detailed background')])
>>> [(p.kind, p.name) for p in doc.segments[0].placeholders]
[('style', '{prompt}')]
"""

from .detect import CONTAINERS, ContainerError, canonical_container, detect_container, split_document
from .document import PROMPT_ROLES, Document, Placeholder, Segment

__all__ = ["CONTAINERS", "ContainerError", "Document", "PROMPT_ROLES", "Placeholder", "Segment",
           "canonical_container", "detect_container", "split_document"]
