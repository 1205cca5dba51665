"""A stand-in for the sounddevice module that behaves like PortAudio at the boundary:
devices with supported rates, PortAudioError for no device / a refused rate / a failing
start, and streams whose callbacks the test drives (pump) like PortAudio's audio thread."""

from __future__ import annotations

import numpy as np


class PortAudioError(Exception):
    pass


class FakeSoundDevice:
    PortAudioError = PortAudioError

    def __init__(self, *, inputs=True, outputs=True, rates=(16000, 44100, 48000), default_rate=48000, fail_start=False):
        self.inputs, self.outputs = inputs, outputs
        self.rates, self.default_rate, self.fail_start = set(rates), default_rate, fail_start
        self.streams: list[_Stream] = []
        self.mic = np.zeros(0, np.float32)  # what the microphone hears, at the stream's rate

    def query_devices(self, device=None, kind=None):
        have = self.inputs if kind == "input" else self.outputs
        if not have or device not in (None, 0, "card"):
            if isinstance(device, str):
                raise ValueError(f"No {kind} device matching {device!r}")
            raise PortAudioError("Error querying device -1")
        return {"name": "card", "default_samplerate": float(self.default_rate)}

    def _check(self, kind, device, channels, dtype, samplerate):
        self.query_devices(device, kind)
        if samplerate not in self.rates:
            raise PortAudioError("Invalid sample rate [PaErrorCode -9997]")

    def check_input_settings(self, device=None, channels=None, dtype=None, samplerate=None):
        self._check("input", device, channels, dtype, samplerate)

    def check_output_settings(self, device=None, channels=None, dtype=None, samplerate=None):
        self._check("output", device, channels, dtype, samplerate)

    def InputStream(self, **kw):
        self._check("input", kw.get("device"), kw["channels"], kw["dtype"], kw["samplerate"])
        return _Stream(self, "input", kw)

    def OutputStream(self, **kw):
        self._check("output", kw.get("device"), kw["channels"], kw["dtype"], kw["samplerate"])
        return _Stream(self, "output", kw)


class _Stream:
    def __init__(self, sd: FakeSoundDevice, kind: str, kw: dict) -> None:
        self.sd, self.kind = sd, kind
        self.samplerate, self.blocksize, self.callback = kw["samplerate"], kw["blocksize"], kw["callback"]
        self.active = self.closed = False
        self.played: list[np.ndarray] = []
        self._mic_pos = 0
        sd.streams.append(self)

    def start(self):
        if self.sd.fail_start:
            raise PortAudioError("Error starting stream: Device unavailable [PaErrorCode -9985]")
        self.active = True

    def stop(self):
        self.active = False

    def close(self):
        self.closed = True

    def pump(self, blocks: int = 1) -> None:
        """Run the callback as PortAudio's thread would, `blocks` times."""
        for _ in range(blocks):
            if not self.active:
                return
            if self.kind == "input":
                block = self.sd.mic[self._mic_pos : self._mic_pos + self.blocksize]
                block = np.pad(block, (0, self.blocksize - block.size))
                self._mic_pos += self.blocksize
                self.callback(block.reshape(-1, 1).astype(np.float32), self.blocksize, None, None)
            else:
                out = np.full((self.blocksize, 1), np.nan, np.float32)  # the card's buffer holds junk
                self.callback(out, self.blocksize, None, None)
                self.played.append(out[:, 0].copy())
