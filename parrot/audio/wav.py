"""WAV files in and out: 8/16/24/32-bit PCM, any channel count, read as float32 mono."""

from __future__ import annotations

import io
import os
import wave

import numpy as np

from parrot.audio.resample import resample
from parrot.errors import UserError
from parrot.storage import atomic_write


def read_wav(path: str | os.PathLike, rate: int | None = None) -> tuple[np.ndarray, int]:
    """(samples, rate): float32 mono in [-1, 1]; resampled to `rate` when given."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, src = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (wave.Error, EOFError) as e:
        raise UserError(f"{path}: not a PCM WAV file ({e})") from None
    if width == 1:
        pcm = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        pcm = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        pcm = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / (1 << 23)
    elif width == 4:
        pcm = np.frombuffer(raw, "<i4").astype(np.float32) / (1 << 31)
    else:
        raise UserError(f"{path}: unsupported sample width {width} bytes")
    pcm = pcm[: pcm.size - pcm.size % channels].reshape(-1, channels).mean(axis=1).astype(np.float32)
    if rate is not None and rate != src:
        return resample(pcm, src, rate), rate
    return pcm, src


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    """16-bit mono WAV of float32 samples (clipped to [-1, 1])."""
    ints = (np.clip(np.asarray(pcm, np.float32), -1.0, 1.0) * 32767).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(ints.tobytes())
    return buf.getvalue()


def write_wav(path: str | os.PathLike, pcm: np.ndarray, rate: int) -> None:
    """Atomically write a 16-bit mono WAV."""
    atomic_write(path, wav_bytes(pcm, rate))
