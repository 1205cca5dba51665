"""Listening: microphone chunks + VAD + ASR -> events for the screen. No UI, no threads.

Push-to-talk: start() when the talk key goes down, poll() on every tick while it is held,
release() when it comes up. Hands-free: start(), then poll() until it reports the end
(VAD heard speech and then `end_silence_s` of silence), or stop() to give up.
Every call returns the events that happened; the last one of an utterance is Final or
NothingHeard. release()/poll() that end the utterance run the ASR in the caller's thread
(seconds): the app calls them from a worker, the tests and `parrot listen` directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from parrot.audio.ports import CAPTURE_RATE, AudioIn
from parrot.errors import UserError
from parrot.speech.ports import Asr
from parrot.speech.vad import Segment, SileroVad, trim


@dataclass(frozen=True)
class Level:
    """Loudness of the last chunk for a meter: 0 (-60 dBFS or less) .. 1 (full scale)."""

    value: float


@dataclass(frozen=True)
class Elapsed:
    seconds: float


@dataclass(frozen=True)
class Partial:
    text: str


@dataclass(frozen=True)
class Final:
    text: str


@dataclass(frozen=True)
class NothingHeard:
    """The utterance ended without text; `reason` is for the screen."""

    reason: str


Event = Level | Elapsed | Partial | Final | NothingHeard

TOO_SHORT = "too short"
NO_SPEECH = "nothing heard"
NO_WORDS = "no words recognised"


def level(pcm: np.ndarray) -> float:
    if pcm.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    return min(1.0, max(0.0, (20 * math.log10(rms + 1e-9) + 60) / 60))


class _Feed:
    """The chunk iterator a streaming engine reads; we put one chunk in per next()."""

    def __init__(self) -> None:
        self.chunk: np.ndarray | None = None
        self.closed = False

    def __iter__(self) -> Iterator[np.ndarray]:
        while not self.closed:
            chunk, self.chunk = self.chunk, None
            yield chunk if chunk is not None else np.zeros(0, np.float32)


class Listener:
    def __init__(
        self, mic: AudioIn, vad: SileroVad, asr: Asr, clock: Callable[[], float], *,
        hands_free: bool = False, min_speech_s: float = 0.3, max_listen_s: float = 30.0,
        no_speech_timeout_s: float = 6.0, finish_in_poll: bool = True,
    ) -> None:  # fmt: skip
        # finish_in_poll=False: poll() only reports (should_end()); the caller runs release()
        # where recognition may take seconds (the app's speech worker).
        self.finish_in_poll = finish_in_poll
        self.mic, self.vad, self.asr, self.clock = mic, vad, asr, clock
        self.hands_free = hands_free
        self.min_speech_s, self.max_listen_s, self.no_speech_timeout_s = min_speech_s, max_listen_s, no_speech_timeout_s
        self.active = False
        self._chunks: list[np.ndarray] = []
        self._t0 = 0.0
        self._stream: Iterator[tuple[str, bool]] | None = None
        self._feed: _Feed | None = None

    @property
    def streaming(self) -> bool:
        return bool(getattr(self.asr, "streaming", False)) or getattr(self.asr, "mode", "") == "2pass"

    def start(self) -> list[Event]:
        """Begin listening. A microphone that cannot be used raises UserError with its status."""
        reason = self.mic.status()
        if reason:
            raise UserError(f"cannot listen: {reason}")
        self.mic.start()  # DeviceError (a UserError) if the card fails now
        self.vad.reset()
        self._chunks = []
        self._t0 = self.clock()
        self.active = True
        if self.streaming:
            self._feed = _Feed()
            self._stream = self.asr.stream(iter(self._feed))
        return [Level(0.0), Elapsed(0.0)]

    def elapsed(self) -> float:
        return self.clock() - self._t0

    def _take(self, pcm: np.ndarray) -> list[Event]:
        events: list[Event] = []
        if pcm.size:
            self._chunks.append(pcm)
            self.vad.feed(pcm)
            events.append(Level(level(pcm)))
            if self._stream is not None:
                self._feed.chunk = pcm
                text, _ = next(self._stream)
                if text:
                    events.append(Partial(text))
        events.append(Elapsed(round(self.elapsed(), 2)))
        return events

    def poll(self) -> list[Event]:
        """Take what the microphone heard since the last call; in hands-free mode, or past
        max_listen_s, this may end the utterance (then the last event is Final/NothingHeard)."""
        if not self.active:
            return []
        events = self._take(self.mic.read())
        if self.should_end():
            return events + (self._finish() if self.finish_in_poll else [])
        return events

    def should_end(self) -> bool:
        """Past max_listen_s; hands-free: speech then end silence, or nobody spoke."""
        t = self.elapsed()
        if t >= self.max_listen_s:
            return True
        return self.hands_free and (self.vad.ended() or (t >= self.no_speech_timeout_s and not self.vad.heard()))

    def release(self) -> list[Event]:
        """The talk key came up: stop and recognise."""
        if not self.active:
            return []
        return self._take(self.mic.stop()) + self._finish(stopped=True)

    def cancel(self) -> None:
        if self.active:
            self.mic.stop()
            self.active = False
            if self._feed is not None:
                self._feed.closed = True
            self._stream = self._feed = None

    def _finish(self, stopped: bool = False) -> list[Event]:
        if not stopped:
            self.mic.stop()
        self.active = False
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        segments = self.vad.finish()
        stream, feed = self._stream, self._feed
        self._stream = self._feed = None
        verdict = judge(pcm, segments, self.min_speech_s)
        if stream is not None:
            feed.closed = True
            text = ""
            for text, final in stream:  # the engine's final answer (closes its session)
                if final:
                    break
            return [verdict or (Final(text) if text.strip() else NothingHeard(NO_WORDS))]
        return [verdict or _text(self.asr.transcribe(trim(pcm, segments)))]


def judge(pcm: np.ndarray, segments: list[Segment], min_speech_s: float) -> NothingHeard | None:
    """Why a recording has nothing to recognise, or None if it has speech."""
    if pcm.size < min_speech_s * CAPTURE_RATE:
        return NothingHeard(TOO_SHORT)
    if not segments:
        return NothingHeard(NO_SPEECH)
    if sum(s.seconds for s in segments) < min_speech_s:
        return NothingHeard(TOO_SHORT)
    return None


def _text(text: str) -> Final | NothingHeard:
    return Final(text.strip()) if text.strip() else NothingHeard(NO_WORDS)


def recognise(pcm: np.ndarray, vad: SileroVad, asr: Asr, min_speech_s: float = 0.3) -> Final | NothingHeard:
    """A whole recording (a file, a push-to-talk take): VAD-trimmed, then recognised."""
    segments = vad.segments(pcm)
    return judge(pcm, segments, min_speech_s) or _text(asr.transcribe(trim(pcm, segments)))
