"""Where prompts come from on the command line: arguments, stdin, caption files, folders, infotexts, PNGs."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .._files import TextFile, read_text_file
from ..infotext import looks_like_infotext, parse_infotext, read_png_prompts

CAPTION_SUFFIXES = (".txt", ".caption")


class InputError(Exception):
    """A file or folder that cannot be read (exit code 2)."""


@dataclass
class PromptInput:
    """One prompt to lint. ``path`` is set when it came from a file that ``--fix`` may rewrite."""

    label: str
    text: str
    negative: bool = False
    path: Path | None = None
    whole_file: bool = False  # the prompt is the file's entire content
    file: TextFile | None = None  # what identifies the file, for --fix (promptkit._files.rewrite)

    @property
    def fixable(self) -> bool:
        return self.path is not None and self.whole_file


def _from_file(path: Path) -> list[PromptInput]:
    if path.suffix.lower() == ".png":
        try:
            found = read_png_prompts(path)
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # names the file itself
            raise InputError(str(exc)) from None
        return [PromptInput(f"{path}[{label}]", text, negative) for label, text, negative in found]
    try:
        source = read_text_file(path)
        text = source.text
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if looks_like_infotext(text):
        info = parse_infotext(text)
        out = [PromptInput(f"{path}[prompt]", info.prompt)]
        if info.negative_prompt:
            out.append(PromptInput(f"{path}[negative]", info.negative_prompt, negative=True))
        return out
    return [PromptInput(str(path), source.body, path=path, whole_file=True, file=source)]


def collect(args: tuple[str, ...], files: tuple[str, ...], suffixes: tuple[str, ...] = CAPTION_SUFFIXES,
            negative: bool = False) -> list[PromptInput]:
    """Arguments that name an existing file or folder are read; ``-`` is stdin; anything else is a prompt."""
    out: list[PromptInput] = []
    for i, arg in enumerate(args):
        if arg == "-":
            out.append(PromptInput("<stdin>", sys.stdin.read().rstrip("\n"), negative))
            continue
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and
                           (p.suffix.lower() in suffixes or p.suffix.lower() == ".png"))
            for p in found:
                out.extend(_from_file(p))
        elif path.is_file() and ("\n" not in arg) and (path.suffix.lower() in suffixes + (".png",)):
            out.extend(_from_file(path))
        else:
            out.append(PromptInput(f"<arg {i + 1}>" if len(args) > 1 else "<prompt>", arg, negative))
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise InputError(f"{name}: no such file")
        out.extend(_from_file(path))
    return out
