"""Intelligibility of the default voice: speech made by the Baker voice, recognised back by the
default ASR (Whisper base, int8, zh), character error rate <= 0.15.

The ASR writes numbers as digits; they are read out the way the voice read them (三点五)
before counting errors, so a digit is not an error of the voice."""

from __future__ import annotations

import pytest

from parrot.audio.resample import resample
from parrot.speech.speakable import numbers_to_zh
from parrot.speech.text import cer, edit_distance, normalize_for_cer
from speech_clips import model_dir

SENTENCES = [
    "今天天气很好，我们一起去公园散步吧。",
    "请把桌子上的书拿给我。",
    "人工智能正在改变我们的生活。",
    "北京是中华人民共和国的首都。",
    "这个问题的答案是三点五米。",
    "我明天早上八点要去火车站。",
    "多喝水，早点休息，身体会慢慢好起来的。",
    "长城是世界上最长的建筑之一。",
]


@pytest.fixture(scope="module")
def asr():
    from parrot.speech.whisper import WhisperAsr

    return WhisperAsr(model_dir("whisper-base"), beam_size=1, threads=2)


@pytest.fixture(scope="module")
def baker():
    from parrot.speech.tts_baker import BakerTts
    from parrot.speech.voices import check_voice, voice_dir

    if check_voice(voice_dir()) is not None:
        pytest.skip("the Baker voice is not pulled (parrot tts pull)")
    return BakerTts(voice_dir())


def round_trip(tts, asr, sentence: str) -> str:
    pcm = tts.synthesize(sentence)
    return numbers_to_zh(asr.transcribe(resample(pcm, tts.sample_rate, 16000)))


def test_one_sentence_recognised_back(baker, asr):
    heard = round_trip(baker, asr, SENTENCES[1])
    assert cer(SENTENCES[1], heard) <= 0.15, heard


@pytest.mark.slow
def test_default_voice_character_error_rate(baker, asr):
    errors = chars = 0
    for sentence in SENTENCES:
        heard = round_trip(baker, asr, sentence)
        ref = normalize_for_cer(sentence)
        errors += edit_distance(ref, normalize_for_cer(heard))
        chars += len(ref)
        print(f"{sentence} -> {heard}")
    print(f"round-trip CER {errors / chars:.3f} ({errors} edits in {chars} characters)")
    assert errors / chars <= 0.15
