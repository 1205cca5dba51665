"""The tiny fallback voice: espeak-ng 1.52 (library and data from the espeakng-loader wheel),
called through ctypes. Robotic and hard to follow in Mandarin, but it runs anywhere.

For Mandarin we hand espeak pinyin with tone digits (`cmn-latn-pinyin`): its own `cmn` text
reader gets many readings wrong, pypinyin's phrase dictionary does better. A piece with no
hanzi is read by the English voice.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from parrot.errors import UserError
from parrot.speech.deps import need
from parrot.speech.pinyin_frontend import to_syllables
from parrot.speech.speakable import CJK

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1  # espeakRATE, words per minute
_DEFAULT_WPM = 175
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_lib = None  # espeak-ng keeps global state: one library, one synthesis at a time
_lib_lock = threading.Lock()
_sample_rate = 0


def _load():
    global _lib, _sample_rate
    if _lib is not None:
        return _lib
    need("espeakng_loader", "the espeak voice")
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise UserError(f"espeak-ng could not start (data in {espeakng_loader.get_data_path()})")
    _lib, _sample_rate = lib, rate
    return lib


def pinyin_text(text: str) -> str:
    """'你好，世界' -> 'ni3 hao3 , shi4 jie4' for the cmn-latn-pinyin voice."""
    words = []
    for tok in to_syllables(text):
        words.append(tok.pinyin if tok.pinyin else tok.text.strip())
    return " ".join(w for w in words if w)


class EspeakTts:
    """Tts port: espeak-ng. voice 'cmn-latn-pinyin' (text turned into toned pinyin) or 'cmn'."""

    name = "espeak"

    def __init__(self, voice: str = "cmn-latn-pinyin", english_voice: str = "en") -> None:
        with _lib_lock:
            self._lib = _load()
        self.sample_rate = _sample_rate
        self.voice = voice
        self.english_voice = english_voice
        for v in (voice, english_voice):
            with _lib_lock:
                if self._lib.espeak_SetVoiceByName(v.encode()) != 0:
                    raise UserError(f"espeak-ng has no voice {v!r}")

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        if CJK.search(text):
            voice, said = self.voice, pinyin_text(text) if self.voice == "cmn-latn-pinyin" else text
        else:
            voice, said = self.english_voice, text
        chunks: list[np.ndarray] = []

        def collect(wav, n, _events):
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0  # 0 = go on

        callback = _CALLBACK(collect)
        data = said.encode("utf-8") + b"\0"
        with _lib_lock:
            self._lib.espeak_SetSynthCallback(callback)
            self._lib.espeak_SetVoiceByName(voice.encode())
            self._lib.espeak_SetParameter(_RATE, int(_DEFAULT_WPM * speed), 0)
            self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
        if not chunks:
            return np.zeros(0, np.float32)
        return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)
