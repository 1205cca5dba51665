"""Sample-rate conversion in numpy: a polyphase windowed-sinc filter for any rational ratio.

Used where an engine's rate and a device's rate differ (24 kHz voice -> 48 kHz card, a
44.1 kHz WAV -> 16 kHz ASR). Quality is ASR/speaker grade (Blackman window, 16 zero
crossings), not mastering grade; no scipy needed on the board.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np

_ZEROS = 16  # sinc zero crossings each side of the centre tap
_BLOCK = 1 << 15  # output samples computed per step (bounds the temporary matrix)


@lru_cache(maxsize=16)
def _filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """Low-pass taps for the up-sampled signal, split so that taps[k + j*up] is phase k, tap j."""
    m = max(up, down)
    length = 2 * _ZEROS * m + 1
    centre = length // 2
    i = np.arange(length) - centre
    taps = np.sinc(i / m) * np.blackman(length) * (up / m)
    per_phase = -(-length // up)
    padded = np.zeros(per_phase * up)
    padded[:length] = taps
    return padded.astype(np.float32), centre


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """float32 mono samples at `src` Hz -> `dst` Hz (same duration)."""
    x = np.asarray(x, dtype=np.float32)
    if src == dst or x.size == 0:
        return x.copy()
    if src <= 0 or dst <= 0:
        raise ValueError(f"sample rates must be positive, got {src} -> {dst}")
    g = gcd(src, dst)
    up, down = dst // g, src // g
    taps, centre = _filter(up, down)
    per_phase = taps.size // up
    n_out = -(-x.size * up // down)
    pad = per_phase + 1
    xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad + centre // up + 1, np.float32)])
    out = np.empty(n_out, np.float32)
    j = np.arange(per_phase)
    for start in range(0, n_out, _BLOCK):
        n = np.arange(start, min(start + _BLOCK, n_out))
        t = n * down + centre  # position in the up-sampled signal, delay removed
        m0 = t // up
        phase = t - m0 * up
        idx = m0[:, None] - j[None, :] + pad
        out[start : start + n.size] = np.sum(xp[idx] * taps[phase[:, None] + j[None, :] * up], axis=1)
    return out
