"""Expanding a dynamic-prompts template into prompts, exactly as ``dynamicprompts`` 0.31.0 does.

Combinatorial order is the reference's: in a sequence the first construct varies slowest; a variant yields,
for each count from ``lo`` to ``hi`` (clamped to its option count), every ordered choice of distinct options
(options written the same are one), the product of their expansions, dropping a choice whose fragments
repeat and a result seen before; a wildcard yields each of its (sorted, deduplicated) options' expansions in
turn, an option weighted ``n::`` ``int(n)`` times. ``${x=v}`` anywhere in a sequence applies to the whole
sequence; ``${x=!v}`` takes ``v``'s first expansion. ``~`` and ``@`` constructs are drawn (seeded) instead of
enumerated, one value per prompt.

Where the reference would loop forever or crash (a missing wildcard, a cycle between wildcard files, an
undefined variable, a template with more prompts than :data:`MAX_PROMPTS` and no limit), this raises
:class:`ExpansionError` saying where.

Random mode draws each prompt from the combinatorial set (weights honoured where a choice is one option);
cyclical mode steps every variant and wildcard through its own expansions, one step per prompt.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Iterator

from ..syntax.dynamic import (
    Comment, Node, Template, Text, VarAccess, VarAssign, Variants, Wildcard, Wrap, parse_template, render,
)
from ..syntax.errors import PromptSyntaxError, line_col
from .wildcards import Item, Wildcards, WildcardsArg

MAX_PROMPTS = 1_000_000  # enumerating more without a limit is refused (a typo away from billions)
MODES = ("combinatorial", "random", "cyclical")
SMALL = 10_000  # a variant with at most this many expansions is listed whole before a product runs

_WRAP_MARKER = re.compile("[\u1801\u2026\u22ee\u22ef\u22f0\u22f1\ufe19]+|\\.{3,}")


class ExpansionError(ValueError):
    """A template that cannot be expanded: ``where`` says which template or wildcard file and position."""

    def __init__(self, message: str, where: str = "") -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class _Ctx:
    __slots__ = ("vars", "sampling", "nonfinite", "cache", "source", "stack")

    def __init__(self, source: "_Source", vars: dict, nonfinite: str | None, sampling: frozenset,
                 stack: tuple) -> None:
        self.source = source
        self.vars = vars  # name -> (body nodes, source) or a plain string (an immediate value)
        self.nonfinite = nonfinite  # "random"/"cyclical" inside a ~ / @ construct
        self.sampling = sampling  # variables being sampled (recursion guard)
        self.stack = stack  # wildcard names being expanded (cycle guard)
        self.cache: dict[int, _Memo] = {}

    def with_vars(self, new: dict) -> "_Ctx":
        return _Ctx(self.source, {**self.vars, **new}, self.nonfinite, self.sampling, self.stack)

    def replace(self, **kw) -> "_Ctx":
        ctx = _Ctx(self.source, self.vars, self.nonfinite, self.sampling, self.stack)
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx


class _Source:
    """A template text and where it came from (``template`` or ``file:line``), for error messages."""

    __slots__ = ("text", "origin")

    def __init__(self, text: str, origin: str) -> None:
        self.text, self.origin = text, origin

    def where(self, node: Node | None) -> str:
        if node is None:
            return self.origin
        line, col = line_col(self.text, node.start)
        if ":" in self.origin and self.origin.rsplit(":", 1)[1].isdigit():  # a wildcard file's line
            return f"{self.origin}:{col}"
        return f"{self.origin}:{line}:{col}"


class Expander:
    """Expansion of templates against one wildcard collection (parsed wildcard options are cached)."""

    def __init__(self, wildcards: WildcardsArg = None, seed: int | None = None) -> None:
        self.wildcards = Wildcards.load(wildcards)
        self.rng = random.Random(seed if seed is not None else 0)
        self._parsed: dict[str, Template] = {}
        self._cycle: dict[int, int] = {}
        self.draws = 0

    # --- public -----------------------------------------------------------------------------------------
    def expand(self, template: str, mode: str = "combinatorial", limit: int | None = None) -> list[str]:
        if mode not in MODES:
            raise ExpansionError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        if not template:
            return []
        tree, ctx = self._root(template)
        if mode == "combinatorial":
            if limit is None:
                total = self.count_tree(tree, ctx)
                if total > MAX_PROMPTS:
                    raise ExpansionError(f"the template makes {big_number(total)} prompts (more than {MAX_PROMPTS:,}); "
                                         "pass a limit (-n) or use random mode", "template")
                return list(self.body(tree.body, ctx))
            return list(itertools.islice(self.body(tree.body, ctx), limit))
        n = 1 if limit is None else limit
        return [self.draw_body(tree.body, ctx, mode) for _ in range(n)]

    def count(self, template: str) -> int:
        if not template:
            return 0
        tree, ctx = self._root(template)
        return self.count_tree(tree, ctx)

    # --- parsing ----------------------------------------------------------------------------------------
    def _root(self, template: str) -> tuple[Template, _Ctx]:
        source = _Source(template, "template")
        return self._parse(template, source), _Ctx(source, {}, None, frozenset(), ())

    def _parse(self, text: str, source: _Source) -> Template:
        tree = self._parsed.get(text)
        if tree is None:
            try:  # pyparsing expands tabs before parsing (parse_string without parse_with_tabs): so do we
                tree = parse_template(text.expandtabs() if "\t" in text else text)
            except PromptSyntaxError as exc:
                where = source.origin if ":" in source.origin else f"{source.origin}:{exc.line}:{exc.column}"
                raise ExpansionError(f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "") +
                                     f"\n{exc.excerpt}", where) from None
            self._parsed[text] = tree
        return tree

    # --- combinatorial ----------------------------------------------------------------------------------
    def body(self, body: list[Node], ctx: _Ctx) -> Iterator[str]:
        """A prompt body (a sequence, or one construct on its own)."""
        if any(type(n) is Comment for n in body):
            body = [n for n in body if type(n) is not Comment]
        if len(body) == 1 and type(body[0]) is VarAssign:
            raise ExpansionError("a template that is only a variable assignment has no prompt",
                                 ctx.source.where(body[0]))
        assigns = [n for n in body if type(n) is VarAssign]
        if assigns:
            ctx = self._assign(assigns, ctx)
            body = [n for n in body if type(n) is not VarAssign]
        if len(body) == 1 and not assigns:
            return self.node(body[0], ctx)
        return self._sequence(body, ctx)

    def _assign(self, assigns: list[VarAssign], ctx: _Ctx) -> _Ctx:
        new: dict = {}
        for a in assigns:
            if a.keep and a.name in ctx.vars:
                new[a.name] = ctx.vars[a.name]
            elif a.immediate:
                if len(a.value) == 1 and type(a.value[0]) is Text:
                    new[a.name] = a.value[0].value
                else:
                    new[a.name] = next(iter(self.body(a.value, ctx)), "")
            else:
                new[a.name] = (a.value, ctx.source)
        return ctx.with_vars(new)

    def _nonfinite(self, node: Node, ctx: _Ctx) -> str | None:
        if ctx.nonfinite:
            return ctx.nonfinite
        sampler = getattr(node, "sampler", None)
        return sampler if sampler in ("random", "cyclical") else None

    def _sequence(self, tokens: list[Node], ctx: _Ctx) -> Iterator[str]:
        """The product of the tokens' expansions, first token slowest. Each finite token's expansions are
        produced on demand and kept (a limit of 1,000 reads only what 1,000 prompts need); a ~ / @ token
        is drawn anew for every prompt."""
        sources: list = []
        for token in tokens:
            if type(token) is Text:
                sources.append((token.value,))
            elif self._nonfinite(token, ctx):
                sources.append(token)
            else:
                memo = ctx.cache.get(id(token))
                if memo is None:
                    memo = ctx.cache[id(token)] = _Memo(self.node(token, ctx))
                    if not _uses_wildcards(token) and self._count(token, ctx) <= SMALL:
                        memo.fill()  # a small variant: listed at once, so the product can run in C
                sources.append(memo)
        if all(type(src) is tuple for src in sources):
            return iter(("".join(src[0] for src in sources),))
        tail = len(sources)
        while tail > 0 and (type(sources[tail - 1]) is tuple or
                            type(sources[tail - 1]) is _Memo and sources[tail - 1].done):
            tail -= 1
        return self._product(sources, 0, ctx, tail)

    def _product(self, sources: list, i: int, ctx: _Ctx, tail: int) -> Iterator[str]:
        if i == tail:  # the rest are complete lists
            rest = [src if type(src) is tuple else src.values for src in sources[i:]]
            yield from map("".join, itertools.product(*rest))
            return
        src = sources[i]
        if isinstance(src, Node):
            mode = self._nonfinite(src, ctx)
            for rest in self._product(sources, i + 1, ctx, tail):
                yield self.draw(src, ctx, mode) + rest  # type: ignore[arg-type]
            return
        for first in src:
            for rest in self._product(sources, i + 1, ctx, tail):
                yield first + rest

    def _list(self, node: Node, ctx: _Ctx) -> list[str]:
        """All of the node's expansions (cached in the context)."""
        memo = ctx.cache.get(id(node))
        if memo is None:
            memo = ctx.cache[id(node)] = _Memo(self.node(node, ctx))
        count = 0
        for _ in memo:
            count += 1
            if count > MAX_PROMPTS:
                raise ExpansionError(f"{render_short(node)} makes more than {MAX_PROMPTS:,} prompts",
                                     ctx.source.where(node))
        return memo.values

    def node(self, node: Node, ctx: _Ctx) -> Iterator[str]:
        t = type(node)
        if t is Text:
            return iter((node.value,))
        mode = self._nonfinite(node, ctx)
        if mode:  # a ~ / @ construct on its own: an endless stream, as in the reference
            return self._stream(node, ctx, mode)
        if t is Variants:
            return self._variants(node, ctx)
        if t is Wildcard:
            return self._wildcard(node, ctx)
        if t is VarAccess:
            return self._access(node, ctx)
        if t is Wrap:
            return self._wrap(node, ctx)
        if t is VarAssign:
            raise ExpansionError("a template that is only a variable assignment has no prompt",
                                 ctx.source.where(node))
        return iter(())

    def _stream(self, node: Node, ctx: _Ctx, mode: str) -> Iterator[str]:
        while True:
            yield self.draw(node, ctx, mode)

    def _variant_options(self, node: Variants, ctx: _Ctx) -> tuple[list[tuple], int, int, str | None, _Ctx]:
        """(options as (key, weight, body, ctx)), lo, hi, sampler: a variant whose only option is a wildcard
        (``{2$$__colors__}``) takes the wildcard's options, its bounds clamped to their number."""
        options = node.options
        if len(options) == 1 and len(options[0].body) == 1 and type(options[0].body[0]) is Wildcard:
            wc = options[0].body[0]
            items, wctx = self._wildcard_items(wc, ctx)
            out = []
            for item in items:
                tree = self._parse(item.text, _Source(item.text, item.origin))
                for _ in range(int(item.weight)):
                    out.append((("T", item.text), item.weight, tree.body, wctx.replace(
                        source=_Source(item.text, item.origin))))
            n = min(len(items), len(out))
            return out, min(node.lo, n), min(node.hi, n), wc.sampler, ctx
        out = [(_key(o.body), o.weight, o.body, ctx) for o in options]
        return out, min(node.lo, len(out)), min(node.hi, len(out)), node.sampler, ctx

    def _variants(self, node: Variants, ctx: _Ctx) -> Iterator[str]:
        options, lo, hi, sampler, ctx = self._variant_options(node, ctx)
        if not options:
            return
        sep = node.separator
        seen: set = set()
        if lo == hi == 1:  # one option at a time: each result once
            for _key_, _w, body, octx in options:
                for value in self.body(body, octx):
                    if value not in seen:
                        seen.add(value)
                        yield value
            return
        keys = [o[0] for o in options]
        lists: dict[int, list[str]] = {}  # each option's expansions, made once per variant
        for k in range(lo, hi + 1):
            for combo in _permutations(list(range(len(options))), keys, k):
                for i in combo:
                    if i not in lists:
                        lists[i] = self._option_list(options[i])
                for parts in itertools.product(*[lists[i] for i in combo]):
                    unique = tuple(dict.fromkeys(parts))
                    if len(unique) == k and unique not in seen:
                        seen.add(unique)
                        yield _joined(unique, sep)

    def _option_list(self, option: tuple) -> list[str]:
        _key_, _w, body, octx = option
        return list(self.body(body, octx))

    def _wildcard_items(self, node: Wildcard, ctx: _Ctx) -> tuple[list[Item], _Ctx]:
        path = node.literal_path
        if path is None:
            path = next(iter(self.body(node.path, ctx)), "")
        items = self.wildcards.values(path)
        if not items:
            names = self.wildcards.names()
            raise ExpansionError(f"no wildcard {path!r}" + (f" (the folder has {len(names)} names; nearest: "
                                 f"{', '.join(_nearest(path, names))})" if names else " (no wildcards given)"),
                                 ctx.source.where(node))
        if path in ctx.stack:
            chain = " -> ".join((*ctx.stack, path))
            raise ExpansionError(f"wildcard cycle: {chain}", ctx.source.where(node))
        new = ctx.replace(stack=(*ctx.stack, path), cache={})
        if node.params:
            params = {}
            for key, value in node.params:
                if value.isalnum():
                    params[key] = value
                else:
                    params[key] = (self._parse(value, ctx.source).body, ctx.source)
            new = new.with_vars(params)
            new.stack = (*ctx.stack, path)
        return items, new

    def _wildcard(self, node: Wildcard, ctx: _Ctx) -> Iterator[str]:
        items, wctx = self._wildcard_items(node, ctx)
        for item in items:
            source = _Source(item.text, item.origin)
            tree = self._parse(item.text, source)
            ictx = wctx.replace(source=source)
            for _ in range(int(item.weight)):
                yield from self.body(tree.body, ictx)

    def _resolve(self, node: VarAccess, ctx: _Ctx):
        value = ctx.vars.get(node.name)
        if value is None:
            if node.in_path:
                if node.default is None:
                    return node.name
                if len(node.default) == 1 and type(node.default[0]) is Text:
                    return node.default[0].value.strip()
                if not node.default:
                    return node.name
                raise ExpansionError(f"the default of ${{{node.name}}} in a wildcard name must be text",
                                     ctx.source.where(node))
            if node.default:
                return (node.default, ctx.source)
            raise ExpansionError(f"variable {node.name!r} is not defined", ctx.source.where(node))
        if isinstance(value, tuple) and not value[0]:  # ${x=} is no value (the reference: undefined)
            raise ExpansionError(f"variable {node.name!r} is empty", ctx.source.where(node))
        return value

    def _access(self, node: VarAccess, ctx: _Ctx) -> Iterator[str]:
        value = self._resolve(node, ctx)
        if isinstance(value, str):
            return iter((value,))
        if node.name in ctx.sampling:
            raise ExpansionError(f"variable {node.name!r} refers to itself", ctx.source.where(node))
        body, source = value
        return self.body(body, ctx.replace(sampling=ctx.sampling | {node.name}, source=source, cache={}))

    def _wrap(self, node: Wrap, ctx: _Ctx) -> Iterator[str]:
        if not node.wrapper or not node.inner:  # an empty part expands to nothing in the reference
            return
        for wrapper in self.body(node.wrapper, ctx):
            m = _WRAP_MARKER.search(wrapper)
            prefix, suffix = (wrapper, "") if m is None else (wrapper[:m.start()], wrapper[m.end():])
            for inner in self.body(node.inner, ctx):
                yield prefix + inner + suffix

    # --- counting ---------------------------------------------------------------------------------------
    def count_tree(self, tree: Template, ctx: _Ctx) -> int:
        return self._count_body(tree.body, ctx)

    def _count_body(self, body: list[Node], ctx: _Ctx) -> int:
        body = [n for n in body if type(n) is not Comment]
        assigns = [n for n in body if type(n) is VarAssign]
        if assigns:
            ctx = self._assign(assigns, ctx)
            body = [n for n in body if type(n) is not VarAssign]
            if not body:
                return 1
        total = 1
        for token in body:
            total *= self._count(token, ctx)
            if total == 0:
                return 0
        return total

    def _count(self, node: Node, ctx: _Ctx) -> int:
        t = type(node)
        if t is Text or self._nonfinite(node, ctx):
            return 1
        if t is Wildcard:
            items, wctx = self._wildcard_items(node, ctx)
            total = 0
            for item in items:
                source = _Source(item.text, item.origin)
                tree = self._parse(item.text, source)
                total += int(item.weight) * self._count_body(tree.body, wctx.replace(source=source))
            return total
        if t is VarAccess:
            value = self._resolve(node, ctx)
            if isinstance(value, str):
                return 1
            if node.name in ctx.sampling:
                raise ExpansionError(f"variable {node.name!r} refers to itself", ctx.source.where(node))
            body, source = value
            return self._count_body(body, ctx.replace(sampling=ctx.sampling | {node.name}, source=source))
        if t is Wrap:
            if not node.wrapper or not node.inner:
                return 0
            return self._count_body(node.wrapper, ctx) * self._count_body(node.inner, ctx)
        if t is Variants:
            return self._count_variants(node, ctx)
        return 0

    def _count_variants(self, node: Variants, ctx: _Ctx) -> int:
        """Exact: a variant drops repeated results, so its count is that of its distinct results. Options
        that are plain, distinct texts (the usual case) are counted by formula; others are enumerated
        (a variant's own results, never the template's product)."""
        options, lo, hi, sampler, ctx = self._variant_options(node, ctx)
        if not options:
            return 0
        if sampler in ("random", "cyclical"):
            return 1
        texts = []
        for key, _w, body, _c in options:
            if len(body) == 1 and type(body[0]) is Text:
                texts.append(body[0].value)
            elif not body:
                texts.append("")
            else:
                texts = None
                break
        if texts is not None and len(set(texts)) == len(texts) and (lo == hi == 1 or "" not in texts):
            n = len(texts)
            total = 0
            for k in range(lo, hi + 1):
                perm = 1
                for i in range(k):
                    perm *= n - i
                total += perm
            return total
        return sum(1 for _ in itertools.islice(self._variants(node, ctx), MAX_PROMPTS * 10))

    # --- random and cyclical ----------------------------------------------------------------------------
    def draw_body(self, body: list[Node], ctx: _Ctx, mode: str) -> str:
        body = [n for n in body if type(n) is not Comment]
        assigns = [n for n in body if type(n) is VarAssign]
        if assigns:
            ctx = self._assign(assigns, ctx)
            body = [n for n in body if type(n) is not VarAssign]
        return "".join(self.draw(n, ctx, mode) for n in body)

    def draw(self, node: Node, ctx: _Ctx, mode: str) -> str:
        """One expansion of ``node``, a member of its combinatorial expansions."""
        self.draws += 1
        t = type(node)
        if t is Text:
            return node.value
        flat = ctx.replace(nonfinite=None) if ctx.nonfinite else ctx
        if t is Variants:
            options, lo, hi, _s, octx = self._variant_options(node, flat)
            if not options:
                return ""
            if lo == hi == 1 and mode == "random":
                keys = {}
                for o in options:
                    keys.setdefault(o[0], o)
                chosen = self.rng.choices(list(keys.values()), weights=[o[1] for o in keys.values()])[0]
                return self.draw_body(chosen[2], chosen[3], mode)
            return self._pick(node, list(self._variants(node, flat)), mode)
        if t is Wildcard:
            items, wctx = self._wildcard_items(node, flat)
            if mode == "random":
                item = self.rng.choices(items, weights=[max(int(i.weight), 0) for i in items])[0] \
                    if any(int(i.weight) for i in items) else None
                if item is None:
                    return ""
                source = _Source(item.text, item.origin)
                return self.draw_body(self._parse(item.text, source).body, wctx.replace(source=source), mode)
            return self._pick(node, self._list(node, flat) or [], mode)
        if t is VarAccess:
            value = self._resolve(node, flat)
            if isinstance(value, str):
                return value
            body, source = value
            return self.draw_body(body, flat.replace(sampling=flat.sampling | {node.name}, source=source), mode)
        return self._pick(node, list(self.node(node, flat)), mode)

    def _pick(self, node: Node, values: list[str], mode: str) -> str:
        if not values:
            return ""
        if mode == "random":
            return values[self.rng.randrange(len(values))]
        i = self._cycle.get(id(node), 0)
        self._cycle[id(node)] = i + 1
        return values[i % len(values)]


class _Memo:
    """An iterator's values, produced on first demand and replayed after (a restartable generator)."""

    __slots__ = ("it", "values", "done")

    def __init__(self, it: Iterator[str]) -> None:
        self.it = it
        self.values: list[str] = []
        self.done = False

    def fill(self) -> None:
        for _ in self:
            pass

    def __iter__(self) -> Iterator[str]:
        values = self.values
        i = 0
        while True:
            if i < len(values):
                yield values[i]
                i += 1
            elif self.done:
                return
            else:
                try:
                    values.append(next(self.it))
                except StopIteration:
                    self.done = True
                    return


def _uses_wildcards(node: Node) -> bool:
    """Whether a wildcard is written inside ``node`` (counting it would read every option of the file)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is Wildcard:
            return True
        stack.extend(p for p in n.pieces if isinstance(p, Node))
    return False


def _key(body: list[Node]) -> tuple:
    """Options written the same are one option (the reference compares their parsed commands)."""
    return tuple(_render_key(n) for n in body)


def _render_key(node: Node) -> tuple:
    if type(node) is Text:
        return ("T", node.value)
    return (type(node).__name__, render(node))


def big_number(n: int) -> str:
    """``1,234,567``, or ``about 10^4300`` for a count too long to print (Python refuses > 4300 digits)."""
    if n < 10 ** 30:
        return f"{n:,}"
    import math

    digits = int(math.log10(n >> max(0, n.bit_length() - 64)) + max(0, n.bit_length() - 64) * math.log10(2))
    return f"about 10^{digits}"


def render_short(node: Node) -> str:
    text = render(node)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _permutations(indices: list[int], keys: list, k: int) -> Iterator[list[int]]:
    """Ordered choices of ``k`` options; choosing one removes every option written the same."""
    if k <= 0:
        yield []
        return
    for i in indices:
        rest = [j for j in indices if keys[j] != keys[i]]
        for tail in _permutations(rest, keys, k - 1):
            yield [i, *tail]


def _joined(parts: tuple, sep: str) -> str:
    if len(parts) == 1:
        return parts[0]
    joined = sep.join(parts)
    if sep:
        if joined.startswith(sep):
            joined = joined[len(sep):]
        if joined.endswith(sep):
            joined = joined[:-len(sep)]
    return joined


def _nearest(name: str, names: list[str], n: int = 3) -> list[str]:
    from rapidfuzz import fuzz, process, utils

    # only names that are close: an unrelated name offered as "nearest" is noise (plant -> hair_styles_tied)
    found = process.extract(name, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=n,
                            score_cutoff=75)
    return [m[0] for m in found]
