"""The default ASR (Whisper base, CTranslate2, faster-whisper int8) on real recorded Mandarin,
scored by character error rate against the corpora's transcripts."""

from __future__ import annotations

import numpy as np
import pytest
from speech_clips import CLIPS, clip, model_dir

from parrot.errors import UserError
from parrot.speech.text import cer, edit_distance, normalize_for_cer, to_simplified

pytest.importorskip("faster_whisper")


def test_cer_normalization():
    assert normalize_for_cer("1,2線，城市 OK!") == "一二线城市ok"
    assert edit_distance("abc", "axcd") == 2
    assert cer("甚至出现交易几乎停滞的情况", "甚至出现交易几乎停制的情况") == pytest.approx(1 / 13)
    assert to_simplified("處於調整中") == "处于调整中"


@pytest.fixture(scope="module")
def whisper():
    from parrot.speech.whisper import WhisperAsr

    return WhisperAsr(model_dir("whisper-base"))


def test_real_clips_within_cer_015(whisper):
    """The product path (`parrot listen`, push-to-talk): VAD-trimmed, then Whisper."""
    from parrot.speech.listen import Final, recognise
    from parrot.speech.vad import SileroVad
    from speech_clips import silero_path

    vad = SileroVad(silero_path())
    errors = chars = 0
    for name, ref in CLIPS.items():
        result = recognise(clip(name), vad, whisper)
        assert isinstance(result, Final), result
        text = result.text
        assert text == to_simplified(text), "output must be simplified characters"
        c = cer(ref, text)
        assert c <= 0.25, f"{name}: {text!r} (CER {c:.2f})"
        n = len(normalize_for_cer(ref))
        errors, chars = errors + round(c * n), chars + n
    assert errors / chars <= 0.15


def test_silence_and_tiny_input_give_no_invented_text(whisper):
    assert whisper.transcribe(np.zeros(800, np.float32)) == ""


def test_incomplete_model_directory_names_the_missing_file(tmp_path):
    from parrot.speech.whisper import WhisperAsr

    (tmp_path / "model.bin").write_bytes(b"\0" * 100)
    with pytest.raises(UserError, match="missing config.json, tokenizer.json, vocabulary.txt"):
        WhisperAsr(tmp_path)


def test_corrupt_model_bin_is_a_user_error(tmp_path):
    from parrot.speech.whisper import WhisperAsr

    src = model_dir("whisper-base")
    for f in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / f).write_bytes((src / f).read_bytes())
    (tmp_path / "model.bin").write_bytes(b"garbage" * 1000)
    with pytest.raises(UserError, match="whisper model"):
        WhisperAsr(tmp_path)
