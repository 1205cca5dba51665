"""Real recorded Mandarin speech shipped for `parrot bench voice` and the tests
(data/clips/README.md: where each clip comes from, its transcript and licence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parrot.audio.ports import CAPTURE_RATE

CLIP_DIR = Path(__file__).parent / "data" / "clips"
CLIPS = {
    "BAC009S0764W0121.wav": "甚至出现交易几乎停滞的情况",
    "BAC009S0764W0122.wav": "一二线城市虽然也处于调整中",
    "f5tts_basic_ref_zh.wav": "对，这就是我，万人敬仰的太乙真人。",
}


def clip(name: str) -> np.ndarray:
    """A shipped clip as float32 mono at 16 kHz."""
    from parrot.audio.wav import read_wav

    return read_wav(CLIP_DIR / name, CAPTURE_RATE)[0]


def padded_recording(gaps_s=(1.0, 1.5, 1.5), tail_s: float = 1.0, noise: float = 0.003):
    """The clips one after another with quiet gaps and a little room noise: (samples, spans)
    where spans are the (start, end) sample index of each clip."""
    parts, spans, pos = [], [], 0
    for gap, name in zip(gaps_s, CLIPS):
        parts.append(np.zeros(int(gap * CAPTURE_RATE), np.float32))
        pos += parts[-1].size
        parts.append(clip(name))
        spans.append((pos, pos + parts[-1].size))
        pos += parts[-1].size
    parts.append(np.zeros(int(tail_s * CAPTURE_RATE), np.float32))
    x = np.concatenate(parts)
    return x + np.random.default_rng(0).normal(0, noise, x.size).astype(np.float32), spans
