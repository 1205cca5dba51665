"""Test access to the shipped real clips (parrot.speech.clips) and the pulled speech models."""

from __future__ import annotations

from pathlib import Path

import pytest

from parrot.speech.clips import CLIPS, clip, padded_recording

__all__ = ["CLIPS", "clip", "padded_recording", "model_dir", "silero_path"]


def model_dir(name: str) -> Path:
    """A pulled registry speech model (`make test` pulls them), else the test skips."""
    from parrot.speech.models import SPEECH_MODELS, is_present, speech_model_dir

    model = SPEECH_MODELS[name]
    if not is_present(model):
        pytest.skip(f"speech model {name} not pulled (parrot models pull {name})")
    return speech_model_dir(model)


def silero_path() -> str:
    return str(model_dir("silero-vad") / "silero_vad.onnx")
