"""Builds the configured audio devices and speech engines ([audio] and [speech] in config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parrot.audio.ports import AudioIn, AudioOut, NullAudioIn, NullAudioOut
from parrot.errors import UserError
from parrot.speech.ports import Asr


def _device(value: str) -> int | str | None:
    return None if value == "" else int(value) if value.isdigit() else value


def make_audio(audio: dict[str, Any]) -> tuple[AudioIn, AudioOut]:
    """The microphone and speaker; null ones (with the reason) when sound is off or absent."""
    if audio["driver"] == "none":
        return NullAudioIn("audio off (audio.driver = none)"), NullAudioOut("audio off (audio.driver = none)")
    from parrot.audio.sounddevice_io import SoundDeviceIn, SoundDeviceOut

    return SoundDeviceIn(device=_device(audio["input_device"])), SoundDeviceOut(device=_device(audio["output_device"]))


def make_asr(speech: dict[str, Any]) -> Asr:
    """The configured ASR engine, loaded (this takes the model's memory)."""
    engine = speech["asr"]
    if engine == "none":
        raise UserError("speech recognition is off (speech.asr = none)")
    if engine == "whisper":
        from parrot.speech.models import require
        from parrot.speech.whisper import WhisperAsr

        model_dir = Path(speech["asr_model"]).expanduser() if speech["asr_model"] else require("whisper-base")
        return WhisperAsr(model_dir, beam_size=speech["beam_size"], threads=speech["threads"], language=speech["language"])
    if engine == "funasr-ws":
        from parrot.speech.funasr_ws import FunAsrWsClient

        return FunAsrWsClient(speech["funasr_url"], speech["funasr_mode"])
    if not speech["asr_model"]:
        raise UserError(f"speech.asr = {engine} needs speech.asr_model (a model directory)")
    if engine == "sherpa":
        from parrot.speech.sherpa_asr import SherpaAsr

        return SherpaAsr(
            Path(speech["asr_model"]).expanduser(), speech["sherpa_kind"], threads=speech["threads"], language=speech["language"]
        )
    from parrot.speech.funasr_local import FunAsrLocal

    return FunAsrLocal(Path(speech["asr_model"]).expanduser(), threads=speech["threads"])


def make_vad(speech: dict[str, Any], *, min_silence_s: float | None = None):
    """Silero VAD: the registry's (hash-checked at pull) or a configured file (probed first)."""
    from parrot.speech.vad import SileroVad

    silence = speech["end_silence_s"] if min_silence_s is None else min_silence_s
    if speech["vad_model"]:
        from parrot.speech.probe import probe_in_child

        path = str(Path(speech["vad_model"]).expanduser())
        if not Path(path).is_file():
            raise UserError(f"VAD model {path}: no such file")
        probe_in_child("vad", {"model": path})
    else:
        from parrot.speech.models import require

        path = str(require("silero-vad") / "silero_vad.onnx")
    return SileroVad(path, min_silence_s=silence, min_speech_s=min(0.25, speech["min_speech_s"]))


class LazyAsr:
    """The configured ASR, loaded on first use (the first recognition, on the speech worker),
    so start-up stays fast and a board that never listens never pays its memory."""

    def __init__(self, speech: dict[str, Any]) -> None:
        self._speech = speech
        self._asr: Asr | None = None
        self.name = f"{speech['asr']} (not loaded yet)"
        self.mode = speech["funasr_mode"] if speech["asr"] == "funasr-ws" else ""
        self.streaming = speech["asr"] == "sherpa" and _sherpa_streams(speech)

    def _engine(self) -> Asr:
        if self._asr is None:
            self._asr = make_asr(self._speech)
            self.name = self._asr.name
        return self._asr

    def transcribe(self, pcm) -> str:
        return self._engine().transcribe(pcm)

    @property
    def loaded(self) -> bool:
        return self._asr is not None

    def unload(self) -> None:
        """Free the engine (a small board needs the memory for the LLM); the next use reloads."""
        if self._asr is not None:
            self._asr = None
            import gc

            gc.collect()

    def stream(self, chunks):
        """StreamingAsr (2pass FunASR, streaming sherpa models): loads at the first chunk."""
        yield from self._engine().stream(chunks)


def _sherpa_streams(speech: dict[str, Any]) -> bool:
    from parrot.speech.sherpa_asr import STREAMING, model_files

    try:
        return model_files(Path(speech["asr_model"]).expanduser(), speech["sherpa_kind"])[0] in STREAMING
    except UserError:
        return False  # the error is reported when the engine loads


def make_ears(speech: dict[str, Any]) -> tuple[Asr | None, Any, str | None]:
    """(asr, vad, None) for push-to-talk, or (None, None, why not) without loading the ASR."""
    from parrot.speech.models import SPEECH_MODELS, is_present

    if speech["asr"] == "none":
        return None, None, "speech recognition is off (speech.asr = none)"
    if speech["asr"] == "whisper" and not speech["asr_model"] and not is_present(SPEECH_MODELS["whisper-base"]):
        return None, None, "whisper-base is not pulled (parrot models pull --speech)"
    try:
        vad = make_vad(speech, min_silence_s=None if speech["hands_free"] else 0.5)  # hands-free: end_silence_s
    except UserError as e:
        return None, None, str(e)
    return LazyAsr(speech), vad, None
