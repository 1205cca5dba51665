"""The voice half of `make run`: a question made by the default voice is asked by holding C
(demo/voice.script), recognised by the default ASR, shown and answered; the answer is recorded."""

import wave
from pathlib import Path

import pytest
from speech_clips import model_dir
from test_sim_e2e import find_text, read_frame

from parrot.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "北京是中国的首都吗？"


def test_make_run_voice_demo(tmp_path):
    model_dir("whisper-base"), model_dir("silero-vad")
    from parrot.config import load_config
    from parrot.speech.tts import load_tts

    _tts, note = load_tts(load_config()["tts"])
    if note:
        pytest.skip(f"default voice not available: {note}")
    question, answer = tmp_path / "q.wav", tmp_path / "a.wav"
    assert main(["say", QUESTION, "-o", str(question)]) == 0
    frames = tmp_path / "frames"
    assert main(["sim", "--fresh", "--backend", "echo", "--script", str(ROOT / "demo" / "voice.script"),
                 "--wav-in", str(question), "--wav-out", str(answer), "--frames", str(frames),
                 "--clock", "2026-11-29 09:30"]) == 0
    shown = read_frame(frames / "answer.png")
    assert find_text(shown, "首都"), "the spoken question was not recognised onto the screen"
    with wave.open(str(answer)) as w:
        assert w.getnframes() / w.getframerate() > 2.0  # the echo answer was spoken
