"""Corrupt and hostile GGUF files must raise ModelError naming the problem, never crash."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, write_tiny  # noqa: E402

from parrot.errors import UserError  # noqa: E402
from parrot.llm import Model, ModelError  # noqa: E402

U32, I32, F32, STR, ARR, U64 = 4, 5, 6, 8, 9, 10


def s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key: str, vtype: int, value) -> bytes:
    out = s(key) + struct.pack("<I", vtype)
    if vtype == U32:
        return out + struct.pack("<I", value)
    if vtype == F32:
        return out + struct.pack("<f", value)
    if vtype == STR:
        return out + s(value)
    raise ValueError(vtype)


def tensor_info(name: str, dims, ttype: int, offset: int) -> bytes:
    return s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack(
        "<IQ", ttype, offset)


def gguf_bytes(kvs, infos, data=b"", version=3, magic=b"GGUF", n_tensors=None, n_kv=None, align=32) -> bytes:
    head = magic + struct.pack("<IQQ", version, len(infos) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(infos)
    body += b"\0" * (-len(body) % align)
    return body + data


ARCH_KVS = [
    kv("general.architecture", STR, "llama"),
    kv("llama.embedding_length", U32, 32),
    kv("llama.block_count", U32, 1),
    kv("llama.feed_forward_length", U32, 32),
    kv("llama.attention.head_count", U32, 2),
]


def load_bytes(tmp_path: Path, blob: bytes, name="bad.gguf") -> str:
    p = tmp_path / name
    p.write_bytes(blob)
    with pytest.raises(ModelError) as ei:
        Model(p, threads=1, context=32)
    return str(ei.value)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("g") / "good.gguf"
    write_tiny(p, Spec(arch="qwen2", n_embd=32, n_ff=32, n_layers=1, n_head=2, n_head_kv=1, wtype=QT.Q8_0))
    return p.read_bytes()


def test_good_file_loads(tmp_path, good):
    p = tmp_path / "ok.gguf"
    p.write_bytes(good)
    m = Model(p, threads=1, context=32)
    assert m.arch == "qwen2" and m.n_layers == 1
    m.close()


def test_model_error_is_user_error():
    assert issubclass(ModelError, UserError)


def test_truncated_everywhere(tmp_path, good):
    # every offset in the header/metadata region, then a stride through the tensor data
    header_end = good.index(b"blk.0") + 400
    cuts = list(range(0, 600)) + list(range(600, header_end, 7)) + list(range(header_end, len(good), 997))
    p = tmp_path / "t.gguf"
    for cut in cuts:
        p.write_bytes(good[:cut])
        with pytest.raises(ModelError) as ei:
            Model(p, threads=1, context=32)
        assert str(ei.value), cut


def test_random_byte_flips_never_crash(tmp_path, good):
    rng = np.random.default_rng(1)
    header_end = good.index(b"output_norm") + 200
    p = tmp_path / "f.gguf"
    for _ in range(300):
        blob = bytearray(good)
        for _ in range(3):
            blob[int(rng.integers(0, header_end))] = int(rng.integers(0, 256))
        p.write_bytes(bytes(blob))
        try:
            Model(p, threads=1, context=16).close()
        except ModelError:
            pass


def test_bad_magic(tmp_path, good):
    assert "magic" in load_bytes(tmp_path, b"GGUX" + good[4:])


def test_bad_version(tmp_path, good):
    assert "version 7" in load_bytes(tmp_path, good[:4] + struct.pack("<I", 7) + good[8:])
    assert "version 1" in load_bytes(tmp_path, good[:4] + struct.pack("<I", 1) + good[8:])


def test_absurd_counts(tmp_path):
    assert "tensor count" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [], n_tensors=1 << 60))
    assert "metadata count" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [], n_kv=(1 << 64) - 1))
    # plausible-looking but larger than what the file holds
    assert "truncated" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [], n_kv=len(ARCH_KVS) + 3))


def test_string_length_past_eof(tmp_path):
    bad = s("general.architecture") + struct.pack("<I", STR) + struct.pack("<Q", 1 << 40) + b"llama"
    msg = load_bytes(tmp_path, gguf_bytes([bad], []))
    assert "general.architecture" in msg and "past the end" in msg
    key = struct.pack("<Q", (1 << 64) - 1) + b"x"
    assert "past the end" in load_bytes(tmp_path, gguf_bytes([key], []))


def test_array_count_past_eof(tmp_path):
    arr = s("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARR, STR, 1 << 62)
    assert "array" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS + [arr], []))
    arr = s("x.scores") + struct.pack("<IIQ", ARR, F32, 1 << 61)
    assert "array" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS + [arr], []))
    arr = s("x.weird") + struct.pack("<IIQ", ARR, 77, 1)
    assert "element type 77" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS + [arr], []))


def test_unknown_value_type(tmp_path):
    bad = s("general.foo") + struct.pack("<I", 42) + b"\0" * 8
    assert "value type 42" in load_bytes(tmp_path, gguf_bytes([bad], []))


def test_tensor_offset_past_end(tmp_path):
    info = tensor_info("token_embd.weight", [32, 10], 0, 1 << 20)
    msg = load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 64))
    assert "token_embd.weight" in msg and "past the end" in msg
    info = tensor_info("token_embd.weight", [32, 10], 0, (1 << 64) - 32)
    assert "past the end" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 64))


def test_dims_overflow(tmp_path):
    info = tensor_info("token_embd.weight", [1 << 32, 1 << 32, 1 << 32], 0, 0)
    assert "out of range" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 64))
    info = tensor_info("token_embd.weight", [0, 4], 0, 0)
    assert "out of range" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 64))
    info = s("token_embd.weight") + struct.pack("<I", 9)
    assert "dimensions" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 64))


def test_unknown_tensor_type(tmp_path):
    info = tensor_info("token_embd.weight", [32, 2], 123, 0)
    assert "unknown tensor type 123" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 256))


def test_misaligned_offset_and_bad_row_length(tmp_path):
    info = tensor_info("token_embd.weight", [32, 2], 0, 3)
    assert "aligned" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 512))
    info = tensor_info("token_embd.weight", [33, 2], int(QT.Q8_0), 0)
    assert "multiple" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 512))


def test_bad_alignment(tmp_path):
    kvs = ARCH_KVS + [kv("general.alignment", U32, 24)]
    assert "alignment" in load_bytes(tmp_path, gguf_bytes(kvs, []))


def test_unsupported_arch(tmp_path):
    kvs = [kv("general.architecture", STR, "mamba")]
    msg = load_bytes(tmp_path, gguf_bytes(kvs, []))
    assert "unsupported architecture 'mamba'" in msg
    assert "general.architecture" in load_bytes(tmp_path, gguf_bytes([], []))


def test_missing_metadata_and_tensors(tmp_path):
    assert "llama.attention.head_count" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS[:-1], []))
    assert "token_embd.weight is missing" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, []))
    info = tensor_info("token_embd.weight", [32, 8], 0, 0)
    assert "output_norm.weight is missing" in load_bytes(tmp_path, gguf_bytes(ARCH_KVS, [info], b"\0" * 1024))


def test_absurd_hyperparameters(tmp_path):
    kvs = ARCH_KVS[:1] + [kv("llama.embedding_length", U32, 0)] + ARCH_KVS[2:]
    assert "embedding_length" in load_bytes(tmp_path, gguf_bytes(kvs, []))
    kvs = ARCH_KVS + [kv("llama.attention.head_count_kv", U32, 3)]
    assert "head_count_kv" in load_bytes(tmp_path, gguf_bytes(kvs, []))


def test_unsupported_weight_type_is_named(tmp_path):
    # an IQ2_XXS token embedding: parses fine, the loader names the type it cannot compute with
    kvs = ARCH_KVS[:1] + [kv("llama.embedding_length", U32, 256)] + ARCH_KVS[2:]
    info = tensor_info("token_embd.weight", [256, 4], int(QT.IQ2_XXS), 0)
    msg = load_bytes(tmp_path, gguf_bytes(kvs, [info], b"\0" * 66 * 4))
    assert "IQ2_XXS" in msg and "token_embd.weight" in msg


def test_wrong_shape_is_named(tmp_path, good):
    r = GGUFReader_safe(tmp_path, good)
    t = next(t for t in r.tensors if t.name == "blk.0.attn_q.weight")
    # dims are stored right after the name length+name and n_dims: patch ne[1]
    pos = good.index(b"blk.0.attn_q.weight") + len("blk.0.attn_q.weight") + 4 + 8
    blob = good[:pos] + struct.pack("<Q", int(t.shape[1]) // 2) + good[pos + 8:]
    msg = load_bytes(tmp_path, blob)
    assert "blk.0.attn_q.weight" in msg


def GGUFReader_safe(tmp_path, blob):
    from gguf import GGUFReader

    p = tmp_path / "r.gguf"
    p.write_bytes(blob)
    return GGUFReader(p)


def test_not_a_file(tmp_path):
    with pytest.raises(ModelError):
        Model(tmp_path, threads=1)
    with pytest.raises(ModelError):
        Model(tmp_path / "missing.gguf", threads=1)
