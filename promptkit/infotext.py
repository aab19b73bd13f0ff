"""A1111 "infotext" (the ``parameters`` text of generated PNGs) and ComfyUI's PNG metadata.

Format (A1111 ``parse_generation_parameters`` / ``create_infotext``)::

    prompt, possibly on several lines
    Negative prompt: negative, possibly on several lines
    Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 832x1216, Model: kivotos, Clip skip: 2

The last line holds ``key: value`` pairs separated by commas; a value with a comma or quote is written in
double quotes with JSON escapes. Reading works without Pillow (PNG text chunks are read directly).

Everything here reads files from strangers, so every cost is bounded: the parameter line is split in linear
time (A1111's own regex is quadratic on a long line without colons), PNG text is read chunk by chunk with
Pillow's kind of limits on decompressed and total text, and a malformed file is one ``ValueError`` line.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ._files import MAX_TEXT_FILE, open_regular

# A1111's pattern, kept as the definition (and the test oracle) of what param_pairs finds.
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SPACES = re.compile(r"\s*")
_WORD_CHAR = re.compile(r"\w")
_KEY_RUN = re.compile(r"[\w \-/]*")
_VALUE = re.compile(r':\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')

# Bounds on PNG text, after Pillow's MAX_TEXT_CHUNK / MAX_TEXT_MEMORY (Pillow allows 1 MiB per compressed
# chunk; ComfyUI graphs are larger, so 16 MiB here). Pillow bounds only decompressed text per chunk; here every
# chunk is bounded before it is read, compressed or not, and A1111's ``parameters`` (a prompt, linted whole)
# no more than a prompt file (promptkit._files.MAX_TEXT_FILE).
MAX_TEXT_CHUNK = 16 * 1024 * 1024  # one text chunk, as stored and as decompressed
MAX_TEXT_MEMORY = 64 * 1024 * 1024  # all text chunks of one file together
MAX_PROMPT_TEXT = MAX_TEXT_FILE  # a chunk or graph text that is a prompt (``parameters``, a text-encode input)
_PROMPT_KEYS = frozenset({"parameters"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NEGATIVE = "Negative prompt:"


@dataclass
class Infotext:
    prompt: str
    negative_prompt: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def to_text(self) -> str:
        """Write back in A1111's format."""
        parts = [self.prompt]
        if self.negative_prompt:
            parts.append(f"{_NEGATIVE} {self.negative_prompt}")
        if self.params:
            parts.append(", ".join(f"{k}: {quote(v)}" for k, v in self.params.items()))
        return "\n".join(parts)


def quote(value: object) -> str:
    """A1111's quoting: values containing ``,``, ``:`` or ``"`` are JSON strings."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text and '"' not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_infotext(text: str) -> Infotext:
    """Split an infotext block into prompt, negative prompt and parameters."""
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    params: dict[str, str] = {}
    if lines:
        found = param_pairs(lines[-1])
        if len(found) >= 3:
            params = {k.strip(): unquote(v.strip()) for k, v in found}
            lines = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    in_negative = False
    for line in lines:
        if not in_negative and line.lstrip().startswith(_NEGATIVE):
            in_negative = True
            line = line.lstrip()[len(_NEGATIVE):].lstrip(" ")
        (negative_lines if in_negative else prompt_lines).append(line)
    return Infotext("\n".join(prompt_lines).rstrip("\n"), "\n".join(negative_lines).rstrip("\n"), params)


def param_pairs(line: str) -> list[tuple[str, str]]:
    """``_PARAM.findall(line)`` (A1111's ``re_param``) in linear time.

    At each start the pattern skips whitespace, needs a word character, takes the run of key characters
    ``[\\w \\-/]`` and needs a colon right after it. When that fails, every start inside the run fails the
    same way, so the scan resumes where the run ended instead of one character later.
    """
    found: list[tuple[str, str]] = []
    pos, n = 0, len(line)
    while pos < n:
        q = _SPACES.match(line, pos).end()
        if q >= n:
            break
        if not _WORD_CHAR.match(line, q):
            pos = q + 1
            continue
        r = _KEY_RUN.match(line, q + 1).end()
        if r - q >= 2 and r < n and line[r] == ":":
            value = _VALUE.match(line, r)
            assert value is not None  # [^,]* followed by "," or the end always matches
            found.append((line[q:r], value.group(1)))
            pos = value.end() if value.end() > pos else pos + 1
        else:
            pos = r
    return found


def looks_like_infotext(text: str) -> bool:
    stripped = text.strip()
    if "\n" not in stripped:
        return False
    last = stripped.rsplit("\n", 1)[-1]
    return ("Steps:" in last or "Sampler:" in last) and len(param_pairs(last)) >= 3


def png_text_chunks(path: str | Path, keys: set[str] | frozenset[str] | None = None) -> dict[str, str]:
    """The ``tEXt``/``zTXt``/``iTXt`` chunks of a PNG file, keyword -> text (only ``keys`` when given).

    Reads the file chunk by chunk (image data is skipped, not read), decompresses at most
    :data:`MAX_TEXT_CHUNK` per chunk and :data:`MAX_TEXT_MEMORY` in all; a malformed or oversized chunk
    raises ``ValueError`` with one line naming the file and the chunk.
    """
    out: dict[str, str] = {}
    total = 0
    with os.fdopen(open_regular(path), "rb") as fh:  # a FIFO named .png must not block
        if fh.read(8) != PNG_SIGNATURE:
            raise ValueError(f"{path}: not a PNG file")
        while True:
            head = fh.read(8)
            if len(head) < 8:
                break  # no IEND: a truncated file; what was read is kept, as image viewers do
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                break
            if kind not in (b"tEXt", b"zTXt", b"iTXt"):
                fh.seek(length + 4, 1)
                continue
            head = fh.read(min(length, 80))  # the keyword (1-79 bytes) and its NUL
            key, sep, start = head.partition(b"\0")
            name = key.decode("latin-1")
            if not sep or (keys is not None and name not in keys):  # no keyword: passed over, as Pillow does
                fh.seek(length - len(head) + 4, 1)
                continue
            limit = _chunk_limit(name)
            if length > limit:
                raise ValueError(f"{path}: {kind.decode()} chunk {name!r} holds {length:,} bytes, more than "
                                 f"{_mib(limit)} MiB: not read")
            if total + length > MAX_TEXT_MEMORY:
                raise ValueError(f"{path}: more than {MAX_TEXT_MEMORY:,} bytes of text chunks: not read")
            body = fh.read(length - len(head))
            fh.seek(4, 1)  # CRC
            if len(head) + len(body) < length:
                raise ValueError(f"{path}: truncated {kind.decode()} chunk")
            rest = start + body
            value = _chunk_text(path, kind, name, rest, min(limit, MAX_TEXT_MEMORY - total))
            total += len(value)
            if total > MAX_TEXT_MEMORY:
                raise ValueError(f"{path}: more than {MAX_TEXT_MEMORY:,} bytes of text chunks: not read")
            out[name] = value
    return out


def _chunk_limit(name: str) -> int:
    return min(MAX_PROMPT_TEXT, MAX_TEXT_CHUNK) if name in _PROMPT_KEYS else MAX_TEXT_CHUNK


def _mib(size: int) -> str:
    return f"{size / 2 ** 20:g}"


def _chunk_text(path: str | Path, kind: bytes, name: str, rest: bytes, budget: int) -> str:
    if kind == b"tEXt":
        return _decode(path, "tEXt", name, rest, latin1=True)
    if kind == b"zTXt":
        if not rest:
            raise ValueError(f"{path}: malformed zTXt chunk {name!r}")
        return _decode(path, "zTXt", name, _inflate(path, name, rest[1:], budget), latin1=True)
    if len(rest) < 2:
        raise ValueError(f"{path}: malformed iTXt chunk {name!r}")
    compressed, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\0")
    _translated, _, value = rest.partition(b"\0")
    return _decode(path, "iTXt", name, _inflate(path, name, value, budget) if compressed else value, latin1=False)


def _decode(path: str | Path, kind: str, name: str, data: bytes, latin1: bool) -> str:
    """A chunk's text. The PNG standard says Latin-1 (tEXt, zTXt) or UTF-8 (iTXt), but writers put other
    encodings there: UTF-16 with a byte-order mark is read as such, UTF-8 in a Latin-1 chunk as UTF-8 (Latin-1
    text with accents is almost never valid UTF-8), and text holding NULs (UTF-16 without a mark, binary
    data) is refused: read as Latin-1 it was linted as a prompt of NULs and found "All clean"."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: {kind} chunk {name!r} starts as UTF-16 but is not valid UTF-16") from None
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not latin1:
                raise ValueError(f"{path}: {kind} chunk {name!r} is not UTF-8 (byte {exc.start})") from None
            text = data.decode("latin-1")
        text = text.removeprefix("\ufeff")
    if "\0" in text:
        raise ValueError(f"{path}: {kind} chunk {name!r} holds NUL characters (UTF-16 text without a byte-order "
                         "mark, or binary data): not read")
    return text


def _inflate(path: str | Path, name: str, data: bytes, budget: int) -> bytes:
    limit = min(MAX_TEXT_CHUNK, budget)
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"{path}: corrupt compressed text in chunk {name!r} ({exc})") from None
    if len(out) > limit:
        raise ValueError(f"{path}: text chunk {name!r} decompresses to more than {_mib(limit)} MiB: not read")
    return out


def comfy_prompts(graph_json: str) -> list[tuple[str, str]]:
    """(node id, text) of every text-encode node of a ComfyUI ``prompt`` graph (an object of nodes).

    Raises ``ValueError`` for text that is not such a graph; nodes of other shapes are passed over.
    """
    try:
        graph = json.loads(graph_json)
    except RecursionError:
        raise ValueError("ComfyUI prompt graph is nested too deeply to read") from None
    except ValueError as exc:
        raise ValueError(f"ComfyUI prompt graph is not JSON ({exc})") from None
    if not isinstance(graph, dict):
        raise ValueError(f"ComfyUI prompt graph is a JSON {type(graph).__name__}, not an object of nodes")
    found = []
    for node_id, node in graph.items():
        if not isinstance(node, dict):
            continue
        inputs, class_type = node.get("inputs"), node.get("class_type")
        if not isinstance(inputs, dict) or not isinstance(class_type, str) or "CLIPTextEncode" not in class_type:
            continue
        for key in ("text", "text_g", "text_l"):
            if isinstance(inputs.get(key), str):
                found.append((f"{node_id}.{key}", inputs[key]))
    return found


PROMPT_CHUNKS = frozenset({"parameters", "prompt"})  # A1111's infotext, ComfyUI's prompt graph


def model_in_chunks(chunks: dict[str, str]) -> tuple[str | None, str | None]:
    """(checkpoint name, A1111 short hash) of the model a PNG's chunks say it was made with: A1111's
    ``Model``/``Model hash``, or the one ``ckpt_name`` of a ComfyUI graph (None where there are none or several)."""
    if "parameters" in chunks:
        params = parse_infotext(chunks["parameters"]).params
        return params.get("Model"), params.get("Model hash")
    if "prompt" in chunks:
        try:
            graph = json.loads(chunks["prompt"])
        except (ValueError, RecursionError):
            return None, None
        names = {node["inputs"]["ckpt_name"] for node in (graph.values() if isinstance(graph, dict) else ())
                 if isinstance(node, dict) and isinstance(node.get("inputs"), dict)
                 and isinstance(node["inputs"].get("ckpt_name"), str)}
        if len(names) == 1:
            return names.pop(), None
    return None, None


def read_png_prompts(path: str | Path) -> list[tuple[str, str, bool]]:
    """(label, text, is_negative) for each prompt stored in a PNG by A1111 or ComfyUI."""
    return prompts_in_chunks(path, png_text_chunks(path, keys=PROMPT_CHUNKS))


def prompts_in_chunks(path: str | Path, chunks: dict[str, str]) -> list[tuple[str, str, bool]]:
    """The prompts of :func:`read_png_prompts`, from chunks already read; a graph text longer than
    :data:`MAX_PROMPT_TEXT` is refused like an oversized ``parameters`` chunk."""
    if "parameters" in chunks:
        info = parse_infotext(chunks["parameters"])
        out = [("prompt", info.prompt, False)]
        if info.negative_prompt:
            out.append(("negative", info.negative_prompt, True))
        return out
    if "prompt" in chunks:
        try:
            found = comfy_prompts(chunks["prompt"])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        for label, text in found:
            if len(text) > MAX_PROMPT_TEXT:
                raise ValueError(f"{path}: ComfyUI prompt {label} holds {len(text):,} characters, more than "
                                 f"{_mib(MAX_PROMPT_TEXT)} MiB: not read")
        return [(label, text, False) for label, text in found]
    return []


def write_png_text(data: bytes, key: str, text: str) -> bytes:
    """Insert an ``iTXt`` chunk before IEND (what A1111 writes as ``parameters``)."""
    body = key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    end = data.rfind(b"IEND") - 4
    return data[:end] + chunk + data[end:]
