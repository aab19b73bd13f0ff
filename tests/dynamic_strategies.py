"""Hypothesis strategies for dynamic-prompts templates (shared by test_fuzz.py and test_dynamic_prompts.py).

Templates are built from the constructs of the syntax (variants with samplers, counts, ranges, separators and
weights; wildcards from dynamicprompts' own test folder; variables, wraps, comments) around literal text that
holds the characters the grammar treats specially (``# / * : . , | } _ $`` and whitespace), so both valid and
invalid templates come out.
"""

from __future__ import annotations

from hypothesis import strategies as st

LITERALS = ["a", "b", "red", " ", "  ", "\n", ",", ", ", "a b", "x:y", "1", "2.5", "_", "a_b", "/", "//", "*",
            "/*c*/", "...", "}", ")", "(", "-", "é", "日本", "\t", "::", "~", "!", "@"]
WILDCARDS = ["__animal__", "__colors-warm__", "__colors*__", "__animals/mammals/*__", "__referencing-colors__",
             "__variant__", "__weighted-animals/heavy__", "__dupes__", "__flavors/*__"]
COMMENTS = ["#note\n", " # c\n", "// c\n", "/* c */", "#end"]


def _variant(inner):
    head = st.tuples(st.sampled_from(["", "", "!", " ", "~", "@"]),
                     st.sampled_from(["", "", "", "2$$", "1-2$$", "-2$$", "2-$$", "0$$", "3$$", "2$$ and $$",
                                      "1-3$$|$$", "2$$, $$", "2 $$"])).map("".join)
    option = st.tuples(st.sampled_from(["", "", "", " ", "0.5::", "2::", "1.::", " 3::"]), inner).map("".join)
    return st.tuples(head, st.lists(option, min_size=1, max_size=3)).map(lambda t: "{" + t[0] + "|".join(t[1]) + "}")


def _constructs(inner):
    return st.one_of(
        _variant(inner),
        st.tuples(st.sampled_from(["x", "y"]), st.sampled_from(["=", "=!", " = ", "?="]), inner).map(
            lambda t: "${" + t[0] + t[1] + t[2] + "}"),
        st.tuples(st.sampled_from(["x", "y"]), st.sampled_from(["", ":", ": "]), inner).map(
            lambda t: "${" + t[0] + (t[1] + t[2] if t[1] else "") + "}"),
        st.tuples(inner, inner).map(lambda t: "%{" + t[0] + "...$$" + t[1] + "}"),
        st.lists(inner, min_size=2, max_size=3).map("".join),
    )


def templates(wildcards: bool = True, samplers: bool = True) -> st.SearchStrategy[str]:
    atoms = [st.sampled_from(LITERALS), st.sampled_from(COMMENTS)]
    if wildcards:
        atoms.append(st.sampled_from(WILDCARDS))
    atom = st.one_of(*atoms)
    tree = st.recursive(atom, _constructs, max_leaves=8)
    out = st.lists(tree, max_size=4).map("".join)
    if not samplers:
        out = out.filter(lambda t: "~" not in t and "@" not in t)
    return out
