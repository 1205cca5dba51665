"""The streaming speaker with the real espeak-ng voice and a fake sound card whose playing
takes time: pieces spoken in order while the answer is still generating; barge-in stops the
sound and the generation within 100 ms."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from parrot.speech.speaker import Speaker, SpeechState
from parrot.speech.tts_espeak import EspeakTts
from speech_fakes import ClockedAudioOut

ANSWER = (
    "好的，我来介绍一下北京。北京是中国的首都，有三千多年的历史。"
    "**故宫**是世界上最大的宫殿建筑群，每年接待游客超过1,500万人次。"
    "长城也在北京附近，很多人周末去爬长城。希望这些信息对你有帮助！"
)


class FakeGenerator:
    """An LLM at 25 tokens/s: a token every 40 ms, until the answer ends or abort() is called."""

    def __init__(self, speaker: Speaker, text: str, token_s: float = 0.04, chars_per_token: int = 2):
        self.speaker, self.text, self.token_s, self.step = speaker, text, token_s, chars_per_token
        self.aborted = threading.Event()
        self.last_token_at = 0.0
        self.finished_at = 0.0
        self.thread = threading.Thread(target=self._run)

    def abort(self) -> None:
        self.aborted.set()

    def _run(self) -> None:
        for i in range(0, len(self.text), self.step):
            if self.aborted.wait(self.token_s):
                break
            self.speaker.feed(self.text[i : i + self.step])
            self.last_token_at = time.monotonic()
        else:
            self.speaker.finish()
        self.finished_at = time.monotonic()


@pytest.fixture(scope="module")
def voice():
    return EspeakTts()


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.002)
    return False


def test_answer_spoken_in_order_while_generating(voice):
    out = ClockedAudioOut(clock=lambda: time.monotonic() * 20)  # a card that plays 20x fast: a short test
    speaker = Speaker(voice, out)
    gen = FakeGenerator(speaker, ANSWER)
    speaker.begin()
    gen.thread.start()
    gen.thread.join(10)
    assert speaker.wait_until_quiet(30)
    assert speaker.first_audio_at is not None and speaker.first_audio_at < gen.finished_at  # spoke before the end
    assert "".join(speaker.spoken).replace(" ", "") == (
        "好的，我来介绍一下北京。北京是中国的首都，有三千多年的历史。故宫是世界上最大的宫殿建筑群"
        "每年接待游客超过一千五百万人次。长城也在北京附近，很多人周末去爬长城。希望这些信息对你有帮助！"
    )
    starts = [c[0] for c in out.chunks]
    assert starts == sorted(starts) and len(out.chunks) == len(speaker.spoken) >= 5
    assert speaker.state() is SpeechState.IDLE
    speaker.close()


def test_barge_in_stops_sound_and_generation_within_100ms(voice):
    out = ClockedAudioOut()
    gen_box = {}
    speaker = Speaker(voice, out, on_interrupt=lambda: gen_box["gen"].abort())
    gen = gen_box["gen"] = FakeGenerator(speaker, ANSWER * 3)
    speaker.begin()
    gen.thread.start()
    assert wait_for(lambda: speaker.state() is SpeechState.SPEAKING, 10)
    time.sleep(0.3)  # mid-sentence, with more pieces queued and being synthesized
    pressed = time.monotonic()
    speaker.stop()  # the A key
    gen.thread.join(1)
    assert not gen.thread.is_alive()
    assert gen.finished_at - pressed < 0.1  # generation stopped
    assert gen.last_token_at - pressed < 0.1
    assert out.audible_until() - pressed < 0.1  # the sound stopped
    assert speaker.interrupted.is_set()
    time.sleep(0.3)  # a piece that was being synthesized must not start playing later
    assert all(t <= pressed for t in out.play_calls)
    assert speaker.state() is SpeechState.IDLE
    # The next answer speaks again.
    speaker.say("新的问题，新的回答。")
    assert speaker.wait_until_quiet(10)
    assert out.play_calls[-1] > pressed and not speaker.interrupted.is_set()
    speaker.close()


class FixedVoice:
    """A voice that always says the same 0.1 s tone (for checks on the speaker's own arithmetic)."""

    name, sample_rate = "fixed", 16000

    def __init__(self):
        self.speeds = []

    def synthesize(self, text, speed=1.0):
        self.speeds.append(speed)
        return (0.5 * np.sin(np.arange(1600) / 5.0)).astype(np.float32)


def test_volume_is_gain_clipped_and_speed_goes_to_the_voice(voice):
    fixed = FixedVoice()
    out = ClockedAudioOut()
    for volume in (1.0, 0.25, 3.0):
        speaker = Speaker(fixed, out, volume=volume, speed=1.3)
        speaker.say("音量测试的句子。")
        assert speaker.wait_until_quiet(5)
        speaker.close()
    plain, quiet, loud = (c[2] for c in out.chunks)
    assert np.allclose(quiet, plain * 0.25) and np.allclose(loud, np.clip(plain * 3, -1, 1))
    assert fixed.speeds == [1.3, 1.3, 1.3]
    slow = voice.synthesize("速度测试的句子。", speed=0.6)  # the real voice honours speed
    fast = voice.synthesize("速度测试的句子。", speed=1.6)
    assert len(slow) > 1.8 * len(fast)


def test_speech_off_says_nothing(voice):
    out = ClockedAudioOut()
    speaker = Speaker(voice, out, enabled=False)
    speaker.say("不要说话。")
    time.sleep(0.05)
    assert out.chunks == [] and speaker.state() is SpeechState.IDLE
    speaker.close()


def test_a_failing_voice_does_not_stop_the_rest():
    class Flaky:
        name, sample_rate = "flaky", 16000

        def synthesize(self, text, speed=1.0):
            if "坏" in text:
                raise RuntimeError("voice crashed on this piece")
            return np.full(1600, 0.1, np.float32)

    out = ClockedAudioOut()
    speaker = Speaker(Flaky(), out)
    speaker.say("第一句话很好。这一句是坏的。第三句话也好。")
    assert speaker.wait_until_quiet(5)
    assert speaker.spoken == ["第一句话很好。", "第三句话也好。"]
    speaker.close()


def test_unthreaded_speaker_is_deterministic_on_a_virtual_clock():
    """The simulator's mode: synthesis inside feed(), audio placed on a virtual timeline. With
    the Baker voice (espeak-ng varies a few samples from run to run by itself)."""
    from parrot.speech.tts_baker import BakerTts
    from parrot.speech.voices import check_voice, voice_dir

    if check_voice(voice_dir()):
        pytest.skip("the Baker voice is not pulled (parrot tts pull)")
    voice = BakerTts(voice_dir())
    recordings = []
    for _ in range(2):
        now = [0.0]
        out = ClockedAudioOut(clock=lambda: now[0], latency_s=0.0)
        speaker = Speaker(voice, out, threaded=False, clock=lambda: now[0])
        speaker.begin()
        text = ANSWER[:30]  # three pieces
        for i in range(0, len(text), 3):
            speaker.feed(text[i : i + 3])
            now[0] += 0.05  # a token every 50 ms of simulated time
        speaker.finish()
        assert speaker.first_audio_at is not None and speaker.first_audio_at < now[0]
        recordings.append(out.recording())
        speaker.close()
    assert len(recordings[0]) > 24000 * 3 and np.array_equal(recordings[0], recordings[1])
