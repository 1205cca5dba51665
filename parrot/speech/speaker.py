"""The streaming speaker: an answer is spoken while the model is still writing it.

feed(delta) cuts the text into pieces (parrot.speech.sentences); a worker thread
synthesizes each piece and queues it on the AudioOut port, in order, while the caller goes
on generating. stop() is barge-in: playback stops at once, pieces not yet spoken are
dropped, and the caller's on_interrupt callback (which aborts generation) runs before
stop() returns. A piece whose synthesis was under way when stop() came is thrown away.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from typing import Callable

import numpy as np

from parrot.audio.ports import AudioOut
from parrot.speech.ports import Tts
from parrot.speech.sentences import SentenceCutter

log = logging.getLogger(__name__)


class SpeechState(enum.Enum):
    IDLE = "idle"
    PREPARING = "preparing"  # text waiting or being synthesized, nothing audible yet
    SPEAKING = "speaking"  # the speaker is playing


class Speaker:
    def __init__(
        self,
        tts: Tts,
        out: AudioOut,
        *,
        enabled: bool = True,
        speed: float = 1.0,
        volume: float = 1.0,
        on_interrupt: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        threaded: bool = True,
    ) -> None:
        self.tts = tts
        self.out = out
        self.enabled = enabled
        self.speed = speed
        self.volume = volume
        self.on_interrupt = on_interrupt
        self.clock = clock
        self.interrupted = threading.Event()  # set by stop(); a generating loop may poll it
        self.first_audio_at: float | None = None  # clock time the answer's first piece was queued
        self.spoken: list[str] = []  # pieces handed to the speaker, in order (for tests and logs)
        self._cutter = SentenceCutter()
        self._epoch = 0  # bumped by stop(): work from an older epoch is dropped
        self._lock = threading.Lock()
        self._pending = 0  # pieces queued or being synthesized
        self._jobs: queue.Queue = queue.Queue()
        # threaded=False: each piece is synthesized inside feed()/finish(), on the caller's
        # thread: a simulator on a virtual clock then records the same audio every run.
        self._worker = threading.Thread(target=self._work, name="speaker", daemon=True) if threaded else None
        if self._worker:
            self._worker.start()

    # -- the caller's side ---------------------------------------------------------------------

    def begin(self) -> None:
        """A new answer starts: fresh cutter, clears a previous barge-in."""
        with self._lock:
            self._cutter = SentenceCutter()
            self.interrupted.clear()
            self.first_audio_at = None

    def feed(self, delta: str) -> None:
        if not self.enabled or self.interrupted.is_set():
            return
        for piece in self._cutter.feed(delta):
            self._queue(piece)

    def finish(self) -> None:
        """The answer is complete: speak what is left."""
        if not self.enabled or self.interrupted.is_set():
            return
        for piece in self._cutter.finish():
            self._queue(piece)

    def say(self, text: str) -> None:
        """A whole text (a notice, a read-back): begin, feed, finish."""
        self.begin()
        self.feed(text)
        self.finish()

    def stop(self) -> None:
        """Barge-in: silence now, drop what is queued, tell the generator to stop."""
        with self._lock:
            self._epoch += 1
            self._cutter = SentenceCutter()
            self.interrupted.set()
            self.out.stop()
            while True:
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
            self._pending = 0  # a piece in synthesis now belongs to an old epoch: not counted
        if self.on_interrupt is not None:
            self.on_interrupt()

    def state(self) -> SpeechState:
        if self.out.busy():
            return SpeechState.SPEAKING
        return SpeechState.PREPARING if self._pending else SpeechState.IDLE

    def wait_until_quiet(self, timeout: float, poll: float = 0.01) -> bool:
        """Block until everything fed has been played (parrot say, tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.state() is SpeechState.IDLE:
                return True
            time.sleep(poll)
        return False

    def close(self) -> None:
        self.stop()
        if self._worker:
            self._jobs.put(None)
            self._worker.join(timeout=5)

    # -- the worker ----------------------------------------------------------------------------

    def _queue(self, piece: str) -> None:
        with self._lock:
            self._pending += 1
            self._jobs.put((self._epoch, piece))
        if self._worker is None:
            self._speak(self._jobs.get())

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._speak(job)

    def _speak(self, job: tuple[int, str]) -> None:
        epoch, piece = job
        try:
            if epoch == self._epoch:
                pcm = self.tts.synthesize(piece, speed=self.speed)
                self._play(epoch, piece, pcm)
        except Exception:  # a voice that fails on one piece must not silence the rest
            log.exception("speaking %r failed", piece)
        finally:
            with self._lock:
                if epoch == self._epoch:
                    self._pending -= 1

    def _play(self, epoch: int, piece: str, pcm: np.ndarray) -> None:
        if self.volume != 1.0:
            pcm = np.clip(pcm * self.volume, -1.0, 1.0).astype(np.float32)
        with self._lock:  # stop() cannot slip in between the check and the play
            if epoch != self._epoch or len(pcm) == 0:
                return
            if self.first_audio_at is None:
                self.first_audio_at = self.clock()
            self.spoken.append(piece)
            self.out.play(pcm, self.tts.sample_rate)
