"""A1111 "infotext" (the ``parameters`` text of generated PNGs) and ComfyUI's PNG metadata.

Format (A1111 ``parse_generation_parameters`` / ``create_infotext``)::

    prompt, possibly on several lines
    Negative prompt: negative, possibly on several lines
    Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 832x1216, Model: kivotos, Clip skip: 2

The last line holds ``key: value`` pairs separated by commas; a value with a comma or quote is written in
double quotes with JSON escapes. Reading works without Pillow (PNG text chunks are read directly).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
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
        found = _PARAM.findall(lines[-1])
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


def looks_like_infotext(text: str) -> bool:
    last = text.strip().rsplit("\n", 1)[-1]
    return "\n" in text.strip() and len(_PARAM.findall(last)) >= 3 and ("Steps:" in last or "Sampler:" in last)


def png_text_chunks(path: str | Path) -> dict[str, str]:
    """The ``tEXt``/``zTXt``/``iTXt`` chunks of a PNG file, keyword -> text."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, value = rest.partition(b"\0")
            out[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode("utf-8")
        elif kind == b"IEND":
            break
    return out


def comfy_prompts(graph_json: str) -> list[tuple[str, str]]:
    """(node id, text) of every text-encode node of a ComfyUI ``prompt`` graph."""
    graph = json.loads(graph_json)
    found = []
    for node_id, node in graph.items():
        if not isinstance(node, dict):
            continue
        inputs = node.get("inputs", {})
        if "CLIPTextEncode" in str(node.get("class_type", "")):
            for key in ("text", "text_g", "text_l"):
                if isinstance(inputs.get(key), str):
                    found.append((f"{node_id}.{key}", inputs[key]))
    return found


def read_png_prompts(path: str | Path) -> list[tuple[str, str, bool]]:
    """(label, text, is_negative) for each prompt stored in a PNG by A1111 or ComfyUI."""
    chunks = png_text_chunks(path)
    if "parameters" in chunks:
        info = parse_infotext(chunks["parameters"])
        out = [("prompt", info.prompt, False)]
        if info.negative_prompt:
            out.append(("negative", info.negative_prompt, True))
        return out
    if "prompt" in chunks:
        return [(label, text, False) for label, text in comfy_prompts(chunks["prompt"])]
    return []


def write_png_text(data: bytes, key: str, text: str) -> bytes:
    """Insert an ``iTXt`` chunk before IEND (what A1111 writes as ``parameters``)."""
    body = key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    end = data.rfind(b"IEND") - 4
    return data[:end] + chunk + data[end:]
