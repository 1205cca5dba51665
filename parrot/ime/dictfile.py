"""The container format of the shipped dictionary: named numpy arrays behind a JSON header.

    magic "PIMEDIC1" | u32 header length | header JSON | arrays, each 8-byte aligned

The header maps each array name to [dtype, byte offset, element count] and carries free-form
metadata (source hashes, build parameters). Reading memory-maps the file, so loading costs
a few milliseconds and the kernel pages in only what lookups touch.
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import numpy as np

MAGIC = b"PIMEDIC1"
HEADER_LEN = struct.Struct("<I")
ALIGNMENT = 8


class DictFileError(ValueError):
    """The file is not a dictionary of this format (or is truncated)."""


def _pad(n: int) -> int:
    return (-n) % ALIGNMENT


def encode(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise arrays (little-endian) and metadata into one bytes object."""
    layout = {}
    offset = 0
    blobs = []
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        layout[name] = [arr.dtype.str.lstrip("<>|="), offset, int(arr.size)]
        blobs.append(data + b"\0" * _pad(len(data)))
        offset += len(blobs[-1])
    header = json.dumps({"meta": meta, "sections": layout}, ensure_ascii=False).encode("utf-8")
    prefix_len = len(MAGIC) + HEADER_LEN.size + len(header)
    head = MAGIC + HEADER_LEN.pack(len(header)) + header + b"\0" * _pad(prefix_len)
    return head + b"".join(blobs)


def read(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Memory-map the file; return (meta, arrays). Arrays are read-only views."""
    with open(path, "rb") as f:
        try:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as e:  # empty file
            raise DictFileError(f"{path}: empty file") from e
    if buf[: len(MAGIC)] != MAGIC:
        raise DictFileError(f"{path}: not a parrot IME dictionary")
    (header_len,) = HEADER_LEN.unpack_from(buf, len(MAGIC))
    header_start = len(MAGIC) + HEADER_LEN.size
    try:
        header = json.loads(bytes(buf[header_start : header_start + header_len]))
    except ValueError as e:
        raise DictFileError(f"{path}: corrupt header") from e
    data_start = header_start + header_len + _pad(header_start + header_len)
    arrays = {}
    for name, (dtype, offset, count) in header["sections"].items():
        dt = np.dtype("<" + dtype if dtype[0] in "uif" else dtype)
        end = data_start + offset + dt.itemsize * count
        if end > len(buf):
            raise DictFileError(f"{path}: truncated (section {name})")
        arrays[name] = np.frombuffer(buf, dtype=dt, count=count, offset=data_start + offset)
    return header["meta"], arrays
