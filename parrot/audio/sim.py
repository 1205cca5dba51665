"""Simulator audio: a WAV file spoken into the microphone, a speaker that records to a WAV.

Both run on a clock callable (the simulator's virtual clock, or time.monotonic), so a
scripted run produces the same samples every time, whatever the machine's speed.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from parrot.audio.ports import CAPTURE_RATE
from parrot.audio.resample import resample
from parrot.audio.wav import read_wav, write_wav

Clock = Callable[[], float]


class WavFileIn:
    """A microphone that hears one clip per capture: each start() begins the next clip at the
    clock's current time; after a clip (and once all are used) it hears silence."""

    rate = CAPTURE_RATE

    def __init__(self, clips: Sequence[np.ndarray | str | os.PathLike], clock: Clock) -> None:
        self._clips = [c if isinstance(c, np.ndarray) else read_wav(c, self.rate)[0] for c in clips]
        self._clock = clock
        self._clip = np.zeros(0, np.float32)
        self._t0: float | None = None
        self._pos = 0

    def status(self) -> str | None:
        return None

    def start(self) -> None:
        self._clip = self._clips.pop(0).astype(np.float32) if self._clips else np.zeros(0, np.float32)
        self._t0 = self._clock()
        self._pos = 0

    def read(self) -> np.ndarray:
        if self._t0 is None:
            return np.zeros(0, np.float32)
        now = int(round((self._clock() - self._t0) * self.rate))
        out = np.zeros(max(0, now - self._pos), np.float32)
        heard = self._clip[self._pos : now]
        out[: heard.size] = heard
        self._pos = max(self._pos, now)
        return out

    def stop(self) -> np.ndarray:
        out = self.read()
        self._t0 = None
        return out


class RecordingOut:
    """A speaker that writes what it plays onto a timeline at `rate`: each chunk starts when
    it was queued or when the previous one ends, whichever is later; stop() cuts at now."""

    def __init__(self, clock: Clock, rate: int = 24000) -> None:
        self._clock = clock
        self.rate = rate
        self._t0 = clock()
        self._chunks: list[tuple[int, np.ndarray]] = []  # (start sample, samples)
        self._end = 0  # sample index where the queue runs dry

    def _now(self) -> int:
        return int(round((self._clock() - self._t0) * self.rate))

    def status(self) -> str | None:
        return None

    def play(self, pcm: np.ndarray, rate: int) -> None:
        pcm = resample(np.asarray(pcm, np.float32), rate, self.rate)
        start = max(self._now(), self._end)
        self._chunks.append((start, pcm))
        self._end = start + pcm.size

    def stop(self) -> None:
        now = self._now()
        kept = []
        for start, pcm in self._chunks:
            if start < now:
                kept.append((start, pcm[: now - start]))
        self._chunks = kept
        self._end = min(self._end, now)

    def busy(self) -> bool:
        return self._now() < self._end

    def samples(self) -> np.ndarray:
        """Everything played so far, silence where nothing played, up to now or the last sample."""
        out = np.zeros(max(self._now(), self._end), np.float32)
        for start, pcm in self._chunks:
            out[start : start + pcm.size] += pcm
        return out

    def save(self, path: str | os.PathLike) -> None:
        write_wav(path, self.samples(), self.rate)
