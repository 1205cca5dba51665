"""`parrot models inspect FILE` (parrot/llm/gguf_info.py) on tiny files of every weight type the
engine runs and on files it cannot run: the facts read from the header, and a verdict that
agrees with what the C loader does with the same file."""
from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from llm_engine_util import Spec, write_tiny
from parrot.cli import main
from parrot.errors import UserError
from parrot.llm import Model, ModelError, _core
from parrot.llm.gguf_info import SUPPORTED_TYPES, TYPES, inspect_path

RUNNABLE = [QT.F32, QT.F16, QT.Q8_0, QT.Q4_0, QT.Q4_K, QT.Q6_K, QT.Q2_K, QT.Q3_K, QT.IQ4_NL, QT.IQ4_XS]
N_LAYERS = 2
BIG_MATRICES = 2 + 7 * N_LAYERS  # token_embd, output, and q k v o gate up down per layer


def loader_accepts(path) -> bool:
    try:
        with Model(path, threads=1, context=16) as m:
            return not m.info["tokenizer_error"]
    except ModelError:
        return False


def run_cli(capsys, *args) -> tuple[int, str, str]:
    rc = main(["models", "inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_supported_types_are_the_c_cores():
    """The Python list says what quant.c's table says: the engine dequantizes exactly those."""
    for type_id, (name, blck, nbytes) in TYPES.items():
        try:
            _core.dequantize(type_id, bytes(nbytes), blck)
            computes = True
        except ValueError:
            computes = False
        assert computes == (name in SUPPORTED_TYPES), name


@pytest.mark.parametrize("qt", RUNNABLE, ids=lambda t: t.name)
def test_runnable_file_of_each_type(tmp_path, capsys, qt):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2", wtype=qt, n_embd=256, n_ff=256, n_layers=N_LAYERS,
                                             chat_template="{{ messages }}"))
    info = inspect_path(t.path)
    assert info.runnable and info.reasons == [] and loader_accepts(t.path)
    assert info.arch == "qwen2" and info.n_layers == N_LAYERS and info.n_embd == 256
    assert info.context_length == 256 and info.chat_template and info.tokenizer == "gpt2 (pre: qwen2)"
    assert info.n_vocab == len(t.tokens)
    small = 1 + N_LAYERS * 5  # norms and biases stay f32
    if qt == QT.F32:
        assert info.type_counts == {"F32": BIG_MATRICES + small}
    else:
        assert info.type_counts == {qt.name: BIG_MATRICES, "F32": small}
    rc, out, _ = run_cli(capsys, t.path)
    counts = ", ".join(f"{k} x{v}" for k, v in info.type_counts.items())
    assert rc == 0 and "runs here     yes" in out and f"tensor types  {counts}\n" in out
    assert "chat template present" in out


def _write(path, arch="qwen2", tok_model="gpt2", matrix_type=QT.F32, drop=()):
    """A small header-valid file: llama-shaped tensors, chosen architecture, tokenizer and type."""
    n = 256
    w = gguf.GGUFWriter(str(path), arch)
    for key, val in (("block_count", 1), ("context_length", 128), ("embedding_length", n),
                     ("feed_forward_length", n), ("attention.head_count", 4)):
        w.add_uint32(f"{arch}.{key}", val)
    w.add_string("tokenizer.ggml.model", tok_model)
    w.add_array("tokenizer.ggml.tokens", [chr(65 + i) for i in range(26)])
    rng = np.random.default_rng(0)

    def add(name, rows, cols, qt=QT.F32):
        if name in drop:
            return
        if qt == QT.F32:
            w.add_tensor(name, rng.standard_normal((rows, cols)).astype(np.float32).squeeze(0) if rows == 1
                         else rng.standard_normal((rows, cols)).astype(np.float32))
        else:
            blck, nbytes = gguf.GGML_QUANT_SIZES[qt]
            w.add_tensor(name, np.zeros((rows, cols // blck * nbytes), np.uint8), raw_shape=(rows, cols // blck * nbytes),
                         raw_dtype=qt)

    add("token_embd.weight", 26, n, matrix_type)
    add("output_norm.weight", 1, n)
    for name in ("attn_norm", "ffn_norm"):
        add(f"blk.0.{name}.weight", 1, n)
    for name in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
        add(f"blk.0.{name}.weight", n, n, matrix_type)
    if arch == "qwen2":
        for name in ("attn_q", "attn_k", "attn_v"):
            add(f"blk.0.{name}.bias", 1, n)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_control_file_runs(tmp_path):
    """The helper's file runs as written, so each case below fails for its one change only."""
    path = _write(tmp_path / "ok.gguf")
    assert inspect_path(path).runnable and loader_accepts(path)


@pytest.mark.parametrize("qt", [QT.IQ2_XXS, QT.IQ3_S, QT.IQ1_M, QT.TQ2_0], ids=lambda t: t.name)
def test_unsupported_tensor_type_is_named(tmp_path, capsys, qt):
    path = _write(tmp_path / "m.gguf", matrix_type=qt)
    info = inspect_path(path)
    assert not info.runnable and not loader_accepts(path)
    assert info.reasons == [f"tensor type {qt.name} is not supported (token_embd.weight and 7 more)"]
    assert info.type_counts[qt.name] == 8
    rc, out, _ = run_cli(capsys, path)
    assert rc == 1 and "runs here     no:" in out and f"tensor type {qt.name} is not supported" in out


@pytest.mark.parametrize("arch", ["mamba", "minicpm3", "phi3"])
def test_unsupported_architecture_is_named(tmp_path, arch):
    path = _write(tmp_path / "m.gguf", arch=arch, matrix_type=QT.IQ2_XS)
    info = inspect_path(path)
    assert not info.runnable and not loader_accepts(path)
    assert info.arch == arch
    # every reason, not only the first the loader meets
    assert info.reasons[0].startswith(f"architecture '{arch}' is not supported (llama, qwen2, qwen3, gemma3")
    assert "tensor type IQ2_XS is not supported" in info.reasons[1]


def test_unsupported_tokenizer_is_named(tmp_path):
    path = _write(tmp_path / "m.gguf", tok_model="t5")
    info = inspect_path(path)
    assert not info.runnable and not loader_accepts(path)
    assert info.reasons == ["tokenizer model 't5' is not supported (gpt2-style BPE and llama-style SentencePiece are)"]


def test_what_only_the_loader_sees_comes_from_the_loader(tmp_path):
    path = _write(tmp_path / "m.gguf", drop=("blk.0.ffn_up.weight",))
    info = inspect_path(path)
    assert not info.runnable and not loader_accepts(path)
    assert len(info.reasons) == 1 and "blk.0.ffn_up.weight is missing" in info.reasons[0]
    assert info.chat_template is False


def test_json_output(tmp_path, capsys):
    path = _write(tmp_path / "m.gguf", matrix_type=QT.IQ1_S)
    rc, out, _ = run_cli(capsys, path, "--json")
    d = json.loads(out)
    assert rc == 1 and d["runnable"] is False and d["type_counts"] == {"F32": 6, "IQ1_S": 8}


@pytest.mark.parametrize("content", [b"", b"GGUF", b"NOPE" + bytes(40), b"GGUF\x09\0\0\0" + bytes(40),
                                     b"GGUF\x03\0\0\0" + b"\xff" * 16 + bytes(40)])
def test_bad_files_are_one_line_errors(tmp_path, capsys, content):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(UserError):
        inspect_path(path)
    rc, out, err = run_cli(capsys, path)
    assert rc == 1 and out == "" and err.count("\n") == 1 and err.startswith("parrot: ")


def test_deeply_nested_arrays_are_an_error(tmp_path):
    import struct

    key = b"a.b"
    body = struct.pack("<Q", len(key)) + key + struct.pack("<I", 9) + (struct.pack("<IQ", 9, 1) * 2000)
    path = tmp_path / "nested.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + body)
    with pytest.raises(UserError, match="nested too deep"):
        inspect_path(path)


def test_truncated_real_header_is_an_error(tmp_path, capsys):
    good = _write(tmp_path / "ok.gguf").read_bytes()
    for cut in (30, 200, 1000):
        (tmp_path / "cut.gguf").write_bytes(good[:cut])
        with pytest.raises(UserError, match="truncated|not a GGUF"):
            inspect_path(tmp_path / "cut.gguf")


def test_missing_file(tmp_path, capsys):
    rc, _, err = run_cli(capsys, tmp_path / "nope.gguf")
    assert rc == 1 and "no such file" in err
