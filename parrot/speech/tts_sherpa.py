"""sherpa-onnx offline TTS from a model directory the user provides (no Chinese sherpa voice is
in any registry): VITS (incl. MeloTTS and the aishell3/baker VITS voices), Matcha (acoustic
model + vocoder) and Kokoro. The kind is told by the files present; a missing file is named.

A model that crashes onnxruntime would take the appliance with it, so the directory is
loaded once in a child process first (parrot.speech.probe) and refused if that child dies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parrot.errors import UserError
from parrot.speech.deps import need

KINDS = ("vits", "matcha", "kokoro")


def _one(directory: Path, patterns: tuple[str, ...], what: str) -> Path:
    for pattern in patterns:
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
    raise UserError(f"sherpa-onnx TTS model in {directory}: missing {what} ({' or '.join(patterns)})")


def _optional(directory: Path, name: str) -> str:
    path = directory / name
    return str(path) if path.exists() else ""


def detect_kind(directory: Path) -> str:
    if (directory / "voices.bin").is_file():
        return "kokoro"
    if any(directory.glob("vocos*.onnx")) or any(directory.glob("hifigan*.onnx")):
        return "matcha"
    return "vits"


def model_config(model_dir: str | Path, kind: str = "auto", threads: int = 2):
    """The sherpa_onnx.OfflineTtsConfig for a directory, or a UserError naming what is missing."""
    directory = Path(model_dir).expanduser()
    if not directory.is_dir():
        raise UserError(f"sherpa-onnx TTS model directory {directory} does not exist")
    kind = detect_kind(directory) if kind == "auto" else kind
    if kind not in KINDS:
        raise UserError(f"unknown sherpa-onnx TTS kind {kind!r} (known: auto, {', '.join(KINDS)})")
    need("sherpa_onnx", "sherpa-onnx TTS")
    import sherpa_onnx
    tokens = str(_one(directory, ("tokens.txt",), "the token table"))
    shared = dict(lexicon=_optional(directory, "lexicon.txt"), data_dir=_optional(directory, "espeak-ng-data"),
                  dict_dir=_optional(directory, "dict"))  # fmt: skip
    if kind == "vits":
        model = _one(directory, ("model.onnx", "*.int8.onnx", "*.onnx"), "the VITS model")
        cfg = sherpa_onnx.OfflineTtsModelConfig(vits=sherpa_onnx.OfflineTtsVitsModelConfig(model=str(model), tokens=tokens, **shared))
    elif kind == "matcha":
        vocoder = _one(directory, ("vocos*.onnx", "hifigan*.onnx"), "the vocoder")
        acoustic = _one(directory, ("model-steps-*.onnx", "acoustic*.onnx", "model.onnx"), "the acoustic model")
        cfg = sherpa_onnx.OfflineTtsModelConfig(
            matcha=sherpa_onnx.OfflineTtsMatchaModelConfig(acoustic_model=str(acoustic), vocoder=str(vocoder), tokens=tokens, **shared)
        )
    else:
        model = _one(directory, ("model.onnx", "*.int8.onnx", "kokoro*.onnx"), "the Kokoro model")
        voices = _one(directory, ("voices.bin",), "the voice table")
        cfg = sherpa_onnx.OfflineTtsModelConfig(
            kokoro=sherpa_onnx.OfflineTtsKokoroModelConfig(model=str(model), voices=str(voices), tokens=tokens, **shared)
        )
    if kind in ("vits", "matcha") and not shared["lexicon"] and not shared["data_dir"]:
        raise UserError(f"sherpa-onnx TTS model in {directory}: missing lexicon.txt (or espeak-ng-data/)")
    cfg.num_threads = threads
    cfg.provider = "cpu"
    rule_fsts = ",".join(str(p) for p in sorted(directory.glob("*.fst")))
    return sherpa_onnx.OfflineTtsConfig(model=cfg, rule_fsts=rule_fsts, max_num_sentences=1)


class SherpaTts:
    """Tts port over sherpa_onnx.OfflineTts."""

    name = "sherpa"

    def __init__(self, model_dir: str | Path, kind: str = "auto", threads: int = 2, speaker: int = 0, check: bool = True) -> None:
        import sherpa_onnx

        config = model_config(model_dir, kind, threads)  # names a missing file before any child runs
        if check:
            from parrot.speech.probe import probe_in_child

            probe_in_child("tts", {"model": str(model_dir), "kind": kind})
        self._tts = sherpa_onnx.OfflineTts(config)
        self.sample_rate = int(self._tts.sample_rate)
        self.speaker = speaker

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        audio = self._tts.generate(text, sid=self.speaker, speed=speed)
        return np.asarray(audio.samples, np.float32)
