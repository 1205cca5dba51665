"""Real recorded Mandarin clips (tests/data/speech/README.md) and the pulled speech models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parrot.audio.wav import read_wav

DATA = Path(__file__).parent / "data" / "speech"
CLIPS = {
    "BAC009S0764W0121.wav": "甚至出现交易几乎停滞的情况",
    "BAC009S0764W0122.wav": "一二线城市虽然也处于调整中",
    "f5tts_basic_ref_zh.wav": "对，这就是我，万人敬仰的太乙真人。",
}


def clip(name: str) -> np.ndarray:
    return read_wav(DATA / name, 16000)[0]


def model_dir(name: str) -> Path:
    """A pulled registry speech model (`make test` pulls them), else the test skips."""
    from parrot.speech.models import SPEECH_MODELS, is_present, speech_model_dir

    model = SPEECH_MODELS[name]
    if not is_present(model):
        pytest.skip(f"speech model {name} not pulled (parrot models pull {name})")
    return speech_model_dir(model)


def silero_path() -> str:
    return str(model_dir("silero-vad") / "silero_vad.onnx")
