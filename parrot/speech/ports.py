"""What the app needs from speech engines (DESIGN.md): the adapters implement these."""

from __future__ import annotations

from typing import Iterator, Protocol

import numpy as np


class Asr(Protocol):
    """Speech -> text. pcm: float32 mono 16 kHz."""

    name: str

    def transcribe(self, pcm: np.ndarray) -> str:
        """The whole utterance's text (simplified Chinese where the language is Chinese)."""


class StreamingAsr(Asr, Protocol):
    """An engine that shows partial text while the user speaks."""

    def stream(self, chunks: Iterator[np.ndarray]) -> Iterator[tuple[str, bool]]:
        """Yield (text so far, False) once per chunk taken, then (final text, True) after the
        last: the caller paces the stream by feeding one chunk per next()."""


class Tts(Protocol):
    """Text -> speech."""

    name: str
    sample_rate: int

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        """float32 mono samples at sample_rate."""
