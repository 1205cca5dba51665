"""The sounddevice adapters against a fake that behaves like PortAudio, and the real
sounddevice module on this machine (no sound card here: the status must say so)."""

from __future__ import annotations

import numpy as np
import pytest
from fake_portaudio import FakeSoundDevice

from parrot.audio.sounddevice_io import SoundDeviceIn, SoundDeviceOut, load_sounddevice
from parrot.errors import DeviceError


def tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_capture_at_16k_gives_the_samples_heard():
    sd = FakeSoundDevice()
    sd.mic = tone(16000, 0.5)
    mic = SoundDeviceIn(sd)
    assert mic.status() is None
    mic.start()
    stream = sd.streams[-1]
    assert stream.samplerate == 16000 and stream.active
    stream.pump(10)  # 10 x 20 ms
    got = mic.read()
    np.testing.assert_allclose(got, sd.mic[:3200])
    assert mic.read().size == 0  # read() takes what arrived since the last read
    stream.pump(2)
    rest = mic.stop()
    assert rest.size == 640 and stream.closed and not stream.active


def test_card_without_16k_is_captured_at_its_rate_and_resampled():
    sd = FakeSoundDevice(rates=(48000,), default_rate=48000)
    sd.mic = tone(48000, 1.0, 300)
    mic = SoundDeviceIn(sd)
    mic.start()
    assert sd.streams[-1].samplerate == 48000
    sd.streams[-1].pump(50)
    got = mic.stop()
    assert abs(got.size - 16000) <= 2
    ref = tone(16000, 1.0, 300)
    assert np.abs(got[400:15000] - ref[400:15000]).max() < 0.02


@pytest.mark.parametrize(
    "sd, reason",
    [
        (FakeSoundDevice(inputs=False, outputs=False), "no sound card"),
        (FakeSoundDevice(fail_start=True), "Device unavailable"),
    ],
)
def test_no_device_or_failing_start_is_a_clear_device_error(sd, reason):
    mic, spk = SoundDeviceIn(sd), SoundDeviceOut(sd)
    if "no sound card" in reason:
        assert "no sound card" in mic.status() and "no sound card" in spk.status()
    with pytest.raises(DeviceError, match=reason):
        mic.start()
    with pytest.raises(DeviceError, match=reason):
        spk.play(tone(16000, 0.1), 16000)


def test_unknown_configured_device_name():
    mic = SoundDeviceIn(FakeSoundDevice(), device="USB Mic")
    assert "USB Mic" in mic.status()


def test_playback_queues_in_order_resamples_and_fills_silence():
    sd = FakeSoundDevice(rates=(44100, 48000))
    spk = SoundDeviceOut(sd)
    a, b = tone(24000, 0.1, 200), tone(24000, 0.1, 400)
    spk.play(a, 24000)
    spk.play(b, 24000)
    stream = sd.streams[-1]
    assert spk.rate == 48000 and stream.samplerate == 48000  # 24 kHz refused: the card's rate
    assert spk.busy()
    stream.pump(12)  # 240 ms: both chunks (200 ms) then silence
    out = np.concatenate(stream.played)
    assert not np.isnan(out).any()  # every sample of the card's buffer written
    from parrot.audio.resample import resample

    each = np.concatenate([resample(a, 24000, 48000), resample(b, 24000, 48000)])
    np.testing.assert_allclose(out[:9600], each, atol=1e-6)
    assert np.all(out[9600:] == 0) and not spk.busy()


def test_stop_drops_the_queue_at_once():
    sd = FakeSoundDevice()
    spk = SoundDeviceOut(sd)
    spk.play(tone(16000, 2.0), 16000)
    spk.play(tone(16000, 2.0), 16000)
    stream = sd.streams[-1]
    stream.pump(5)
    spk.stop()
    assert not spk.busy()
    stream.pump(3)
    assert np.all(np.concatenate(stream.played[5:]) == 0)  # the next block is already silent
    spk.play(tone(16000, 0.02), 16000)  # the stream stays open for the next answer
    stream.pump(1)
    assert np.abs(stream.played[-1]).max() > 0.4 and len(sd.streams) == 1


def test_real_sounddevice_on_this_machine_reports_its_state():
    sd, missing = load_sounddevice()
    mic, spk = SoundDeviceIn(), SoundDeviceOut()
    if missing:
        assert "PortAudio" in missing or "sounddevice" in missing
        assert mic.status() == missing
        return
    if not sd.query_devices():
        assert mic.status() == "no sound card (no audio input device)"
        assert spk.status() == "no sound card (no audio output device)"
        with pytest.raises(DeviceError, match="no sound card"):
            mic.start()
    else:  # a machine with a card: both usable or a reason
        assert mic.status() is None or isinstance(mic.status(), str)


@pytest.mark.slow
def test_make_audio_deps_installs_portaudio_for_sounddevice():
    """`make audio-deps` (apt-get, needs root and the Debian mirror) makes sounddevice usable;
    run in a child so a PortAudio that was missing at this process's import is looked up again."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if os.geteuid() != 0:
        pytest.skip("apt-get needs root")
    root = Path(__file__).resolve().parents[1]
    subprocess.run(["make", "-C", str(root), "audio-deps"], check=True, capture_output=True, timeout=900)
    out = subprocess.run([sys.executable, "-c", "from parrot.audio.sounddevice_io import load_sounddevice, SoundDeviceIn; "
                          "print(load_sounddevice()[1]); print(SoundDeviceIn().status())"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert out[0] == "None"  # the library loads
    assert out[1] == "None" or out[1].startswith("no sound card")
