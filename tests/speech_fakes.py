"""A fake sound card for speech tests: it behaves like a real one, where playing takes time.

play() queues and returns at once; a chunk is audible from when the one before it ends, for
len/rate seconds of the clock; stop() cuts what is playing after the card's buffer latency
and drops the rest, like PortAudio's abort on a small buffer."""

from __future__ import annotations

import threading
import time

import numpy as np


class ClockedAudioOut:
    def __init__(self, clock=time.monotonic, latency_s: float = 0.02) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.chunks: list[list] = []  # [start, end, pcm, rate], in play order
        self.play_calls: list[float] = []  # clock time of every play()
        self.stops: list[float] = []
        self._end = 0.0
        self._lock = threading.Lock()

    def status(self):
        return None

    def play(self, pcm: np.ndarray, rate: int) -> None:
        with self._lock:
            now = self.clock()
            start = max(now + self.latency_s, self._end)
            self._end = start + len(pcm) / rate
            self.chunks.append([start, self._end, np.asarray(pcm, np.float32), rate])
            self.play_calls.append(now)

    def stop(self) -> None:
        with self._lock:
            cut = self.clock() + self.latency_s
            self.stops.append(cut - self.latency_s)
            kept = []
            for chunk in self.chunks:
                if chunk[0] >= cut:
                    continue  # never got to the speaker
                if chunk[1] > cut:
                    chunk[2] = chunk[2][: int((cut - chunk[0]) * chunk[3])]
                    chunk[1] = cut
                kept.append(chunk)
            self.chunks = kept
            self._end = min(self._end, cut)

    def busy(self) -> bool:
        return self.clock() < self._end

    def audible_until(self) -> float:
        """Clock time the last sound ends (or ended)."""
        return max((c[1] for c in self.chunks), default=0.0)

    def recording(self) -> np.ndarray:
        """Everything heard, silence included, from the first sound on (one rate assumed)."""
        if not self.chunks:
            return np.zeros(0, np.float32)
        rate = self.chunks[0][3]
        t0 = self.chunks[0][0]
        out = np.zeros(int((self.audible_until() - t0) * rate) + 1, np.float32)
        for start, _, pcm, _ in self.chunks:
            i = int((start - t0) * rate)
            out[i : i + len(pcm)] += pcm[: len(out) - i]
        return out
