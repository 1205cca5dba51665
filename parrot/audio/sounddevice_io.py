"""The real microphone and speaker through sounddevice (PortAudio).

PortAudio is a system library (Debian: libportaudio2, `make audio-deps`). Every way this can
be unusable -- the module or the library missing, no sound card, a rate the card refuses, a
card unplugged mid-stream -- becomes a one-line status(), never an exception into the app:
the appliance then keeps working with text.

`sd` is the sounddevice module; tests pass a fake that behaves like PortAudio.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import numpy as np

from parrot.audio.ports import CAPTURE_RATE
from parrot.audio.resample import resample
from parrot.errors import DeviceError

BLOCK_S = 0.02  # PortAudio block: 20 ms bounds both level-meter lag and stop() latency


def load_sounddevice() -> tuple[Any, str | None]:
    """(module, None), or (None, why it cannot be used)."""
    try:
        import sounddevice
    except ImportError:
        return None, "sounddevice is not installed (pip install sounddevice)"
    except OSError:  # sounddevice raises this when libportaudio is absent
        return None, "PortAudio is not installed (make audio-deps, or apt-get install libportaudio2)"
    return sounddevice, None


class _Device:
    """What the input and output adapters share: finding the card and choosing a rate."""

    kind = ""  # "input" or "output"

    def __init__(self, sd: Any = None, device: int | str | None = None) -> None:
        if sd is None:
            sd, self._missing = load_sounddevice()
        else:
            self._missing = None
        self._sd = sd
        self.device = device

    def _info(self) -> tuple[dict | None, str | None]:
        if self._missing:
            return None, self._missing
        try:
            return self._sd.query_devices(self.device, kind=self.kind), None
        except self._sd.PortAudioError:
            return None, f"no sound card (no audio {self.kind} device)"
        except ValueError as e:  # a configured device name that matches nothing
            return None, f"audio {self.kind} device {self.device!r}: {e}"

    def _supports(self, rate: int) -> bool:
        check = self._sd.check_input_settings if self.kind == "input" else self._sd.check_output_settings
        try:
            check(device=self.device, channels=1, dtype="float32", samplerate=rate)
            return True
        except self._sd.PortAudioError:
            return False

    def _stream_rate(self, wanted: int) -> int:
        """`wanted` if the card takes it, else the card's own default rate (we resample)."""
        info, reason = self._info()
        if reason:
            raise DeviceError(reason)
        return wanted if self._supports(wanted) else int(info["default_samplerate"])

    def _open_stream(self, stream_class, rate: int, callback, what: str):
        """A started mono float32 stream of BLOCK_S blocks, or a DeviceError saying why not."""
        try:
            stream = stream_class(
                device=self.device, channels=1, dtype="float32", samplerate=rate,
                blocksize=int(rate * BLOCK_S), callback=callback,
            )  # fmt: skip
            stream.start()
        except self._sd.PortAudioError as e:
            raise DeviceError(f"{what}: {e}") from None
        return stream

    def _close_stream(self, stream) -> None:
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except self._sd.PortAudioError:
                pass  # unplugged mid-stream: nothing left to close

    def status(self) -> str | None:
        return self._info()[1]


class SoundDeviceIn(_Device):
    """16 kHz mono capture; a card that cannot do 16 kHz is captured at its rate and resampled."""

    kind = "input"
    rate = CAPTURE_RATE

    def __init__(self, sd: Any = None, device: int | str | None = None) -> None:
        super().__init__(sd, device)
        self._blocks: collections.deque[np.ndarray] = collections.deque()
        self._stream = None
        self._native = CAPTURE_RATE

    def _callback(self, indata, frames, time, status) -> None:
        self._blocks.append(np.array(indata[:, 0], dtype=np.float32))

    def start(self) -> None:
        if self._stream is not None:
            return
        self._native = self._stream_rate(CAPTURE_RATE)
        self._blocks.clear()
        self._stream = self._open_stream(self._sd.InputStream, self._native, self._callback, "microphone")

    def read(self) -> np.ndarray:
        blocks = []
        while self._blocks:
            blocks.append(self._blocks.popleft())
        pcm = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
        return resample(pcm, self._native, CAPTURE_RATE) if self._native != CAPTURE_RATE else pcm

    def stop(self) -> np.ndarray:
        stream, self._stream = self._stream, None
        self._close_stream(stream)  # keeps what was heard even if the card went away
        return self.read()


class SoundDeviceOut(_Device):
    """A queue of chunks played by PortAudio's callback; stop() empties it at once (the block
    already handed to the card, <= BLOCK_S, still sounds)."""

    kind = "output"

    def __init__(self, sd: Any = None, device: int | str | None = None) -> None:
        super().__init__(sd, device)
        self._lock = threading.Lock()
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._current = np.zeros(0, np.float32)
        self._stream = None
        self.rate = 0  # the stream's rate, fixed by the first play()

    def _callback(self, outdata, frames, time, status) -> None:
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            while filled < frames:
                if not self._current.size:
                    if not self._queue:
                        break
                    self._current = self._queue.popleft()
                n = min(frames - filled, self._current.size)
                out[filled : filled + n] = self._current[:n]
                self._current = self._current[n:]
                filled += n
        out[filled:] = 0

    def _open(self, rate: int) -> None:
        self.rate = self._stream_rate(rate)
        self._stream = self._open_stream(self._sd.OutputStream, self.rate, self._callback, "speaker")

    def play(self, pcm: np.ndarray, rate: int) -> None:
        if self._stream is None:
            self._open(rate)
        pcm = np.asarray(pcm, np.float32)
        if rate != self.rate:
            pcm = resample(pcm, rate, self.rate)
        with self._lock:
            self._queue.append(pcm)

    def stop(self) -> None:
        with self._lock:
            self._queue.clear()
            self._current = np.zeros(0, np.float32)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._queue) or self._current.size > 0

    def close(self) -> None:
        self.stop()
        stream, self._stream = self._stream, None
        self._close_stream(stream)
