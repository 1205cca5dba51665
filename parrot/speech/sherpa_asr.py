"""sherpa-onnx recognizers configured by a model directory (the layouts sherpa-onnx's
released model archives use). No Chinese sherpa model is on PyPI: the user provides one.

A directory is checked file by file (a clear error names what is missing), then probed in a
child process (parrot.speech.probe): a model that makes onnxruntime abort is refused there
instead of taking the appliance down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from parrot.audio.ports import CAPTURE_RATE
from parrot.errors import UserError
from parrot.speech.deps import need

KINDS = ("sense_voice", "paraformer", "whisper", "transducer", "streaming_transducer", "streaming_paraformer")
STREAMING = ("streaming_transducer", "streaming_paraformer")


def _pick(directory: Path, stem: str) -> Path | None:
    """`stem.int8.onnx` (smaller, what boards run) over `stem.onnx`; also `*-stem*.onnx`."""
    for pattern in (f"{stem}.int8.onnx", f"{stem}.onnx", f"*{stem}*.int8.onnx", f"*{stem}*.onnx"):
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
    return None


def _tokens(directory: Path) -> Path | None:
    found = sorted(directory.glob("tokens.txt")) or sorted(directory.glob("*tokens.txt"))
    return found[0] if found else None


def guess_kind(directory: Path) -> str:
    """From the directory name (sherpa-onnx archive names say what they hold) or its files."""
    name = directory.name.lower().replace("_", "-")
    streaming = "streaming" in name
    if "sense-voice" in name or "sensevoice" in name:
        return "sense_voice"
    if "paraformer" in name:
        return "streaming_paraformer" if streaming else "paraformer"
    if "whisper" in name:
        return "whisper"
    if _pick(directory, "joiner"):
        return "streaming_transducer" if streaming else "transducer"
    raise UserError(f"sherpa model {directory}: cannot tell its kind from the name; set speech.sherpa_kind ({', '.join(KINDS)})")


def model_files(directory: str | Path, kind: str = "auto") -> tuple[str, dict[str, str]]:
    """(kind, {role: path}) for a model directory, or a UserError naming the missing file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"sherpa model directory {directory}: not a directory")
    if kind == "auto":
        kind = guess_kind(directory)
    if kind not in KINDS:
        raise UserError(f"sherpa model kind {kind!r} is not one of {', '.join(KINDS)}")
    roles = {
        "sense_voice": ("model",), "paraformer": ("model",), "whisper": ("encoder", "decoder"),
        "transducer": ("encoder", "decoder", "joiner"), "streaming_transducer": ("encoder", "decoder", "joiner"),
        "streaming_paraformer": ("encoder", "decoder"),
    }[kind]  # fmt: skip
    files: dict[str, str] = {}
    for role in roles:
        path = _pick(directory, role)
        if path is None:
            raise UserError(f"sherpa {kind} model {directory}: missing {role}.onnx (or {role}.int8.onnx)")
        files[role] = str(path)
    tokens = _tokens(directory)
    if tokens is None:
        raise UserError(f"sherpa {kind} model {directory}: missing tokens.txt")
    files["tokens"] = str(tokens)
    return kind, files


def build_recognizer(kind: str, files: dict[str, str], threads: int = 2, language: str = "zh"):
    """The sherpa-onnx recognizer object (runs in the probe child first, then in the app)."""
    import sherpa_onnx as so

    if kind == "sense_voice":
        return so.OfflineRecognizer.from_sense_voice(model=files["model"], tokens=files["tokens"], num_threads=threads, use_itn=True)
    if kind == "paraformer":
        return so.OfflineRecognizer.from_paraformer(paraformer=files["model"], tokens=files["tokens"], num_threads=threads)
    if kind == "whisper":
        return so.OfflineRecognizer.from_whisper(
            encoder=files["encoder"], decoder=files["decoder"], tokens=files["tokens"], language=language, num_threads=threads
        )
    if kind == "transducer":
        return so.OfflineRecognizer.from_transducer(
            encoder=files["encoder"], decoder=files["decoder"], joiner=files["joiner"], tokens=files["tokens"], num_threads=threads
        )
    if kind == "streaming_transducer":
        return so.OnlineRecognizer.from_transducer(
            tokens=files["tokens"], encoder=files["encoder"], decoder=files["decoder"], joiner=files["joiner"], num_threads=threads
        )
    return so.OnlineRecognizer.from_paraformer(tokens=files["tokens"], encoder=files["encoder"], decoder=files["decoder"], num_threads=threads)


def decode(recognizer, kind: str, pcm: np.ndarray) -> str:
    stream = recognizer.create_stream()
    stream.accept_waveform(CAPTURE_RATE, np.asarray(pcm, np.float32))
    if kind in STREAMING:
        stream.accept_waveform(CAPTURE_RATE, np.zeros(CAPTURE_RATE // 2, np.float32))  # tail padding
        stream.input_finished()
        while recognizer.is_ready(stream):
            recognizer.decode_stream(stream)
        return recognizer.get_result(stream).strip()
    recognizer.decode_stream(stream)
    return stream.result.text.strip()


class SherpaAsr:
    """Asr (and, for streaming models, StreamingAsr) over a sherpa-onnx model directory."""

    def __init__(self, directory: str | Path, kind: str = "auto", *, threads: int = 2, language: str = "zh", probe: bool = True) -> None:
        need("sherpa_onnx", "the sherpa ASR")
        self.kind, files = model_files(directory, kind)
        if probe:
            from parrot.speech.probe import probe_in_child

            probe_in_child("asr", {"kind": self.kind, "files": files, "language": language})
        try:
            self._recognizer = build_recognizer(self.kind, files, threads, language)
        except (RuntimeError, ValueError) as e:
            raise UserError(f"sherpa {self.kind} model {directory}: {e}") from None
        self.name = f"sherpa-onnx {self.kind} ({Path(directory).name})"
        self.streaming = self.kind in STREAMING

    def transcribe(self, pcm: np.ndarray) -> str:
        if np.asarray(pcm).size == 0:
            return ""
        return decode(self._recognizer, self.kind, pcm)

    def stream(self, chunks: Iterator[np.ndarray]) -> Iterator[tuple[str, bool]]:
        """(text so far, False) after every chunk, then (final, True); offline kinds: the final only."""
        if not self.streaming:
            yield self.transcribe(np.concatenate(list(chunks) or [np.zeros(0, np.float32)])), True
            return
        r = self._recognizer
        s = r.create_stream()
        for chunk in chunks:
            s.accept_waveform(CAPTURE_RATE, np.asarray(chunk, np.float32))
            while r.is_ready(s):
                r.decode_stream(s)
            yield r.get_result(s).strip(), False
        s.accept_waveform(CAPTURE_RATE, np.zeros(CAPTURE_RATE // 2, np.float32))
        s.input_finished()
        while r.is_ready(s):
            r.decode_stream(s)
        yield r.get_result(s).strip(), True
