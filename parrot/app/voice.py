"""The app's voice: speaks answers as they stream (Tts -> Speaker -> AudioOut) and says whether
it can listen (AudioIn + Asr). Built from the Board's audio ports and whatever speech engines
are installed; with none of them it is silent and says so, and the settings that need it are
hidden."""

from __future__ import annotations

import time
from typing import Callable, Iterator

from parrot.audio.ports import AudioIn, AudioOut, NullAudioIn, NullAudioOut
from parrot.events import Event, Heard, Listening, NotHeard
from parrot.errors import UserError


class Voice:
    def __init__(self, audio_in: AudioIn | None = None, audio_out: AudioOut | None = None, tts=None, asr=None,
                 speed: float = 1.0, volume: float = 1.0, threaded: bool = True, vad=None,
                 clock: Callable[[], float] | None = None, min_speech_s: float = 0.3, max_listen_s: float = 30.0,
                 hands_free: bool = False):
        self.audio_in = audio_in or NullAudioIn()
        self.audio_out = audio_out or NullAudioOut()
        self.tts = tts  # parrot.speech.ports.Tts, or None
        self.asr = asr  # parrot.speech.ports.Asr, or None
        self.listener = None  # parrot.speech.listen.Listener: push-to-talk
        self._held = False  # the talk key is down
        if asr is not None and vad is not None:
            from parrot.speech.listen import Listener

            self.listener = Listener(self.audio_in, vad, asr, clock or time.monotonic, hands_free=hands_free,
                                     min_speech_s=min_speech_s, max_listen_s=max_listen_s, finish_in_poll=False)
        self.speaker = None
        if self.can_speak:
            from parrot.speech.speaker import Speaker

            # threaded=False on a virtual clock: pieces are made inside the step that feeds
            # them, so a simulator recording is the same every run.
            self.speaker = Speaker(tts, self.audio_out, speed=speed, volume=volume, threaded=threaded)
        self._open = False  # an answer is being fed

    @property
    def can_speak(self) -> bool:
        return self.tts is not None and self.audio_out.status() is None

    @property
    def can_listen(self) -> bool:
        return self.listener is not None and self.audio_in.status() is None

    @property
    def cannot_listen(self) -> str:
        """Why push-to-talk is unavailable ('' when it is available)."""
        if self.listener is None:
            return "no speech recognition"
        return self.audio_in.status() or ""

    # --- listening (push-to-talk) ------------------------------------------------------------
    def listen_start(self) -> list[Event]:
        """The talk key went down: open the microphone (NotHeard with the reason if it cannot)."""
        if self.listener is None:
            return [NotHeard("no speech recognition on this board")]
        try:
            events = self._events(self.listener.start())
        except UserError as e:
            return [NotHeard(str(e))]
        self._held = True
        return events

    @property
    def listening(self) -> bool:
        """The talk key is held and the microphone open."""
        return self._held and self.listener is not None and self.listener.active

    def listen_poll(self) -> list[Event]:
        """Every tick while listening: meter, seconds, partial text (cheap: the VAD only)."""
        if not self.listening:
            return []
        events = self._events(self.listener.poll())
        if self.listener.should_end():  # the app answers with StopListening (recognition off this thread)
            events = [Listening(0.0, round(self.listener.elapsed(), 2), ended=True)]
        return events

    def listen_stop(self, unload_after: bool = False) -> Iterator[Event]:
        """The talk key came up: polling stops now; the returned job (for the speech worker)
        recognises the take, then frees the ASR's memory if `unload_after` (small boards)."""
        held, self._held = self.listening, False
        return self._finish(unload_after) if held else iter(())

    def _finish(self, unload_after: bool) -> Iterator[Event]:
        try:
            events = self._events(self.listener.release())
        finally:
            if unload_after and hasattr(self.asr, "unload"):
                self.asr.unload()
        yield from events

    def _events(self, events) -> list[Event]:
        from parrot.speech.listen import Elapsed, Final, Level, NothingHeard, Partial

        out: list[Event] = []
        level = seconds = None
        partial = ""
        for e in events:
            if isinstance(e, Level):
                level = e.value
            elif isinstance(e, Elapsed):
                seconds = e.seconds
            elif isinstance(e, Partial):
                partial = e.text
            elif isinstance(e, Final):
                out.append(Heard(e.text))
            elif isinstance(e, NothingHeard):
                out.append(NotHeard(e.reason))
        if seconds is not None and not out:
            out.insert(0, Listening(level or 0.0, seconds, partial))
        return out

    @property
    def speaking(self) -> bool:
        from parrot.speech.speaker import SpeechState

        return self.speaker is not None and self.speaker.state() is not SpeechState.IDLE

    def say(self, text: str) -> None:
        """A whole text (a notice)."""
        if self.speaker is not None and text.strip():
            self.speaker.say(text)

    def stream(self, text: str, end: bool = False) -> None:
        """More of an answer; end=True says what is left. Cheap: synthesis runs on the
        speaker's worker (or, on a virtual clock, here)."""
        if self.speaker is None:
            return
        if not self._open:
            self.speaker.begin()
            self._open = True
        if text:
            self.speaker.feed(text)
        if end:
            self.speaker.finish()
            self._open = False

    def hush(self) -> None:
        """Barge-in: silence now, forget the rest of the answer."""
        self._open = False
        if self.speaker is not None:
            self.speaker.stop()
        else:
            self.audio_out.stop()

    def close(self) -> None:
        if self.speaker is not None:
            self.speaker.close()
