"""`parrot listen`, `parrot doctor`, `parrot models list` with the speech models, `parrot bench voice`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from speech_clips import CLIPS, model_dir

from parrot.audio.wav import write_wav
from parrot.cli import main
from parrot.speech.clips import CLIP_DIR
from parrot.speech.text import cer


def test_listen_prints_the_text(capsys):
    pytest.importorskip("faster_whisper")
    model_dir("whisper-base"), model_dir("silero-vad")
    name = "BAC009S0764W0121.wav"
    assert main(["listen", str(CLIP_DIR / name)]) == 0
    out = capsys.readouterr().out.strip()
    assert cer(CLIPS[name], out) <= 0.15, out


def test_listen_to_noise_or_a_bad_file_is_one_line(tmp_path, capsys):
    model_dir("silero-vad"), model_dir("whisper-base")
    write_wav(tmp_path / "noise.wav", np.random.default_rng(0).normal(0, 0.05, 32000).astype(np.float32), 16000)
    assert main(["listen", str(tmp_path / "noise.wav")]) == 1
    assert capsys.readouterr().err.strip() == f"parrot: {tmp_path / 'noise.wav'}: nothing heard"
    (tmp_path / "bad.wav").write_text("not audio")
    assert main(["listen", str(tmp_path / "bad.wav")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("parrot: ") and "not a PCM WAV" in err and "\n" not in err


def test_doctor_reports_audio_and_engines(tmp_path, capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split(None, 2)[0] + " " + ln.split(None, 2)[1]: ln for ln in out.splitlines() if ln.startswith("audio")}
    assert set(lines) == {"audio in", "audio out"}
    assert "asr" in out and "vad" in out
    cfg = tmp_path / "c.toml"
    cfg.write_text('[audio]\ndriver = "none"\n[speech]\nasr = "none"\n')
    assert main(["doctor", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "audio off (audio.driver = none)" in out and "off (speech.asr = none)" in out


def test_models_list_shows_speech_models(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "whisper-base" in out and "silero-vad" in out


@pytest.mark.slow
def test_bench_voice_json(capsys):
    model_dir("whisper-base")
    assert main(["bench", "voice", "--json", "--beams", "1", "--no-memory"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert 0 < figures["asr"]["beam1"]["rtf"] < 5 and figures["asr"]["beam1"]["cer"] <= 0.15
    assert figures["vad"]["found"] == figures["vad"]["spoken"] == 3
