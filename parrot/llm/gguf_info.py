"""`parrot models inspect FILE`: what a GGUF file is and whether this build runs it.

The header (metadata and tensor table) is read here in plain Python, so files the engine
rejects are still described; the verdict then comes from the C loader itself (it maps the file
and checks every hyper-parameter, tensor name, shape and type without reading the weight
matrices), so `inspect` and loading can never disagree. Every reason a file cannot run is
listed, not only the first one the loader meets.
"""
from __future__ import annotations

import mmap
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from parrot.errors import UserError

# ggml tensor type id -> (name, elements per block, bytes per block); ids are fixed by GGUF
TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
}
# what the C core computes with (quant.c's table; a test keeps the two in step)
SUPPORTED_TYPES = frozenset({"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K",
                             "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
# architectures model.c builds, and the tokenizer models tokenizer.c reads
SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3", "gemma3", "minicpm")
SUPPORTED_TOKENIZERS = ("gpt2", "llama")

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def _show(text: str, limit: int = 80) -> str:
    """A string from the file, safe to print: escaped control characters, bounded length."""
    from parrot.llm.engine import printable

    return printable(text[:limit]) + ("..." if len(text) > limit else "")
_MAX_COUNT = 1 << 40


class _Reader:
    """Bounds-checked little-endian reads over the file's bytes."""

    def __init__(self, data: memoryview, path: str):
        self.data, self.pos, self.path = data, 0, path

    def fail(self, what: str) -> UserError:
        return UserError(f"{self.path}: not a readable GGUF file ({what} at byte {self.pos})")

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar("<Q")
        return bytes(self.take(n)).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep_arrays: bool, depth: int = 0):
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype != _ARRAY:
            raise self.fail(f"unknown value type {vtype}")
        etype, n = self.scalar("<I"), self.scalar("<Q")
        if depth > 4:
            raise self.fail("arrays nested too deep")
        if n > _MAX_COUNT:
            raise self.fail(f"array of {n} elements")
        if etype in _SCALARS and not keep_arrays:  # skipped, only counted
            self.take(n * struct.calcsize(_SCALARS[etype]))
            return _Array(etype, n)
        if etype == _STRING and not keep_arrays:
            for _ in range(n):
                self.take(self.scalar("<Q"))
            return _Array(etype, n)
        return [self.value(etype, keep_arrays, depth + 1) for _ in range(n)]


@dataclass(frozen=True)
class _Array:
    """An array's element type and length (its values are not kept)."""

    etype: int
    n: int


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int

    @property
    def type_name(self) -> str:
        return TYPES.get(self.type_id, (f"type {self.type_id}", 0, 0))[0]

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class GGUFHeader:
    path: str
    version: int
    metadata: dict[str, object]
    tensors: list[TensorInfo]
    file_size: int


def read_header(path: str | os.PathLike) -> GGUFHeader:
    """Metadata and tensor table of a GGUF v2/v3 file (big arrays are counted, not kept)."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 24:
                raise UserError(f"{p}: not a GGUF file ({size} bytes)")
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # only the header's pages are read
    except OSError as e:
        raise UserError(f"{p}: {e.strerror or e}") from None
    view = memoryview(data)
    try:
        return _parse(_Reader(view, p), size)
    finally:
        view.release()
        data.close()


def _parse(r: _Reader, size: int) -> GGUFHeader:
    p = r.path
    if bytes(r.take(4)) != b"GGUF":
        raise UserError(f"{p}: not a GGUF file (no GGUF magic)")
    version = r.scalar("<I")
    if version not in (2, 3):
        raise UserError(f"{p}: unsupported GGUF version {version} (only 2 and 3 are read)")
    n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
    if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
        raise r.fail("absurd counts")
    meta: dict[str, object] = {}
    for _ in range(n_kv):
        key = r.string()
        vtype = r.scalar("<I")
        meta[key] = r.value(vtype, keep_arrays=False)
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.scalar("<I")
        if n_dims > 4:
            raise r.fail(f"tensor {_show(name)} with {n_dims} dimensions")
        shape = tuple(r.scalar("<Q") for _ in range(n_dims))
        tensors.append(TensorInfo(name, shape, r.scalar("<I"), r.scalar("<Q")))
    return GGUFHeader(p, version, meta, tensors, size)


@dataclass
class Inspection:
    path: str
    file_size: int
    version: int
    arch: str
    name: str
    n_params: int
    type_counts: dict[str, int]
    context_length: int | None
    n_layers: int | None
    n_embd: int | None
    chat_template: bool
    tokenizer: str
    n_vocab: int | None
    runnable: bool
    reasons: list[str] = field(default_factory=list)
    kernels: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _check_loader(path: str) -> tuple[list[str], str]:
    """The C loader's own verdict, and the kernel set it picked ("" when it refused)."""
    from parrot.llm.engine import Model, ModelError

    try:
        m = Model(path, threads=1, context=16)
    except ModelError as e:
        return [str(e)], ""
    try:
        err = m.info.get("tokenizer_error", "")
        return ([f"tokenizer: {err}"] if err else []), str(m.info.get("kernels", ""))
    finally:
        m.close()


def inspect_file(path: str | os.PathLike) -> Inspection:
    h = read_header(path)
    meta = h.metadata
    arch = str(meta.get("general.architecture", ""))

    def hp(key: str) -> int | None:
        v = meta.get(f"{arch}.{key}")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    counts = Counter(t.type_name for t in h.tensors)
    tokens = meta.get("tokenizer.ggml.tokens")
    tok_model = str(meta.get("tokenizer.ggml.model", "none"))
    pre = meta.get("tokenizer.ggml.pre")
    reasons = []
    if not arch:
        reasons.append("metadata general.architecture is missing")
    elif arch not in SUPPORTED_ARCHS:
        reasons.append(f"architecture '{_show(arch)}' is not supported ({', '.join(SUPPORTED_ARCHS)} are)")
    bad = {}
    for t in h.tensors:
        if t.type_name not in SUPPORTED_TYPES:
            bad.setdefault(t.type_name, []).append(t.name)
    for tname, names in sorted(bad.items()):
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        reasons.append(f"tensor type {tname} is not supported ({_show(names[0])}{more})")
    if tok_model not in SUPPORTED_TOKENIZERS:
        reasons.append(f"tokenizer model '{_show(tok_model)}' is not supported (gpt2-style BPE and llama-style SentencePiece are)")
    kernels = ""
    if not reasons:  # nothing the header shows: the loader decides (shapes, names, values)
        reasons, kernels = _check_loader(h.path)
    return Inspection(
        path=h.path, file_size=h.file_size, version=h.version, arch=_show(arch) or "?",
        name=_show(str(meta.get("general.name", ""))), n_params=sum(t.n_elements for t in h.tensors),
        type_counts=dict(counts.most_common()), context_length=hp("context_length"), n_layers=hp("block_count"),
        n_embd=hp("embedding_length"), chat_template=isinstance(meta.get("tokenizer.chat_template"), str),
        tokenizer=_show(tok_model) + (f" (pre: {_show(pre)})" if isinstance(pre, str) else ""),
        n_vocab=tokens.n if isinstance(tokens, _Array) else None,
        runnable=not reasons, reasons=reasons, kernels=kernels)


def format_inspection(i: Inspection) -> str:
    def opt(v) -> str:
        return "?" if v is None else str(v)

    types = ", ".join(f"{name} x{n}" for name, n in i.type_counts.items())
    lines = [
        f"file          {i.path} ({i.file_size / 1e6:.1f} MB, GGUF v{i.version})",
        f"architecture  {i.arch}" + (f"  ({i.name})" if i.name else ""),
        f"parameters    {i.n_params / 1e6:.1f} M, {opt(i.n_layers)} layers, embedding {opt(i.n_embd)}",
        f"context       {opt(i.context_length)} tokens (trained)",
        f"tensor types  {types or 'none'}",
        f"chat template {'present' if i.chat_template else 'absent (parrot uses its own for the architecture)'}",
        f"tokenizer     {i.tokenizer}, {opt(i.n_vocab)} tokens",
    ]
    if i.runnable:
        lines.append(f"runs here     yes (integer kernels: {i.kernels or '?'})")
    else:
        lines.append("runs here     no:")
        lines += [f"  - {r}" for r in i.reasons]
    return "\n".join(lines)


def inspect_path(path: str | os.PathLike) -> Inspection:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file")
    return inspect_file(p)
