"""The memory budget: with the engines' measured resident sizes, a 512 MB router unloads the
ASR before the LLM loads and brings it back after; a large budget keeps everything loaded."""

from __future__ import annotations

import gc
import weakref

import pytest
from speech_clips import clip, model_dir

from parrot.errors import UserError
from parrot.speech.residency import MEASURED_MB, Residency, Resident


class Engine:
    def __init__(self, name):
        self.name = name


def manager(budget, log):
    res = Residency(budget, on_event=lambda state, name: log.append((state, name)))
    for name, mb in MEASURED_MB.items():
        res.register(Resident(name, mb, lambda name=name: Engine(name)))
    return res


def conversation(res):
    """listen (VAD + ASR) -> answer (LLM) -> listen again."""
    for name in ("vad", "asr", "llm", "vad", "asr"):
        assert res.get(name).name == name


def test_router_budget_swaps_asr_and_llm():
    log = []
    res = manager(512, log)
    conversation(res)
    unloads = [n for s, n in log if s == "unloading"]
    loads = [n for s, n in log if s == "loading"]
    assert loads == ["vad", "asr", "llm", "asr"]  # the VAD (small) stayed beside the LLM
    assert unloads == ["asr", "llm"]
    assert log.index(("unloading", "asr")) < log.index(("loading", "llm"))  # ASR out before the LLM
    assert res.used_mb <= 512 and set(res.loaded) == {"vad", "asr"}
    assert "llm" not in res.loaded


def test_large_budget_keeps_everything():
    log = []
    res = manager(2048, log)
    conversation(res)
    assert [s for s, _ in log].count("unloading") == 0 and set(res.loaded) == {"vad", "asr", "llm"}
    res0 = manager(0, [])  # no limit
    conversation(res0)
    assert len(res0.loaded) == 3


def test_engine_bigger_than_the_budget_is_refused():
    with pytest.raises(UserError, match="more than the whole memory budget"):
        Residency(256).register(Resident("llm", MEASURED_MB["llm"], object))


def test_unloaded_real_engine_is_freed():
    pytest.importorskip("faster_whisper")
    from parrot.speech.whisper import WhisperAsr

    path = model_dir("whisper-base")
    refs = []

    def load():
        asr = WhisperAsr(path)
        refs.append(weakref.ref(asr))
        return asr

    res = Residency(200)
    res.register(Resident("asr", MEASURED_MB["asr"], load))
    res.register(Resident("other", 100, object))
    assert res.get("asr").transcribe(clip("BAC009S0764W0121.wav")[:16000]) is not None
    res.get("other")  # 156 + 100 > 200: the ASR goes
    gc.collect()
    assert res.loaded == ["other"] and refs[0]() is None


@pytest.mark.slow
def test_measured_asr_size_still_holds():
    """The table against a fresh measurement (a child interpreter, as the bench does)."""
    import json
    import subprocess
    import sys

    model_dir("whisper-base")
    out = subprocess.run([sys.executable, "-c", "from parrot.speech.bench import measure_child; measure_child('asr')"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    mb = json.loads(out.strip().splitlines()[-1])["resident_mb"]
    assert 0.65 * MEASURED_MB["asr"] < mb < 1.35 * MEASURED_MB["asr"]
