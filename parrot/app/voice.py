"""The app's voice: speaks answers (Tts -> AudioOut) and says whether it can listen (AudioIn +
Asr). Built from the Board's audio ports and whatever speech engines are installed; with none
of them (today's boards) it is silent and says so, and the settings that need it are hidden."""

from __future__ import annotations

from parrot.audio.ports import AudioIn, AudioOut, NullAudioIn, NullAudioOut


class Voice:
    def __init__(self, audio_in: AudioIn | None = None, audio_out: AudioOut | None = None, tts=None, asr=None):
        self.audio_in = audio_in or NullAudioIn()
        self.audio_out = audio_out or NullAudioOut()
        self.tts = tts  # parrot.speech.ports.Tts, or None
        self.asr = asr  # parrot.speech.ports.Asr, or None

    @property
    def can_speak(self) -> bool:
        return self.tts is not None and self.audio_out.status() is None

    @property
    def can_listen(self) -> bool:
        return self.asr is not None and self.audio_in.status() is None

    def say(self, text: str) -> None:
        """Blocking synthesis, then queued playback (called off the loop thread on a real clock)."""
        if self.can_speak and text.strip():
            self.audio_out.play(self.tts.synthesize(text), self.tts.sample_rate)

    def hush(self) -> None:
        self.audio_out.stop()
