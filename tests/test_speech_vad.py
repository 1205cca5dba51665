"""Silero VAD through sherpa-onnx on real speech padded with silence and noise."""

from __future__ import annotations

import numpy as np
import pytest
from speech_clips import clip, padded_recording, silero_path

from parrot.speech.vad import SileroVad, trim

pytest.importorskip("sherpa_onnx")


def test_finds_each_utterance_inside_its_clip():
    x, spans = padded_recording()
    segs = SileroVad(silero_path()).segments(x)
    assert len(segs) == len(spans)
    for seg, (start, end) in zip(segs, spans):
        assert start - 1600 <= seg.start and seg.end <= end + 1600  # within its clip (0.1 s slack)
        assert seg.seconds >= 0.6 * (end - start) / 16000  # and covers most of it


@pytest.mark.parametrize("level", [0.01, 0.05, 0.2])
def test_no_speech_in_noise(level):
    noise = np.random.default_rng(1).normal(0, level, 16000 * 5).astype(np.float32)
    assert SileroVad(silero_path()).segments(noise) == []


def test_streaming_endpoint_after_silence_and_trim():
    vad = SileroVad(silero_path(), min_silence_s=0.8)
    speech = clip("BAC009S0764W0121.wav")
    for i in range(0, speech.size, 1600):  # 100 ms chunks as a microphone delivers them
        vad.feed(speech[i : i + 1600])
    assert not vad.ended()  # the clip ends within 0.8 s of its last word
    vad.feed(np.zeros(16000, np.float32))
    assert vad.ended()
    rec = np.concatenate([np.zeros(32000, np.float32), speech, np.zeros(32000, np.float32)])
    cut = trim(rec, SileroVad(silero_path()).segments(rec))
    assert speech.size * 0.6 < cut.size < speech.size + 8000
    assert trim(rec, []).size == 0
