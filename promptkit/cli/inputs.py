"""Where prompts come from on the command line: arguments, stdin, caption files, folders, infotexts, PNGs.

The rules (also in ``promptkit lint --help``):

- An argument is a path only when it names an existing file or folder. Otherwise it is a prompt, whatever
  its length, except that an argument that looks like a path (no spaces or commas, and it ends in a caption,
  PNG or text extension, starts with ``/``, ``./``, ``../`` or ``~``, or lies in an existing folder) but does
  not exist is an input error. ``""`` is the empty prompt; ``-`` is stdin.
- A caption sidecar (``.txt``, ``.caption``) is one caption: its lines are tags separated by newlines.
  With ``--lines`` every line of a file (or of stdin) is its own prompt, as A1111's "Prompts from file or
  textbox" script reads it, and every finding names the line of the file it is on.
- A file whose last line holds A1111 generation parameters is an infotext: its prompt and negative prompt
  are linted apart. PNGs are read for their A1111 or ComfyUI metadata.
- A container file (a styles.csv, a wildcard file, kohya sample prompts, a template ...: see
  :mod:`promptkit.contain`) is one input; ``--container`` names the kind, else it is known from the file's name
  and markers that cannot mean anything else. The linter splits it into its prompts.
- A wildcard file (``.txt``, ``.yaml``, ``.yml`` or ``.json`` under a folder named ``wildcards`` or a configured
  ``wildcard-dirs`` folder, also when found in a folder) is read as a ``wildcard-file``: each line or YAML/JSON
  option is the prompt fragment it is, never a caption.
- Text must be UTF-8; a byte-order mark is dropped; binary data (NUL bytes, invalid UTF-8) is refused.
- ``--negative`` marks every prompt given (arguments, stdin, caption files, lines) as a negative prompt;
  the parts of an infotext or PNG keep the roles their metadata gives them.
- A file is read whole only when it is a regular file of at most 4 MiB (``promptkit._files.MAX_TEXT_FILE``);
  a named pipe, a device or a larger file is refused with one line saying what it is.
- In a folder, a file that cannot be read (including such entries) is reported and skipped; the others are
  linted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .._files import MAX_TEXT_FILE, TextFile, read_plain_text, read_text_file

CAPTION_SUFFIXES = (".txt", ".caption")
WILDCARD_SUFFIXES = (".txt", ".yaml", ".yml", ".json")
PATH_LIKE_SUFFIXES = CAPTION_SUFFIXES + (".png", ".json", ".csv", ".md", ".prompt")
BOM = "\ufeff"


class InputError(Exception):
    """A file, folder or argument that cannot be read (exit code 2)."""


@dataclass
class PromptInput:
    """One prompt to lint. ``path`` is set when it came from a file that ``--fix`` may rewrite.

    ``first_line`` is the line of the source file the text starts on (``--lines``: each line is a prompt).
    """

    label: str
    text: str
    negative: bool = False
    path: Path | None = None
    whole_file: bool = False  # the prompt is the file's entire content
    first_line: int = 1
    file: TextFile | None = None  # what identifies the file, for --fix (promptkit._files.rewrite)
    model: str | None = None  # the infotext's Model: and Model hash:, which say the profile
    model_hash: str | None = None
    profile_reason: str | None = None  # why lint chose the profile it did
    container: str | None = None  # the container kind the text is read as (None: detect it)

    @property
    def fixable(self) -> bool:
        return self.path is not None and self.whole_file


@dataclass
class Collected:
    """What the inputs gave: the prompts, and the files that could not be read (reported, then skipped)."""

    items: list[PromptInput] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def decode(data: bytes, where: str) -> str:
    """UTF-8 text without its byte-order mark; binary data or other encodings are an :class:`InputError`."""
    if b"\0" in data:
        raise InputError(f"{where}: binary data (NUL bytes), not a text prompt")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return text[1:] if text.startswith(BOM) else text


def _strip_end(text: str) -> str:
    return text.rstrip("\r\n")


def looks_like_path(arg: str) -> bool:
    """An argument meant as a path (see the module docstring), so a missing one is an error, not a prompt."""
    if not arg or any(ch.isspace() for ch in arg) or "," in arg:
        return False
    if arg.lower().endswith(PATH_LIKE_SUFFIXES) or arg.startswith(("/", "./", "../", "~")):
        return True
    if os.sep in arg or (os.altsep and os.altsep in arg):
        parent = os.path.dirname(arg)
        return bool(parent) and os.path.isdir(parent)
    return False


def _lines(text: str, label: str, negative: bool, container: str | None = None) -> list[PromptInput]:
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            out.append(PromptInput(f"{label}", line, negative, first_line=number, container=container))
    return out


def read_file(path: Path, negative: bool = False, lines: bool = False,
              container: str | None = None, rewritable: bool = True) -> list[PromptInput]:
    """The prompts in one file (see the module docstring). ``rewritable=False`` (a lint without --fix): an ordinary
    text file is read without recording what a rewrite needs (its prompt's ``file`` is None), at a third of the
    cost; the prompts and errors are the same."""
    if path.suffix.lower() == ".png":
        from ..infotext import PROMPT_CHUNKS, model_in_chunks, png_text_chunks, prompts_in_chunks

        try:  # one pass over the file: the prompts and the model that says the profile
            chunks = png_text_chunks(path, keys=PROMPT_CHUNKS)
            found = prompts_in_chunks(path, chunks)
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # names the file itself
            raise InputError(str(exc)) from None
        if not found:  # nothing to lint is an input error, as `promptkit info` says for the same file
            raise InputError(f"{path}: no A1111 or ComfyUI prompt metadata")
        model, model_hash = model_in_chunks(chunks)
        return [PromptInput(f"{path}[{label}]", text, neg, model=model, model_hash=model_hash)
                for label, text, neg in found]
    source = None
    text = None if rewritable else read_plain_text(path)
    if text is None:
        try:
            source = read_text_file(path)  # BOM dropped, line endings and identity kept for --fix
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") \
                from None
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        text = source.text
    if "\0" in text:
        raise InputError(f"{path}: binary data (NUL bytes), not a text prompt")
    if lines:
        return _lines(text, str(path), negative, container)
    from ..infotext import looks_like_infotext, parse_infotext

    if container in (None, "infotext") and looks_like_infotext(text):
        info = parse_infotext(text)
        model, model_hash = info.params.get("Model"), info.params.get("Model hash")
        out = [PromptInput(f"{path}[prompt]", info.prompt, model=model, model_hash=model_hash)]
        if info.negative_prompt:
            out.append(PromptInput(f"{path}[negative]", info.negative_prompt, negative=True, model=model,
                                   model_hash=model_hash))
        return out
    body = source.body if source is not None else text.rstrip("\r\n")
    return [PromptInput(str(path), body, negative, path=path, whole_file=True, file=source, container=container)]


def read_stdin(negative: bool = False, lines: bool = False, container: str | None = None) -> list[PromptInput]:
    if hasattr(sys.stdin, "buffer"):
        data = sys.stdin.buffer.read(MAX_TEXT_FILE + 1)  # `lint - < /dev/zero` must end
    else:
        data = sys.stdin.read(MAX_TEXT_FILE + 1).encode("utf-8", "surrogateescape")
    if len(data) > MAX_TEXT_FILE:
        raise InputError(f"<stdin>: input too large (more than {MAX_TEXT_FILE >> 20} MiB)")
    text = decode(data, "<stdin>")
    if lines:
        return _lines(text, "<stdin>", negative, container)
    return [PromptInput("<stdin>", _strip_end(text), negative, container=container)]


def _kind(path: Path) -> str:
    """``dir``, ``file`` or ``""``: what exists at ``path`` (a prompt too long for a file name is no path).
    Anything that exists and is not a folder is a ``file``: a FIFO or device is then refused by its reader
    with a line that says what it is."""
    try:
        if path.is_dir():
            return "dir"
        if path.exists():
            return "file"
    except (OSError, ValueError):
        pass
    return ""


def _argument(arg: str, label: str) -> str:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{label}: not valid UTF-8 text") from None
    if "\0" in arg:
        raise InputError(f"{label}: binary data (NUL bytes), not a text prompt")
    return arg[1:] if arg.startswith(BOM) else arg


def is_wildcard_file(path: Path, wildcard_dirs: tuple[Path, ...] = ()) -> bool:
    """A ``.txt``/``.yaml``/``.yml``/``.json`` under a folder named ``wildcards`` or one of ``wildcard_dirs``."""
    if path.suffix.lower() not in WILDCARD_SUFFIXES:
        return False
    try:
        where = path.resolve()
    except (OSError, RuntimeError):
        return False
    return _in_wildcards(where, wildcard_dirs)


def _in_wildcards(where: Path, wildcard_dirs: tuple[Path, ...]) -> bool:
    if any(part.lower() == "wildcards" for part in where.parts[:-1]):
        return True
    return any(where.is_relative_to(d) for d in wildcard_dirs)


class WildcardFiles:
    """:func:`is_wildcard_file` for the files of a folder walk, which come folder by folder: the real path of
    the folder is resolved once for all its files (``resolve`` stats every component of the path, per file),
    and only a file that is itself a symlink is resolved on its own."""

    def __init__(self, wildcard_dirs: tuple[Path, ...] = ()) -> None:
        self.wildcard_dirs = wildcard_dirs
        self._folder: tuple[Path, Path] | None = None  # (folder, its real path): the last one asked about

    def __call__(self, path: Path) -> bool:
        if path.suffix.lower() not in WILDCARD_SUFFIXES:
            return False
        if os.path.islink(path):
            return is_wildcard_file(path, self.wildcard_dirs)
        folder = path.parent
        if self._folder is None or self._folder[0] != folder:
            try:
                self._folder = (folder, folder.resolve())
            except (OSError, RuntimeError):
                return False
        return _in_wildcards(self._folder[1] / path.name, self.wildcard_dirs)


def collect(args: tuple[str, ...], files: tuple[str, ...] = (), suffixes: tuple[str, ...] = CAPTION_SUFFIXES,
            negative: bool = False, lines: bool = False, container: str | None = None,
            wildcard_dirs: tuple[Path, ...] | None = None) -> Collected:
    """Read every input (see the module docstring). Raises :class:`InputError` for an argument or ``-f``
    file that cannot be read; a bad file inside a folder is recorded in ``errors`` and skipped. With
    ``wildcard_dirs`` (``lint``; maybe empty) wildcard files are found and read as such."""
    out = Collected()
    dirs = None if wildcard_dirs is None else tuple(Path(d).resolve() for d in wildcard_dirs)

    def kind_of(p: Path) -> str | None:
        if container is None and not lines and dirs is not None and is_wildcard_file(p, dirs):
            return "wildcard-file"
        return container

    for i, arg in enumerate(args):
        label = f"<arg {i + 1}>" if len(args) > 1 else "<prompt>"
        if arg == "-":
            out.items.extend(read_stdin(negative, lines, container))
            continue
        arg = _argument(arg, label)
        path = Path(arg).expanduser() if arg.startswith("~") else Path(arg)
        kind = _kind(path) if arg else ""
        if kind == "dir":
            found = sorted(p for p in path.rglob("*") if not p.is_dir() and not p.name.startswith(".") and
                           (p.suffix.lower() in suffixes or p.suffix.lower() == ".png" or
                            kind_of(p) == "wildcard-file"))
            for p in found:
                try:
                    out.items.extend(read_file(p, negative, lines, kind_of(p)))
                except InputError as exc:
                    out.errors.append(str(exc))
            if not found:
                out.errors.append(f"{arg}: no caption files ({', '.join(suffixes)}) or PNGs in this folder")
        elif kind == "file":
            out.items.extend(read_file(path, negative, lines, kind_of(path)))
        elif looks_like_path(arg):
            raise InputError(f"{arg}: no such file or folder")
        else:
            out.items.append(PromptInput(label, arg, negative, container=container))
    for name in files:
        path = Path(name)
        if _kind(path) != "file":
            raise InputError(f"{name}: no such file")
        out.items.extend(read_file(path, negative, lines, kind_of(path)))
    return out
