"""The app's voice: speaks answers as they stream (Tts -> Speaker -> AudioOut) and says whether
it can listen (AudioIn + Asr). Built from the Board's audio ports and whatever speech engines
are installed; with none of them it is silent and says so, and the settings that need it are
hidden."""

from __future__ import annotations

from parrot.audio.ports import AudioIn, AudioOut, NullAudioIn, NullAudioOut


class Voice:
    def __init__(self, audio_in: AudioIn | None = None, audio_out: AudioOut | None = None, tts=None, asr=None,
                 speed: float = 1.0, volume: float = 1.0, threaded: bool = True):
        self.audio_in = audio_in or NullAudioIn()
        self.audio_out = audio_out or NullAudioOut()
        self.tts = tts  # parrot.speech.ports.Tts, or None
        self.asr = asr  # parrot.speech.ports.Asr, or None
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
        return self.asr is not None and self.audio_in.status() is None

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
