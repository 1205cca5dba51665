"""WAV files out: 16-bit PCM mono, written atomically (parrot.storage)."""

from __future__ import annotations

import io
import os
import wave

import numpy as np

from parrot.storage import atomic_write


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    samples = np.clip(np.asarray(pcm, np.float32), -1.0, 1.0)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes((samples * 32767.0).round().astype("<i2").tobytes())
    return buf.getvalue()


def write_wav(path: str | os.PathLike, pcm: np.ndarray, rate: int) -> None:
    atomic_write(path, wav_bytes(pcm, rate))
