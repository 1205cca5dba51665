"""The audio ports the app talks to. Adapters (sounddevice, WAV files for the simulator,
in-memory for tests) implement these; the null ones stand in where a board has no sound."""

from __future__ import annotations

from typing import Protocol

import numpy as np

CAPTURE_RATE = 16000  # every ASR engine we use wants 16 kHz mono


class AudioIn(Protocol):
    """A microphone. Samples are float32 mono in [-1, 1] at `rate`."""

    rate: int

    def status(self) -> str | None:
        """None when usable, else why not, in words for the screen ("no sound card")."""

    def start(self) -> None:
        """Begin capturing (the talk key went down)."""

    def read(self) -> np.ndarray:
        """Samples captured since the last read (may be empty); never blocks."""

    def stop(self) -> np.ndarray:
        """Stop capturing and return what was not read yet."""


class AudioOut(Protocol):
    """A speaker. play() queues and returns at once; chunks play in order."""

    def status(self) -> str | None:
        """None when usable, else why not."""

    def play(self, pcm: np.ndarray, rate: int) -> None:
        """Queue float32 mono samples at `rate` (resampled by the adapter if needed)."""

    def stop(self) -> None:
        """Drop everything queued and go quiet now (barge-in)."""

    def busy(self) -> bool:
        """True while something is queued or playing."""


class NullAudioIn:
    """A board with no microphone: says so, captures nothing."""

    rate = CAPTURE_RATE

    def __init__(self, reason: str = "no microphone") -> None:
        self.reason = reason

    def status(self) -> str | None:
        return self.reason

    def start(self) -> None:
        pass

    def read(self) -> np.ndarray:
        return np.zeros(0, np.float32)

    def stop(self) -> np.ndarray:
        return np.zeros(0, np.float32)


class NullAudioOut:
    """A board with no speaker: says so, drops what it is given."""

    def __init__(self, reason: str = "no speaker") -> None:
        self.reason = reason

    def status(self) -> str | None:
        return self.reason

    def play(self, pcm: np.ndarray, rate: int) -> None:
        pass

    def stop(self) -> None:
        pass

    def busy(self) -> bool:
        return False
