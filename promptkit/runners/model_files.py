"""Model files as they come from model sites: read, check and name them before anything is loaded.

A ``.safetensors`` file is an 8-byte header length, a JSON header (tensor names, dtypes, shapes, byte
offsets, ``__metadata__``) and the tensor bytes. Everything here reads only the header, so a 7 GB
checkpoint is identified in milliseconds and a broken one (truncated download, corrupt header, a pickle
renamed to ``.safetensors``) gets one clear line instead of a ``SafetensorError`` traceback. Pickled files
(``.ckpt``, ``.pt``, ``.bin``) can run code when unpickled, so they are opened only with ``allow_pickle``.

:func:`identify` names what a file is from its keys (an SD1/SD2/SDXL checkpoint, a Stable Cascade stage, a
LoRA or LyCORIS network, a VAE, an embedding, a diffusers component, a ControlNet), so a wrong file is
refused with an error that says what it is and what to do with it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import open_regular
from .errors import ModelFileError

# Bits per element of each safetensors dtype (used to check that offsets fit the shapes; the 4- and 6-bit
# floats are packed, so a tensor takes ceil(bits * elements / 8) bytes, as safetensors computes it).
_DTYPE_BITS = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16, "I64": 64, "I32": 32, "I16": 16, "I8": 8, "U64": 64,
               "U32": 32, "U16": 16, "U8": 8, "BOOL": 8, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "F4": 4,
               "F6_E2M3": 6, "F6_E3M2": 6, "C64": 64}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")


@dataclass
class TensorFile:
    """The tensor names, shapes and metadata of a model file, read without loading any tensor."""

    path: Path
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    pickled: bool = False
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)  # byte ranges in the data section
    data_start: int = 0  # where the data section begins (8 + header length)
    _tensors: dict[str, Any] | None = None  # a loaded pickle keeps its tensors here

    def __contains__(self, key: str) -> bool:
        return key in self.shapes

    def __iter__(self) -> Iterator[str]:
        return iter(self.shapes)

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.shapes)

    def count_prefix(self, prefix: str) -> int:
        return sum(1 for k in self.shapes if k.startswith(prefix))

    def shape(self, key: str) -> tuple[int, ...]:
        return self.shapes[key]

    def load(self, keys: list[str] | None = None, dtype: Any = None, device: Any = None) -> dict[str, Any]:
        """The tensors (all, or ``keys``), floats cast to ``dtype``, each in aligned memory of its own, moved to
        ``device`` one by one as they are read (so loading to a GPU holds one tensor at a time on the host).

        The bytes are read straight into freshly allocated tensors in file order: one copy in memory, no
        memory map, and no misaligned views (safetensors' own reader returns tensors at the file's byte
        offsets; CPU kernels then take other code paths whose results differ in the last bits)."""
        wanted = list(self.shapes) if keys is None else keys
        if self._tensors is not None:
            return {k: _place(self._tensors[k], dtype, device) for k in wanted}
        import torch

        out = {}
        try:
            with self.path.open("rb") as fh:
                for key in sorted(wanted, key=lambda k: self.offsets[k][0]):
                    begin, end = self.offsets[key]
                    tensor = torch.empty(self.shapes[key], dtype=_torch_dtype(self.dtypes[key], self.path))
                    if end > begin:
                        fh.seek(self.data_start + begin)
                        buffer = tensor.reshape(-1).view(torch.uint8).numpy()
                        if fh.readinto(buffer) != end - begin:
                            raise ModelFileError(f"{self.path.name} is truncated: tensor {key} is cut off")
                    out[key] = _place(tensor, dtype, device)
        except OSError as exc:
            raise ModelFileError(f"{self.path.name}: cannot read its tensors ({exc.strerror or exc})") from None
        return out


def _torch_dtype(name: str, path: Path) -> Any:
    import torch

    table = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
             "BOOL": torch.bool, "F8_E4M3": getattr(torch, "float8_e4m3fn", None),
             "F8_E5M2": getattr(torch, "float8_e5m2", None)}
    found = table.get(name)
    if found is None:
        raise ModelFileError(f"{path.name} holds {name} tensors, which promptkit cannot read")
    return found


def _place(tensor: Any, dtype: Any, device: Any) -> Any:
    """Floats in ``dtype`` when one is asked for, on ``device`` when one is given."""
    if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    return tensor if device is None else tensor.to(device)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_tensor_file(path: str | Path, allow_pickle: bool = False) -> TensorFile:
    """Read a model file's header (or, with ``allow_pickle``, unpickle a ``.ckpt``), checking it is whole."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    pickle_name = path.suffix.lower() in PICKLE_SUFFIXES
    if pickle_name and not allow_pickle:
        raise ModelFileError(f"{path.name} is a pickle file ({path.suffix}); unpickling can run arbitrary code: "
                             "convert it to .safetensors, or pass allow_pickle=True (CLI: --allow-pickle) if you "
                             "trust it")
    try:
        fd = open_regular(path)  # a FIFO named .safetensors would block forever; a device never ends
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            if len(head) < 8:
                raise ModelFileError(f"{path.name} is empty or truncated ({size} bytes): not a model file")
            if _is_pickle(head):
                return _read_pickle(path, allow_pickle, renamed=path.suffix.lower() == ".safetensors")
            if pickle_name:
                raise ModelFileError(f"{path.name} has a pickle extension but is not a pickled checkpoint")
            length = int.from_bytes(head, "little")
            if length > size - 8:
                raise ModelFileError(f"{path.name} is truncated or not a safetensors file: its header says "
                                     f"{length} header bytes but the file has {size} bytes in all")
            if length > _MAX_HEADER or length < 2:
                raise ModelFileError(f"{path.name} is not a safetensors file (header length {length})")
            raw = fh.read(length)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelFileError(f"{path.name} has a corrupt safetensors header (not valid JSON): "
                             "the file is damaged, download it again") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name} has a corrupt safetensors header (not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path.name} has a corrupt safetensors header (__metadata__ is not an object)")
    data_size = size - 8 - length
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, str] = {}
    offsets: dict[str, tuple[int, int]] = {}
    for name, info in header.items():
        dtype, shape, (begin, end) = _entry(path, name, info)
        shapes[name] = shape
        dtypes[name] = dtype
        offsets[name] = (begin, end)
    _check_layout(path, offsets, data_size)
    return TensorFile(path, shapes, dtypes, {str(k): str(v) for k, v in metadata.items()}, offsets=offsets,
                      data_start=8 + length)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(path: Path, name: str, info: Any) -> tuple[str, tuple[int, ...], tuple[int, int]]:
    """One header entry, checked as safetensors checks it: a known dtype, a shape of non-negative integers,
    and a byte range exactly as long as that many elements of that dtype."""
    def corrupt(why: str) -> ModelFileError:
        return ModelFileError(f"{path.name} has a corrupt safetensors header (tensor {name!r}: {why})")

    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise corrupt("not an object with dtype, shape and data_offsets")
    dtype, shape, span = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPE_BITS:
        raise corrupt(f"unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise corrupt(f"shape {shape!r} is not a list of sizes")
    if not isinstance(span, list) or len(span) != 2 or not all(_is_int(o) and o >= 0 for o in span) \
            or span[1] < span[0]:
        raise corrupt(f"data_offsets {span!r} is not a byte range")
    begin, end = span
    needed = -(-math.prod(shape) * _DTYPE_BITS[dtype] // 8)
    if end - begin != needed:
        raise corrupt(f"{dtype} {shape} takes {needed:,} bytes but its byte range {begin}-{end} holds {end - begin:,}")
    return dtype, tuple(shape), (begin, end)


def _check_layout(path: Path, offsets: dict[str, tuple[int, int]], data_size: int) -> None:
    """No two tensors share bytes, and every tensor lies inside the file."""
    last_name, last_end, end_of_data = "", 0, 0
    for name, (begin, end) in sorted(offsets.items(), key=lambda item: item[1]):
        if begin == end:
            continue
        if begin < last_end:
            raise ModelFileError(f"{path.name} has a corrupt safetensors header (tensors {last_name!r} and "
                                 f"{name!r} overlap at bytes {begin}-{min(end, last_end)})")
        last_name, last_end = name, end
        end_of_data = max(end_of_data, end)
    if end_of_data > data_size:
        missing = end_of_data - data_size
        raise ModelFileError(f"{path.name} is truncated: its header lists {end_of_data:,} bytes of tensors but "
                             f"only {data_size:,} are there ({missing:,} missing; an interrupted download?)")


def _is_pickle(head: bytes) -> bool:
    """torch.save writes a zip archive (``PK``) since 1.6; older files start with a pickle protocol byte."""
    return head[:2] == b"PK" or (head[0] == 0x80 and 2 <= head[1] <= 5)


def _read_pickle(path: Path, allow_pickle: bool, renamed: bool) -> TensorFile:
    what = "a pickled PyTorch checkpoint renamed to .safetensors" if renamed else "a pickled PyTorch checkpoint"
    if not allow_pickle:
        raise ModelFileError(f"{path.name} is {what}; unpickling can run arbitrary code: convert it to "
                             ".safetensors, or pass allow_pickle=True (CLI: --allow-pickle) if you trust it")
    import torch

    try:
        try:
            data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=not renamed)
        except Exception:  # noqa: BLE001 - old Lightning checkpoints pickle more than tensors
            data = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ModelFileError(f"{path.name}: cannot unpickle ({_first_line(exc)})") from None
    while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ModelFileError(f"{path.name} does not hold a state dict of tensors")
    tensors = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    return TensorFile(path, {k: tuple(v.shape) for k, v in tensors.items()}, {}, {}, pickled=True,
                      _tensors=tensors)


# -- what a file is --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileKind:
    """``kind`` is a short code (``checkpoint``, ``lora``, ``vae`` ...); ``architecture`` the family where known."""

    kind: str
    architecture: str | None
    description: str

    @property
    def is_checkpoint(self) -> bool:
        return self.kind == "checkpoint"


LYCORIS_ALGORITHMS = {"hada_w1_a": "LoHa", "lokr_w1": "LoKr", "lokr_w1_a": "LoKr", "oft_blocks": "OFT",
                      "oft_diag": "OFT", "a1.weight": "GLoRA", "w_norm": "norm", "on_input": "IA3"}
_UNET = "model.diffusion_model."


def identify(tf: TensorFile) -> FileKind:
    """Name the file from its keys: checkpoints by family, then everything that is not a checkpoint."""
    keys = tf.shapes
    if f"{_UNET}input_blocks.0.0.weight" in keys:
        channels = _dims(tf, f"{_UNET}input_blocks.0.0.weight", 4)[1]
        if tf.has_prefix("conditioner.embedders.1.model."):
            arch, name = "sdxl", "an SDXL checkpoint"
        elif tf.has_prefix("conditioner.embedders.0.model."):
            return FileKind("refiner", "sdxl", "an SDXL refiner checkpoint (promptkit runs base models)")
        elif tf.has_prefix("cond_stage_model.model."):
            arch, name = "sd2", "a Stable Diffusion 2.x checkpoint"
        elif tf.has_prefix("cond_stage_model.transformer."):
            arch, name = "sd1", "a Stable Diffusion 1.x checkpoint"
        elif tf.has_prefix("conditioner.embedders.0.transformer."):
            return FileKind("partial", "sdxl", "an SDXL checkpoint without its OpenCLIP bigG text encoder")
        else:
            return FileKind("unet-only", None, "a UNet-only checkpoint (no text encoder in the file)")
        if channels != 4:
            variant = {9: "an inpainting", 8: "an instruct-pix2pix"}.get(channels, f"a {channels}-channel")
            return FileKind("variant", arch, f"{variant} variant of {name.removeprefix('a ')} "
                                             "(text-to-image needs the 4-channel base UNet)")
        if not tf.has_prefix("first_stage_model."):
            return FileKind("no-vae", arch, f"{name} without its VAE (no first_stage_model.* weights)")
        return FileKind("checkpoint", arch, name)
    for prefix in (_UNET, ""):
        if f"{prefix}clip_txt_mapper.weight" in keys:
            return FileKind("cascade-prior", "cascade",
                            "a Stable Cascade stage C (prior)" + ("" if prefix else " UNet without its text encoder"))
        if f"{prefix}effnet_mapper.0.weight" in keys or f"{prefix}clip_mapper.weight" in keys:
            return FileKind("cascade-decoder", "cascade",
                            "a Stable Cascade stage B (decoder)" + ("" if prefix else " UNet without stage A"))
    lora = lora_format(keys)
    if lora:
        return FileKind("lora", lora_architecture(tf), lora)
    if "emb_params" in keys or any(k.startswith("string_to_param") for k in keys) or \
            (keys and set(keys) <= {"clip_l", "clip_g"}):
        return FileKind("embedding", None, "a textual-inversion embedding")
    if "encoder.conv_in.weight" in keys and "decoder.conv_in.weight" in keys:
        layout = "a diffusers-format VAE" if "encoder.down_blocks.0.resnets.0.conv1.weight" in keys else "a VAE"
        return FileKind("vae", None, layout)
    if tf.has_prefix("first_stage_model.") and not tf.has_prefix(_UNET):
        return FileKind("vae", None, "a VAE (first_stage_model.* weights only)")
    if "conv_in.weight" in keys and "time_embedding.linear_1.weight" in keys:
        return FileKind("diffusers-unet", None, "a diffusers-format UNet (diffusion_pytorch_model.safetensors)")
    if tf.has_prefix("control_model.") or "input_hint_block.0.weight" in keys or \
            "controlnet_cond_embedding.conv_in.weight" in keys:
        return FileKind("controlnet", None, "a ControlNet")
    if any(k.startswith(("text_model.encoder.layers.", "encoder.layers.0.self_attn")) for k in keys):
        return FileKind("text-encoder", None, "a CLIP text encoder")
    sample = ", ".join(sorted(keys)[:3]) or "no tensors"
    return FileKind("unknown", None, f"not a model promptkit knows (keys such as {sample})")


def _dims(tf: TensorFile, key: str, rank: int) -> tuple[int, ...]:
    """The shape of ``key``, which must have ``rank`` dimensions (a convolution weight has 4)."""
    shape = tf.shapes[key]
    if len(shape) != rank:
        raise ModelFileError(f"{tf.path.name} is damaged: tensor {key} has shape {list(shape)}, where a model "
                             f"has a {rank}-dimensional weight")
    return shape


def lora_format(keys: dict[str, tuple[int, ...]]) -> str | None:
    """``"a LoRA (kohya format)"``, ``"a LyCORIS LoHa"``, ... or None when the keys are not a network's."""
    names = list(keys)
    for marker, algorithm in LYCORIS_ALGORITHMS.items():
        if any(k.endswith("." + marker) for k in names):
            if algorithm == "IA3" and not any(k.startswith("lora_") for k in names):
                continue
            return f"a LyCORIS {algorithm} network"
    kohya = any(k.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")) for k in names)
    if any(k.endswith((".lora_down.weight", ".lora_up.weight")) for k in names):
        return "a LoRA (kohya format)" if kohya else "a LoRA (kohya-style keys)"
    if any(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in names):
        return "a LoRA (diffusers/peft format)"
    if any(k.endswith((".lora.down.weight", ".lora.up.weight", "_lora.down.weight")) for k in names):
        return "a LoRA (old diffusers format)"
    if kohya and any(k.endswith((".diff", ".diff_b")) for k in names):
        return "a LyCORIS full (diff) network"
    return None


def lora_architecture(tf: TensorFile) -> str | None:
    """The base a LoRA was trained for, from kohya/ModelSpec metadata or from its key names."""
    meta = tf.metadata
    arch = meta.get("modelspec.architecture", "")
    base = meta.get("ss_base_model_version", "")
    if arch.startswith("stable-diffusion-xl") or base.startswith("sdxl"):
        return "sdxl"
    if arch.startswith("stable-diffusion-v2") or meta.get("ss_v2") == "True":
        return "sd2"
    if arch.startswith("stable-diffusion-v1") or base.startswith("sd_v1"):
        return "sd1"
    if any(k.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.")) for k in tf.shapes):
        return "sdxl"
    return None


# -- hashes as A1111 writes them -------------------------------------------------------------------------
def addnet_hash(path: str | Path) -> str:
    """sha256 of a safetensors file's tensor bytes (the header skipped): kohya's and A1111's LoRA hash."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        fh.seek(8 + length)
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lora_short_hash(tf: TensorFile) -> str:
    """A1111's ``Lora hashes`` value: the precomputed ``sshs_model_hash`` if the file has one, else the
    addnet hash (full-file sha256 for pickles), first 12 hex digits."""
    full = tf.metadata.get("sshs_model_hash") or (file_sha256(tf.path) if tf.pickled else addnet_hash(tf.path))
    return full[:12]


def describe_size(path: Path) -> str:
    size = os.path.getsize(path)
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"
