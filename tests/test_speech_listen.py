"""The listening controller with the simulator's WAV microphone on a virtual clock, the real
Silero VAD and real engines (Whisper; the FunASR client in 2pass mode for partial text)."""

from __future__ import annotations

import numpy as np
import pytest
from speech_clips import CLIPS, clip, model_dir, silero_path

from parrot.audio.ports import NullAudioIn
from parrot.audio.sim import WavFileIn
from parrot.errors import UserError
from parrot.speech.listen import NO_SPEECH, NO_WORDS, TOO_SHORT, Elapsed, Final, Level, Listener, NothingHeard, Partial, level
from parrot.speech.text import cer
from parrot.speech.vad import SileroVad

pytest.importorskip("sherpa_onnx")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class NoAsr:
    """The engine must not be asked when there is nothing to recognise."""

    name = "none"

    def transcribe(self, pcm):
        raise AssertionError("ASR called without speech")


@pytest.fixture(scope="module")
def whisper():
    pytest.importorskip("faster_whisper")
    from parrot.speech.whisper import WhisperAsr

    return WhisperAsr(model_dir("whisper-base"))


def hold(listener: Listener, clock: Clock, seconds: float, tick: float = 0.1) -> list:
    events = []
    for _ in range(int(round(seconds / tick))):
        if not listener.active:
            break
        clock.t += tick
        events += listener.poll()
    return events


def test_level_meter_scale():
    assert level(np.zeros(100, np.float32)) == 0.0
    assert level(np.full(100, 1.0, np.float32)) == 1.0
    assert 0.6 < level(np.full(100, 0.1, np.float32)) < 0.7  # -20 dBFS


def test_push_to_talk_recognises_real_speech(whisper):
    clock = Clock()
    name = "BAC009S0764W0122.wav"
    mic = WavFileIn([np.concatenate([np.zeros(8000, np.float32), clip(name)])], clock)
    ls = Listener(mic, SileroVad(silero_path()), whisper, clock)
    assert ls.start() == [Level(0.0), Elapsed(0.0)]
    events = hold(ls, clock, 5.0)
    assert all(isinstance(e, (Level, Elapsed)) for e in events)
    levels = [e.value for e in events if isinstance(e, Level)]
    assert levels[:4] == [0.0] * 4 and max(levels) > 0.35  # quiet first half second, then speech
    assert [e.seconds for e in events if isinstance(e, Elapsed)][-1] == pytest.approx(5.0)
    final = ls.release()[-1]
    assert isinstance(final, Final) and cer(CLIPS[name], final.text) <= 0.15, final
    assert ls.poll() == [] and not ls.active


def test_hands_free_ends_itself_after_the_silence(whisper):
    clock = Clock()
    name = "BAC009S0764W0121.wav"
    mic = WavFileIn([clip(name)], clock)
    ls = Listener(mic, SileroVad(silero_path(), min_silence_s=0.8), whisper, clock, hands_free=True)
    ls.start()
    events = []
    while ls.active and clock.t < 10:
        clock.t += 0.1
        events += ls.poll()
    assert isinstance(events[-1], Final) and cer(CLIPS[name], events[-1].text) <= 0.15
    assert 4.2 < clock.t < 6.0  # the clip is 4.2 s; ended by the VAD soon after, not by a timeout


def test_tap_noise_and_silence_say_so_without_asking_the_engine():
    clock = Clock()
    noise = np.random.default_rng(0).normal(0, 0.05, 16000 * 3).astype(np.float32)
    mic = WavFileIn([np.zeros(16000, np.float32), noise, clip("BAC009S0764W0121.wav")], clock)
    ls = Listener(mic, SileroVad(silero_path()), NoAsr(), clock)
    ls.start()
    hold(ls, clock, 0.2)
    assert ls.release()[-1] == NothingHeard(TOO_SHORT)  # a tap of the key
    ls.start()
    hold(ls, clock, 2.0)
    assert ls.release()[-1] == NothingHeard(NO_SPEECH)  # noise only
    hands_free = Listener(mic, SileroVad(silero_path()), NoAsr(), clock, hands_free=True, no_speech_timeout_s=2.0)
    hands_free.start()
    hold(hands_free, clock, 0.2)
    hands_free.cancel()  # the user gave up: nothing recognised, no events
    assert not hands_free.active


def test_hands_free_gives_up_when_nobody_speaks():
    clock = Clock()
    ls = Listener(WavFileIn([], clock), SileroVad(silero_path()), NoAsr(), clock, hands_free=True, no_speech_timeout_s=2.0)
    ls.start()
    events = hold(ls, clock, 3.0)
    assert events[-1] == NothingHeard(NO_SPEECH) and 1.9 < clock.t < 2.2 + 0.1


def test_engine_that_hears_no_words(tmp_path):
    class Blank:
        name = "blank"

        def transcribe(self, pcm):
            return "  "

    clock = Clock()
    ls = Listener(WavFileIn([clip("BAC009S0764W0121.wav")], clock), SileroVad(silero_path()), Blank(), clock)
    ls.start()
    hold(ls, clock, 4.5)
    assert ls.release()[-1] == NothingHeard(NO_WORDS)


def test_no_microphone_is_a_clear_error():
    clock = Clock()
    ls = Listener(NullAudioIn("no sound card (no audio input device)"), SileroVad(silero_path()), NoAsr(), clock)
    with pytest.raises(UserError, match="cannot listen: no sound card"):
        ls.start()
    assert not ls.active


def test_streaming_engine_shows_partial_text():
    pytest.importorskip("websockets")
    from funasr_server import ProtocolServer

    from parrot.speech.funasr_ws import FunAsrWsClient

    server = ProtocolServer(lambda pcm: f"final {pcm.size}")
    try:
        clock = Clock()
        speech = clip("BAC009S0764W0121.wav")
        ls = Listener(WavFileIn([speech], clock), SileroVad(silero_path()), FunAsrWsClient(server.url, "2pass"), clock)
        ls.start()
        events = []
        for _ in range(45):
            clock.t += 0.1
            events += ls.poll()
            import time

            time.sleep(0.01)  # the server's partials travel over a real socket
        partials = [e.text for e in events if isinstance(e, Partial)]
        assert partials and partials[0].startswith("<1>")
        final = ls.release()[-1]
        assert final == Final(f"final {72000}")  # the whole 4.5 s went to the server
    finally:
        server.close()


def test_configured_2pass_server_streams_partials_through_the_lazy_engine():
    """speech.asr = funasr-ws, funasr_mode = 2pass: the app's (lazily loaded) engine streams."""
    pytest.importorskip("websockets")
    from funasr_server import ProtocolServer

    from parrot.config import validate
    from parrot.speech.engines import LazyAsr

    server = ProtocolServer(lambda pcm: "final")
    try:
        speech = validate({"speech": {"asr": "funasr-ws", "funasr_mode": "2pass", "funasr_url": server.url}})["speech"]
        clock = Clock()
        ls = Listener(WavFileIn([clip("BAC009S0764W0121.wav")], clock), SileroVad(silero_path()), LazyAsr(speech), clock)
        assert ls.streaming
        ls.start()
        events = []
        for _ in range(30):
            clock.t += 0.1
            events += ls.poll()
            import time

            time.sleep(0.01)
        assert any(isinstance(e, Partial) for e in events)
        assert ls.release()[-1] == Final("final")
    finally:
        server.close()
