"""Sample-rate conversion for whole clips (numpy only): the voice speaks at 24 kHz, the ASR
and many sound cards want 16 or 48 kHz."""

from __future__ import annotations

import numpy as np


def resample(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by the FFT: exact for a whole clip, no filter design needed."""
    pcm = np.asarray(pcm, np.float32)
    if rate_in == rate_out or len(pcm) == 0:
        return pcm
    n_out = max(1, round(len(pcm) * rate_out / rate_in))
    pad = (-len(pcm)) % 2  # rfft/irfft round trip is cleanest on even lengths
    spectrum = np.fft.rfft(np.concatenate([pcm, np.zeros(pad, np.float32)]))
    n_in = len(pcm) + pad
    n_bins = n_out // 2 + 1
    if n_bins <= len(spectrum):
        spectrum = spectrum[:n_bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(n_bins - len(spectrum), spectrum.dtype)])
    out = np.fft.irfft(spectrum, n_out) * (n_out / n_in)
    return out.astype(np.float32)
