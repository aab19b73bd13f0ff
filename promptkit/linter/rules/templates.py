"""Template rules (PK4xx): dynamic-prompts templates and their wildcard folders.

These rules judge a whole template against its wildcard folder, not one prompt, so they are checked by
:func:`promptkit.linter.templates.lint_template`; in the per-prompt engine their :meth:`check` finds nothing.
Each option of a template is itself linted as a prompt fragment by the regular rules, at its own span
(``promptkit.syntax.dynamic.option_spans``).
"""

from __future__ import annotations

from typing import Iterable

from ..diagnostics import Diagnostic, Severity
from ..rule import LintContext, Rule


class TemplateRule(Rule):
    category = "template"
    default = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        return ()  # see lint_template


class TemplateSyntax(TemplateRule):
    """A template that dynamic prompts cannot read: an unclosed ``{``, a stray ``$``, ``%`` or ``__``.

    Why: sd-dynamic-prompts stops with a parse error and makes no image (or, in some front ends, sends the
    template through as the prompt, braces and all).

    Example: ``1girl, {red|blue eyes`` -> ``1girl, {red|blue} eyes``.

    Off by default: every PK400 on the modern corpus was another extension's syntax (prompt-postprocessor's
    ``<ppp:...>`` and ``${x[]=...}``), which is right for that extension.
    """

    code = "PK400"
    name = "template-syntax"
    severity = Severity.ERROR
    default = False


class MissingWildcard(TemplateRule):
    """A ``__wildcard__`` that names no file (or YAML/JSON key) in the wildcard folder.

    Why: sd-dynamic-prompts then puts the ``__name__`` text itself into every prompt (and inside a ``{}``
    variant never finishes). Usually a typo or a file moved into a subfolder; the nearest names are listed.

    Example: ``__hair_colours__`` when the folder has ``hair_colors.txt`` -> ``__hair_colors__``.
    """

    code = "PK401"
    name = "missing-wildcard"
    severity = Severity.ERROR


class EmptyOption(TemplateRule):
    """A second empty option in one variant, or an empty option in a ``{n$$...}`` variant.

    Why: ``{|red|blue}`` (one empty option: sometimes nothing) is a common idiom and is not reported; but
    two empty options are one (the reference merges options written the same), and in ``{2$$a||b}`` the empty
    option makes prompts with a dangling or doubled separator (``a,``).

    Example: ``{2$$red||blue}`` -> ``{2$$red|blue}`` or ``{1-2$$red|blue}``.
    """

    code = "PK402"
    name = "empty-option"


class WildcardCycle(TemplateRule):
    """Wildcard files that use each other in a circle (``a.txt`` has ``__b__``, ``b.txt`` has ``__a__``).

    Why: expansion never ends: sd-dynamic-prompts fails with a recursion error. The message shows the chain
    and the file and line that closes it.

    Example: ``colors.txt`` line ``__colors__ and white`` -> name another file.
    """

    code = "PK403"
    name = "wildcard-cycle"
    severity = Severity.ERROR


class RepeatedOption(TemplateRule):
    """An option written twice in one variant (``{red|blue|red}``), or a line written twice in a wildcard file.

    Why: the repeat means different things to different readers. In a variant, sd-dynamic-prompts' random
    mode picks ``red`` twice as often while its combinatorial mode makes it once; in a wildcard file it
    reads the line once, while A1111's own wildcards extension picks it twice as often. Whatever was meant,
    a weight says it for all of them (``{2::red|blue}``); a long list's forgotten repeat is a slip.

    Example: ``{red|blue|red}`` -> ``{2::red|blue}`` (or ``{red|blue}``).
    """

    code = "PK404"
    name = "repeated-option"


class TooManyPrompts(TemplateRule):
    """A template that makes more prompts than the limit (100,000 unless set).

    Why: combinatorial generation of millions of prompts is seldom meant; a wildcard used where a variant
    was meant, or one more ``{n$$...}``, multiplies the count. The count is exact (as sd-dynamic-prompts
    would enumerate them).

    Example: ``__artists__, __artists__, __styles__`` over big files -> use random mode or fewer wildcards.
    """

    code = "PK405"
    name = "too-many-prompts"


class ConflictInExpansion(TemplateRule):
    """A variant option whose tags contradict the rest of the template (``solo, {1girl|2girls}``).

    Why: the conflict is in only some of the prompts the template makes, so linting the template as text
    does not show it; every prompt made with that option asks the model for both (``solo`` and ``2girls``:
    extra limbs and faces). Reported at the option, with the tag it contradicts.

    Example: ``solo, {1girl|2girls}, smile`` -> ``{solo, 1girl|2girls}, smile``.
    """

    code = "PK406"
    name = "conflict-in-expansion"
