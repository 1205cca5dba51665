"""Voice figures: ASR and VAD real-time factors on real recorded speech, resident memory of
each engine, and the memory-budget plan.

Resident sizes are measured in a fresh interpreter per engine (RSS after loading it and
running it once, minus RSS with its libraries imported), so engines do not blur each other.

Hook for the TTS half: append a function `(args) -> list[tuple[str, str]]` (label, figure) to
SECTIONS (TTS real-time factor, end of speech -> first audio) and an entry to ENGINES for its
resident size; both are printed in the same table.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from typing import Callable

from parrot.errors import UserError

Row = tuple[str, str]


def add_arguments(p) -> None:
    p.add_argument("--config", help="config file (speech settings, memory budget)")
    p.add_argument("--beams", default="1,5", help="whisper beam sizes to compare (default 1,5)")
    p.add_argument("--no-memory", action="store_true", help="skip the per-engine resident-memory runs")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- resident memory, per engine
def _child_whisper() -> Callable[[], None]:
    importlib.import_module("faster_whisper")  # library pages are not the model's

    from parrot.speech.clips import CLIPS, clip
    from parrot.speech.models import require
    from parrot.speech.whisper import WhisperAsr

    pcm = clip(next(iter(CLIPS)))
    return lambda: WhisperAsr(require("whisper-base")).transcribe(pcm)


def _child_vad() -> Callable[[], None]:
    importlib.import_module("sherpa_onnx")

    from parrot.speech.clips import padded_recording
    from parrot.speech.models import require
    from parrot.speech.vad import SileroVad

    pcm, _ = padded_recording()
    return lambda: SileroVad(str(require("silero-vad") / "silero_vad.onnx")).segments(pcm)


def _child_llm() -> Callable[[], None]:
    from parrot.config import load_config
    from parrot.llm import Model, Sampling
    from parrot.llm.models import resolve_model

    path = resolve_model(load_config()["llm"]["model"])

    def run():
        model = Model(path, threads=2, context=512)
        "".join(model.chat("你好", Sampling(temperature=0, max_tokens=8)))
        _keep.append(model)

    return run


_keep: list = []  # engines stay alive until RSS is read
ENGINES: dict[str, Callable[[], Callable[[], None]]] = {"asr": _child_whisper, "vad": _child_vad, "llm": _child_llm}


def measure_child(name: str) -> None:
    """Runs in a fresh interpreter: print {"resident_mb", "load_run_s"} for one engine."""
    run = ENGINES[name]()
    before = _rss_mb()
    t0 = time.perf_counter()
    run()
    print(json.dumps({"resident_mb": round(_rss_mb() - before, 1), "load_run_s": round(time.perf_counter() - t0, 2)}))


def resident_sizes() -> dict[str, dict]:
    out = {}
    for name in ENGINES:
        cmd = [sys.executable, "-c", f"from parrot.speech.bench import measure_child; measure_child({name!r})"]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        if r.returncode != 0:
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            out[name] = {"error": lines[-1] if lines else f"exit status {r.returncode}"}
        else:
            out[name] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


# ---------------------------------------------------------------- speed
def asr_figures(beams: list[int]) -> dict:
    from parrot.speech.clips import CLIPS, clip
    from parrot.speech.models import require
    from parrot.speech.text import cer, normalize_for_cer
    from parrot.speech.whisper import WhisperAsr

    from parrot.speech.vad import SileroVad, trim

    vad = SileroVad(str(require("silero-vad") / "silero_vad.onnx"))
    audio = {name: trim(clip(name), vad.segments(clip(name))) for name in CLIPS}  # as the app hears them
    seconds = sum(a.size for a in audio.values()) / 16000
    figures = {"audio_s": round(seconds, 2)}
    for beam in beams:
        asr = WhisperAsr(require("whisper-base"), beam_size=beam)
        asr.transcribe(audio[next(iter(audio))][:16000])  # warm-up
        errors = chars = 0
        t0 = time.perf_counter()
        for name, pcm in audio.items():
            text = asr.transcribe(pcm)
            n = len(normalize_for_cer(CLIPS[name]))
            errors, chars = errors + cer(CLIPS[name], text) * n, chars + n
        elapsed = time.perf_counter() - t0
        figures[f"beam{beam}"] = {"rtf": round(elapsed / seconds, 3), "cer": round(errors / chars, 3)}
    return figures


def vad_figures() -> dict:
    from parrot.speech.clips import padded_recording
    from parrot.speech.models import require
    from parrot.speech.vad import SileroVad

    pcm, spans = padded_recording()
    vad = SileroVad(str(require("silero-vad") / "silero_vad.onnx"))
    vad.segments(pcm[:16000])
    t0 = time.perf_counter()
    found = vad.segments(pcm)
    elapsed = time.perf_counter() - t0
    return {"audio_s": round(pcm.size / 16000, 2), "rtf": round(elapsed / (pcm.size / 16000), 4), "found": len(found), "spoken": len(spans)}


def budget_plan(budget_mb: float, sizes: dict[str, float]) -> str:
    """What the residency manager keeps loaded through listen -> answer -> listen."""
    from parrot.speech.residency import Residency, Resident

    log: list[str] = []
    res = Residency(budget_mb, on_event=lambda state, name: log.append(f"{state} {name}") if state != "ready" else None)
    for name, mb in sizes.items():
        res.register(Resident(name, mb, lambda: object()))
    for name in ("vad", "asr", "llm", "vad", "asr"):
        if name in sizes:
            res.get(name)
    return ", ".join(log) + f"; resident at the end: {', '.join(res.loaded)} ({res.used_mb:.0f} MB)"


SECTIONS: list[Callable] = []  # the TTS half appends its figure functions here (see the module doc)


def run(args) -> int:
    from parrot.config import load_config
    from parrot.speech.models import SPEECH_MODELS, is_present

    if not all(is_present(SPEECH_MODELS[n]) for n in ("whisper-base", "silero-vad")):
        raise UserError("the voice bench needs the speech models (parrot models pull --speech)")
    cfg = load_config(args.config)
    beams = [int(b) for b in args.beams.split(",") if b.strip()]
    figures: dict = {"asr": asr_figures(beams), "vad": vad_figures()}
    if not args.no_memory:
        figures["resident"] = resident_sizes()
    rows: list[Row] = []
    a = figures["asr"]
    for beam in beams:
        f = a[f"beam{beam}"]
        rows.append((f"ASR whisper-base int8 beam {beam}", f"RTF {f['rtf']:.3f} on {a['audio_s']} s of real speech (VAD-trimmed), CER {f['cer']:.3f}"))
    v = figures["vad"]
    rows.append(("VAD silero (sherpa-onnx)", f"RTF {v['rtf']:.4f} on {v['audio_s']} s; found {v['found']} of {v['spoken']} utterances"))
    sizes = {}
    for name, f in figures.get("resident", {}).items():
        if "error" in f:
            rows.append((f"resident {name}", f"not measured: {f['error']}"))
        else:
            sizes[name] = f["resident_mb"]
            rows.append((f"resident {name}", f"{f['resident_mb']:.0f} MB (load + first run {f['load_run_s']:.1f} s)"))
    budget = cfg["speech"]["memory_budget_mb"]
    if sizes:
        for b in sorted({budget, 512} - {0}) or [512]:
            rows.append((f"budget {b} MB", budget_plan(b, sizes)))
        rows.append(("budget 0 (no limit)", budget_plan(0, sizes)))
    for section in SECTIONS:
        rows.extend(section(args))
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    width = max(len(r[0]) for r in rows)
    for label, figure in rows:
        print(f"{label:<{width}}  {figure}")
    return 0


# The speaking half adds its rows (TTS RTF, end of speech -> first audio) and its engine.
from parrot.speech import tts_bench  # noqa: E402

tts_bench.register(SECTIONS, ENGINES)
