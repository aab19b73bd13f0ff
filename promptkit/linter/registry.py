"""Every lint rule, listed in one place (as ruff lists its rules in one table), and rule selection.

Rule modules define rules; this module imports them and nothing imports it back, so the linter has no
import cycle. A rule is on by default when its ``default`` is true; ``--select`` turns any rule on by code,
code prefix or name (``ALL`` selects every rule), ``--ignore`` turns rules off. Unknown codes are errors.
"""

from __future__ import annotations

from typing import Iterable

from .rule import Rule
from .rules import model, spelling, syntax, tags, templates

RULES: tuple[type[Rule], ...] = (
    syntax.UnbalancedBracket,       # PK101
    syntax.AmbiguousColon,          # PK102
    syntax.WeightRange,             # PK103
    syntax.EmptyGroup,              # PK104
    syntax.WeightSpacing,           # PK105 (opt-in)
    syntax.DialectMismatch,         # PK106
    syntax.BarePipe,                # PK107
    syntax.NestedEmphasis,          # PK108 (opt-in)
    syntax.LowercaseBreak,          # PK109
    syntax.PastedInfotext,          # PK110
    syntax.HighWeight,              # PK111 (opt-in)
    syntax.FullWidthSyntax,         # PK112
    syntax.ExtraNetworkSyntax,      # PK113
    syntax.DoubledEscape,           # PK114
    syntax.StrayBackslash,          # PK115
    syntax.HtmlEntity,              # PK116
    syntax.EscapedEmphasis,         # PK117
    syntax.StrayQuote,              # PK118
    tags.UnknownTag,                # PK201
    tags.AliasTag,                  # PK202
    tags.ImpliedTag,                # PK203 (opt-in)
    tags.DuplicateTag,              # PK204
    tags.ConflictingCount,          # PK205
    tags.UnescapedParentheses,      # PK206
    tags.WeightLikeTag,             # PK207
    tags.TagStyle,                  # PK208
    tags.UnknownNamespace,          # PK209
    tags.NotInVocabulary,           # PK210 (opt-in)
    tags.MissingComma,              # PK212
    tags.UnqualifiedCharacter,      # PK213
    tags.RenamedTag,                # PK214 (opt-in)
    tags.MisspelledWord,            # PK215
    spelling.MisspelledName,        # PK216
    spelling.WordBoundary,          # PK217
    tags.CharacterNameOrder,        # PK218
    tags.RedundantHair,             # PK219
    tags.EmptyNamespace,            # PK220
    tags.NegationInPositive,        # PK221
    tags.ConflictingTags,           # PK222
    model.ForeignLadderTag,         # PK301
    model.MissingQualityTags,       # PK302 (opt-in)
    model.TagOrder,                 # PK303 (opt-in)
    model.RatingConflict,           # PK304
    model.TooManyChunks,            # PK305
    model.TagCutByChunk,            # PK306
    model.NegativePreset,           # PK307 (opt-in)
    model.LadderTypo,               # PK308
    model.EmbeddingForAnotherModel,  # PK309
    templates.TemplateSyntax,       # PK400 (templates: checked by linter.templates.lint_template)
    templates.MissingWildcard,      # PK401
    templates.EmptyOption,          # PK402
    templates.WildcardCycle,        # PK403
    templates.RepeatedOption,       # PK404
    templates.TooManyPrompts,       # PK405
    templates.ConflictInExpansion,  # PK406
)

_BY_CODE = {r.code: r for r in RULES}
if len(_BY_CODE) != len(RULES):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("duplicate rule codes in the registry")


_DEFAULT = tuple(sorted((r for r in RULES if r.default), key=lambda r: r.code))


class UnknownRuleError(ValueError):
    """A rule code, prefix or name that matches no rule."""


def all_rules() -> list[type[Rule]]:
    """Every rule, by code."""
    return sorted(RULES, key=lambda r: r.code)


def default_rules() -> list[type[Rule]]:
    return [r for r in all_rules() if r.default]


def rule(code: str) -> type[Rule]:
    """A rule by code or name."""
    for r in RULES:
        if r.code == code.upper() or r.name == code:
            return r
    raise UnknownRuleError(f"no rule {code!r}; see `promptkit rules`")


def _matching(pattern: str) -> list[type[Rule]]:
    if pattern.upper() == "ALL":
        return all_rules()
    found = [r for r in all_rules() if r.code.startswith(pattern.upper()) or r.name == pattern]
    if not found:
        raise UnknownRuleError(f"no rule matches {pattern!r}; see `promptkit rules`")
    return found


def select_rules(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None,
                 extend_select: Iterable[str] | None = None) -> list[type[Rule]]:
    """The rules to run: ``select`` (default: the default set), plus ``extend_select``, minus ``ignore``.

    Raises :class:`UnknownRuleError` for a code, prefix or name that matches no rule.
    """
    if not select and not extend_select and not ignore:
        return list(_DEFAULT)  # what every plain lint asks for: once per prompt of a run
    chosen: dict[str, type[Rule]] = {}
    if select:
        for pattern in select:
            for r in _matching(pattern):
                chosen[r.code] = r
    else:
        chosen = {r.code: r for r in default_rules()}
    for pattern in extend_select or ():
        for r in _matching(pattern):
            chosen[r.code] = r
    for pattern in ignore or ():
        for r in _matching(pattern):
            chosen.pop(r.code, None)
    return [chosen[c] for c in sorted(chosen)]
