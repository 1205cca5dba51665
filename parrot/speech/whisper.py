"""The default ASR: Whisper base (CTranslate2) run by faster-whisper, int8 on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parrot.errors import UserError
from parrot.speech.deps import need
from parrot.speech.text import to_simplified

MIN_SAMPLES = 1600  # 0.1 s: shorter than any word; Whisper would only invent text


class WhisperAsr:
    """Asr port. beam_size 1 (greedy) is the default: on the test clips it gave the same text
    as 5 in less time (README: Voice figures)."""

    def __init__(self, model_dir: str | Path, *, beam_size: int = 1, threads: int = 2, language: str = "zh") -> None:
        need("faster_whisper", "the whisper ASR")
        need("opencc", "the whisper ASR")
        from faster_whisper import WhisperModel

        model_dir = Path(model_dir)
        missing = [f for f in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt") if not (model_dir / f).is_file()]
        if missing:
            raise UserError(f"whisper model directory {model_dir}: missing {', '.join(missing)}")
        try:
            self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
        except RuntimeError as e:  # CTranslate2's message for a corrupt or foreign model.bin
            raise UserError(f"whisper model {model_dir}: {e}") from None
        self.name = f"whisper ({model_dir.name}, beam {beam_size})"
        self.beam_size = beam_size
        self.language = language

    def transcribe(self, pcm: np.ndarray) -> str:
        pcm = np.asarray(pcm, np.float32)
        if pcm.size < MIN_SAMPLES:
            return ""
        segments, _info = self._model.transcribe(
            pcm, language=self.language, beam_size=self.beam_size, vad_filter=False,
            condition_on_previous_text=False, without_timestamps=True, temperature=0.0,
        )  # fmt: skip
        text = "".join(s.text for s in segments).strip()
        return to_simplified(text) if self.language == "zh" else text
