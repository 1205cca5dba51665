"""Push-to-talk in the appliance: hold C, the simulator's microphone speaks a real recording
from that moment (virtual clock), the screen shows the meter and seconds, letting go
recognises with the real Whisper + Silero engines; the text is sent or put in the editor
(voice_submit). Short takes and a board without a microphone say so and change nothing."""

from __future__ import annotations

import numpy as np
import pytest
from speech_clips import CLIPS, clip, model_dir

from parrot.app.assemble import build_appliance
from parrot.app.state import ListenView, ScreenName
from parrot.audio.sim import WavFileIn
from parrot.boards.test import TestBoard
from parrot.config import Config, validate
from parrot.keys import Key
from parrot.speech.text import cer

pytest.importorskip("faster_whisper")
pytest.importorskip("sherpa_onnx")


class ListeningBoard(TestBoard):
    def __init__(self, clips):
        super().__init__()
        self.clips = clips

    def audio_in(self):
        return WavFileIn(self.clips, self.clock.now)


def make(tmp_path, clips, voice_submit=True):
    from parrot.speech.engines import make_ears

    model_dir("whisper-base"), model_dir("silero-vad")
    config = Config(validate({"ui": {"splash_s": 0.02}}))
    asr, vad, note = make_ears(config["speech"])
    assert note is None
    appliance = build_appliance(ListeningBoard(clips), config, tmp_path, backend="echo", asr=asr, vad=vad)
    appliance.app.settings["voice_submit"] = voice_submit
    appliance.advance(0.1)
    appliance.app.go(ScreenName.INPUT)
    return appliance


def talk(appliance, seconds):
    """Hold C for `seconds`, watching the overlay; return the views seen while held."""
    appliance.hold(Key.C, seconds)
    views = []
    end = appliance.clock.now() + seconds + 0.2
    while appliance.clock.now() < end:
        appliance.tick()
        if appliance.app.listening is not None:
            views.append(ListenView(**vars(appliance.app.listening)))
    return views


def test_hold_to_talk_sends_the_recognised_question(tmp_path):
    name = "BAC009S0764W0122.wav"
    appliance = make(tmp_path, [clip(name)])
    try:
        assert appliance.app.status.asr_ready
        views = talk(appliance, 5.0)
        assert views and max(v.level for v in views) > 0.3
        assert max(v.seconds for v in views) == pytest.approx(4.6, abs=0.2)  # from the long press on
        appliance.advance(0.5)
        chat = appliance.app.screens[ScreenName.CHAT]
        assert appliance.app.screen.name is ScreenName.CHAT and appliance.app.listening is None
        question = chat.turns[-1].question if chat.turns else ""
        assert cer(CLIPS[name], question) <= 0.15, chat.turns
        appliance.app.render()  # and the answer screen draws
    finally:
        appliance.close()


def test_voice_submit_off_puts_the_text_in_the_editor(tmp_path):
    name = "BAC009S0764W0121.wav"
    appliance = make(tmp_path, [clip(name)], voice_submit=False)
    try:
        talk(appliance, 5.0)
        appliance.advance(0.5)
        editor = appliance.app.screens[ScreenName.INPUT].session.editor
        assert appliance.app.screen.name is ScreenName.INPUT
        assert cer(CLIPS[name], editor.text) <= 0.15
        assert not appliance.app.screens[ScreenName.CHAT].turns
    finally:
        appliance.close()


def test_a_short_press_of_c_is_still_ctrl_and_silence_says_so(tmp_path):
    appliance = make(tmp_path, [np.zeros(16000 * 3, np.float32)])
    try:
        appliance.hold(Key.C, 0.1)
        appliance.advance(0.3)
        assert appliance.app.listening is None and appliance.app.screens[ScreenName.INPUT].session.ctrl_armed
        appliance.app.screens[ScreenName.INPUT].session.ctrl_armed = False
        talk(appliance, 2.0)
        appliance.advance(0.3)
        assert appliance.app.listening is None
        assert appliance.app.toast and appliance.app.toast[0] == "没有听到声音"
        assert appliance.app.screens[ScreenName.INPUT].session.editor.text == ""
    finally:
        appliance.close()


def test_board_without_a_microphone_cannot_listen(tmp_path):
    appliance = build_appliance(TestBoard(), Config(validate({"ui": {"splash_s": 0.02}})), tmp_path, backend="echo")
    try:
        appliance.advance(0.1)
        appliance.app.go(ScreenName.INPUT)
        assert not appliance.app.status.asr_ready
        talk(appliance, 1.5)
        assert appliance.app.listening is None  # a long C only says why it cannot listen
        assert appliance.app.toast and appliance.app.toast[0] == "不能语音输入：没有语音识别"
    finally:
        appliance.close()


@pytest.mark.slow
def test_sim_asks_by_voice_and_records_the_spoken_answer(tmp_path):
    """`parrot sim --wav-in q.wav --wav-out a.wav`: the question is spoken into the microphone,
    the (echo) answer is spoken by the default voice, and a.wav, recognised again, holds it."""
    from parrot.cli import main
    from parrot.config import load_config
    from parrot.speech.clips import CLIP_DIR
    from parrot.speech.cli import run_listen
    from parrot.speech.tts import load_tts

    model_dir("whisper-base")
    _tts, note = load_tts(load_config()["tts"])
    if note:
        pytest.skip(f"default voice not available: {note}")
    script = tmp_path / "ask.script"
    script.write_text("wait 1.0\npress D\npress 1\nhold C 5.2\nwait-for llm-done 120\nwait 6\n")
    name = "BAC009S0764W0121.wav"
    out = tmp_path / "a.wav"
    assert main(["sim", "--fresh", "--backend", "echo", "--wav-in", str(CLIP_DIR / name), "--wav-out", str(out),
                 "--script", str(script)]) == 0

    class Args:
        wav, config, no_vad = str(out), None, False

    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert run_listen(Args) == 0
    heard = buf.getvalue().strip()
    assert cer("你说" + CLIPS[name], heard) <= 0.2, heard  # the echo backend answers 你说：<question>


def test_swap_needed_only_when_the_measured_sizes_do_not_fit():
    from parrot.app.assemble import asr_llm_swap_needed

    def needed(mb):
        return asr_llm_swap_needed(Config(validate({"speech": {"memory_budget_mb": mb}})))

    assert needed(512) and needed(590) and not needed(600) and not needed(4096) and not needed(0)


@pytest.mark.parametrize("budget, swapped", [(512, True), (4096, False)])
def test_small_memory_budget_frees_the_llm_for_the_asr_and_back(tmp_path, budget, swapped):
    """512 MB (the router): with the measured sizes ASR + VAD + LLM do not fit, so the model is
    freed when listening starts, the ASR after recognising, and the model is loaded again (its
    conversation restored) before the question is answered. A large budget keeps both."""
    from parrot.speech.engines import make_ears

    model_dir("whisper-base"), model_dir("silero-vad")
    config = Config(validate({"ui": {"splash_s": 0.02}, "speech": {"memory_budget_mb": budget}}))
    asr, vad, _ = make_ears(config["speech"])
    appliance = build_appliance(ListeningBoard([clip("BAC009S0764W0122.wav")]), config, tmp_path, backend="echo",
                                asr=asr, vad=vad)
    log = []
    backend = appliance.runtime.backend
    for name in ("close", "load", "restore"):
        original = getattr(backend, name)
        setattr(backend, name, lambda *a, _o=original, _n=name: (log.append(_n), _o(*a))[1])
    real_transcribe, real_unload = asr.transcribe, asr.unload
    asr.transcribe = lambda pcm: (log.append("asr loaded" if not asr.loaded else "asr"), real_transcribe(pcm))[1]
    asr.unload = lambda: (log.append("asr unloaded"), real_unload())[1]
    try:
        appliance.advance(0.1)
        appliance.app.go(ScreenName.INPUT)
        log.clear()
        talk(appliance, 5.0)
        appliance.advance(1.0)
        chat = appliance.app.screens[ScreenName.CHAT]
        assert chat.turns and chat.turns[-1].answer.startswith("你说"), chat.turns
        if swapped:
            assert log == ["close", "asr loaded", "asr unloaded", "load", "restore"]
            assert appliance.app.status.model == "echo" and not asr.loaded
        else:
            assert log == ["asr loaded"] and asr.loaded
    finally:
        appliance.close()


def test_hands_free_a_long_press_starts_and_the_silence_ends(tmp_path):
    """speech.hands_free: C is let go at once; the recording goes on until the VAD hears the
    end of the question (speech then speech.end_silence_s of silence), then it is sent."""
    from parrot.speech.engines import make_ears

    model_dir("whisper-base"), model_dir("silero-vad")
    name = "BAC009S0764W0121.wav"
    config = Config(validate({"ui": {"splash_s": 0.02}, "speech": {"hands_free": True}}))
    asr, vad, _ = make_ears(config["speech"])
    appliance = build_appliance(ListeningBoard([clip(name)]), config, tmp_path, backend="echo", asr=asr, vad=vad)
    try:
        appliance.advance(0.1)
        appliance.app.go(ScreenName.INPUT)
        views = talk(appliance, 0.6)  # just past the long press
        assert views and appliance.app.listening is not None  # still listening after C came up
        t0 = appliance.clock.now()
        while appliance.app.listening is not None and appliance.clock.now() - t0 < 10:
            appliance.tick()
        assert appliance.clock.now() - t0 < 6.5  # the 4.2 s clip plus the end silence, not the 30 s limit
        appliance.advance(0.5)
        chat = appliance.app.screens[ScreenName.CHAT]
        assert chat.turns and cer(CLIPS[name], chat.turns[-1].question) <= 0.15, chat.turns
    finally:
        appliance.close()
