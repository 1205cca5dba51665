"""Choosing the voice from the config's [tts] section."""

from __future__ import annotations

import logging
from pathlib import Path

from parrot.errors import UserError
from parrot.speech.ports import Tts

log = logging.getLogger(__name__)


def load_tts(settings: dict) -> tuple[Tts, str | None]:
    """The configured voice, and None; or, with fallback on and the voice unusable, espeak and
    the reason in words (for the screen and stderr)."""
    try:
        return _load(settings["engine"], settings), None
    except UserError as e:
        if not settings["fallback"] or settings["engine"] == "espeak":
            raise
        log.warning("%s; speaking with espeak instead", e)
        return _load("espeak", settings), f"{e}; speaking with espeak instead"


def tts_state(settings: dict) -> str:
    """One line for `parrot doctor`: the configured voice, usable or why not (without loading it)."""
    engine = settings["engine"]
    if engine == "baker":
        from parrot.speech.voices import check_voice, voice_dir

        directory = Path(settings["voice_dir"]).expanduser() if settings["voice_dir"] else voice_dir()
        problem = check_voice(directory)
        if problem is None:
            return f"ok: baker voice ({directory})"
        return problem + ("; espeak speaks meanwhile" if settings["fallback"] else "")
    if engine == "sherpa":
        from parrot.speech.tts_sherpa import model_config

        if not settings["model_dir"]:
            return "tts.engine is 'sherpa' but tts.model_dir is empty"
        try:
            model_config(settings["model_dir"], settings["sherpa_kind"])
        except UserError as e:
            return str(e)
        return f"ok: sherpa-onnx model in {settings['model_dir']}"
    return f"ok: espeak-ng ({settings['espeak_voice']})"


def _load(engine: str, settings: dict) -> Tts:
    if engine == "baker":
        from parrot.speech.tts_baker import BakerTts
        from parrot.speech.voices import check_voice, voice_dir

        directory = Path(settings["voice_dir"]).expanduser() if settings["voice_dir"] else voice_dir()
        problem = check_voice(directory)
        if problem:
            raise UserError(problem)
        return BakerTts(directory, threads=settings["threads"])
    if engine == "espeak":
        from parrot.speech.tts_espeak import EspeakTts

        return EspeakTts(settings["espeak_voice"])
    if engine == "sherpa":
        from parrot.speech.tts_sherpa import SherpaTts

        if not settings["model_dir"]:
            raise UserError("tts.engine is 'sherpa' but tts.model_dir is empty")
        return SherpaTts(settings["model_dir"], settings["sherpa_kind"], threads=settings["threads"])
    raise UserError(f"unknown tts.engine {engine!r}")
