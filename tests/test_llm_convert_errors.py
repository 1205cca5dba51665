"""`parrot convert` on bad input: one clear line, exit status 1, nothing written."""

from __future__ import annotations

import json
import shutil

import pytest

import llm_tiny
from parrot.cli import main


def _run(capsys, *argv):
    rc = main(["convert", *map(str, argv), "--quiet"])
    err = capsys.readouterr().err
    return rc, err


def _copy_checkpoint(tmp_path, arch="qwen2"):
    src = llm_tiny.tiny_model(arch).hf_dir
    dst = tmp_path / "hf"
    shutil.copytree(src, dst)
    return dst


def test_missing_directory(tmp_path, capsys):
    rc, err = _run(capsys, tmp_path / "nope", tmp_path / "o.gguf")
    assert rc == 1 and "no such directory" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_directory_without_config(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, err = _run(capsys, tmp_path / "empty", tmp_path / "o.gguf")
    assert rc == 1 and "no config.json" in err


def test_unsupported_architecture_is_named(tmp_path, capsys):
    hf = _copy_checkpoint(tmp_path)
    cfg = json.loads((hf / "config.json").read_text())
    cfg["architectures"] = ["MistralForCausalLM"]
    (hf / "config.json").write_text(json.dumps(cfg))
    rc, err = _run(capsys, hf, tmp_path / "o.gguf")
    assert rc == 1 and "MistralForCausalLM" in err and "unsupported architecture" in err
    assert not (tmp_path / "o.gguf").exists()


def test_missing_weights_and_missing_shard(tmp_path, capsys):
    hf = _copy_checkpoint(tmp_path)
    (hf / "model.safetensors").unlink()
    rc, err = _run(capsys, hf, tmp_path / "o.gguf")
    assert rc == 1 and "no *.safetensors" in err

    sharded = shutil.copytree(llm_tiny.tiny_model("qwen3").hf_dir, tmp_path / "sharded")
    next(sharded.glob("model-00002-*.safetensors")).unlink()
    rc, err = _run(capsys, sharded, tmp_path / "o.gguf")
    assert rc == 1 and "missing" in err


def test_missing_tokenizer(tmp_path, capsys):
    hf = _copy_checkpoint(tmp_path)
    (hf / "tokenizer.json").unlink()
    rc, err = _run(capsys, hf, tmp_path / "o.gguf")
    assert rc == 1 and "tokenizer.json" in err


def test_bad_output_location(tmp_path, capsys):
    hf = llm_tiny.tiny_model("qwen2").hf_dir
    rc, err = _run(capsys, hf, tmp_path / "no" / "such" / "dir" / "o.gguf")
    assert rc == 1 and "does not exist" in err
    rc, err = _run(capsys, hf, tmp_path)
    assert rc == 1 and "is a directory" in err


def test_no_space_is_a_user_error(tmp_path, capsys, monkeypatch):
    import parrot.llm.convert as convert_mod

    class Usage:
        free = 1000

    monkeypatch.setattr(convert_mod.shutil, "disk_usage", lambda p: Usage)
    rc, err = _run(capsys, llm_tiny.tiny_model("qwen2").hf_dir, tmp_path / "o.gguf")
    assert rc == 1 and "not enough space" in err
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    """A crash while tensors are being written removes the temp file; no output appears."""
    import gguf

    import parrot.llm.convert as convert_mod

    calls = {"n": 0}
    real_quantize = gguf.quants.quantize

    def failing_quantize(data, qtype):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # like Ctrl-C in the middle of the write
        return real_quantize(data, qtype)

    monkeypatch.setattr(gguf.quants, "quantize", failing_quantize)
    with pytest.raises(KeyboardInterrupt):
        convert_mod.convert(llm_tiny.tiny_model("llama").hf_dir, tmp_path / "o.gguf", "q8_0", progress=False)
    assert calls["n"] == 5
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_convert(tmp_path, capsys):
    out = tmp_path / "o.gguf"
    out.write_bytes(b"old model")
    hf = _copy_checkpoint(tmp_path)
    (hf / "tokenizer.json").write_text("{not json")
    rc, err = _run(capsys, hf, out)
    assert rc == 1 and "invalid JSON" in err
    assert out.read_bytes() == b"old model"
