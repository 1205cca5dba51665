"""Resampler, WAV files, and the simulator's WAV microphone and recording speaker."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from parrot.audio.resample import resample
from parrot.audio.sim import RecordingOut, WavFileIn
from parrot.audio.wav import read_wav, write_wav
from parrot.errors import UserError


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def sine(rate, seconds, hz):
    t = np.arange(int(rate * seconds)) / rate
    return np.sin(2 * np.pi * hz * t).astype(np.float32)


@pytest.mark.parametrize("src,dst", [(24000, 16000), (16000, 48000), (44100, 16000), (16000, 22050)])
def test_resample_keeps_a_tone_and_removes_what_cannot_be_represented(src, dst):
    y = resample(sine(src, 1.0, 440), src, dst)
    assert abs(y.size - dst) <= 1
    ref = sine(dst, 1.0, 440)[: y.size]
    assert np.abs(y[300:-300] - ref[300:-300]).max() < 1e-3
    if dst < src:  # a tone above the new Nyquist frequency must be filtered out, not aliased
        high = resample(sine(src, 1.0, 0.45 * src), src, dst)
        assert np.sqrt(np.mean(high[300:-300] ** 2)) < 0.01


def test_wav_round_trip_and_stereo_24bit_read(tmp_path):
    x = sine(16000, 0.25, 300) * 0.5
    write_wav(tmp_path / "a.wav", x, 16000)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and np.abs(x - y).max() < 1e-4
    # 24-bit stereo at 48 kHz, left = right = x': read as mono and resampled
    x48 = sine(48000, 0.25, 300) * 0.5
    ints = (x48 * ((1 << 23) - 1)).astype(np.int32)
    frames = np.repeat(ints, 2)
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in frames)
    with wave.open(str(tmp_path / "b.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(3)
        w.setframerate(48000)
        w.writeframes(raw)
    z, rate = read_wav(tmp_path / "b.wav", 16000)
    assert rate == 16000 and abs(z.size - 4000) <= 1
    assert np.abs(z[200:-200] - x[200:-200]).max() < 2e-3


def test_bad_wav_is_a_user_error(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(UserError, match="not a PCM WAV"):
        read_wav(tmp_path / "x.wav")
    with pytest.raises(UserError, match="no such file"):
        read_wav(tmp_path / "missing.wav")


def test_wav_microphone_speaks_from_the_talk_key_in_virtual_time():
    clock = Clock()
    clip = sine(16000, 0.5, 200)
    mic = WavFileIn([clip], clock)
    clock.t += 5  # time before the key: nothing is heard
    mic.start()
    assert mic.read().size == 0
    clock.t += 0.1
    a = mic.read()
    clock.t += 0.55
    b = mic.read()
    np.testing.assert_array_equal(np.concatenate([a, b])[:8000], clip)
    assert a.size == 1600 and b.size == 8800 and np.all(b[6400:] == 0)  # silence after the clip
    clock.t += 0.2
    assert mic.stop().size == 3200
    mic.start()  # a second press: the clip was used, the room is quiet
    clock.t += 0.3
    assert np.all(mic.stop() == 0)


def test_recording_speaker_timeline_is_deterministic_with_silence_and_barge_in():
    clock = Clock()
    spk = RecordingOut(clock, rate=16000)
    clock.t += 1.0
    spk.play(np.full(8000, 0.5, np.float32), 16000)  # 0.5 s at t = 1.0
    spk.play(np.full(4000, 0.25, np.float32), 8000)  # queued behind: 0.5 s at t = 1.5
    assert spk.busy()
    clock.t += 0.75
    spk.stop()  # barge-in at t = 1.75
    assert not spk.busy()
    clock.t += 0.25
    out = spk.samples()
    assert out.size == 32000  # up to now (t = 2.0)
    assert np.all(out[:16000] == 0)
    np.testing.assert_allclose(out[16000:24000], 0.5, atol=1e-6)
    assert np.abs(out[24100:27900] - 0.25).max() < 0.01  # resampled 8 kHz chunk
    assert np.all(out[28000:] == 0)  # cut at the barge-in
