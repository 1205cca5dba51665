"""Speaking speed: the voices' real-time factor and memory, the first piece's latency, and a
spoken question's end of speech -> first audio sample through ASR, LLM and voice.

Real-time factor = synthesis seconds / seconds of speech (lower is faster; < 1 keeps up).
Resident memory of a voice is measured in a fresh interpreter (RSS after loading it and
speaking once, minus RSS before), so engines do not blur each other's figures.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import resource
import subprocess
import sys
import time

from parrot.cliargs import int_range
from parrot.errors import UserError

SENTENCES = [
    "今天天气很好，我们一起去公园散步吧。",
    "人工智能正在改变我们的生活。",
    "北京是中华人民共和国的首都，有三千多年的历史。",
    "多喝水，早点休息，身体会慢慢好起来的。",
]
# What an answer's first piece typically is once cut (parrot.speech.sentences).
FIRST_PIECE = "北京是中国的首都"
QUESTION_CLIP = "BAC009S0764W0122.wav"  # a real AISHELL-1 clip (4.1 s)
ASK = "请用一句话回答：{}"


def add_arguments(p) -> None:
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--engines", default="baker,espeak", help="voices to measure, comma-separated")
    p.add_argument("--repeat", type=int_range(1, 1000), default=3, help="runs per sentence (the best is kept)")
    p.add_argument("--no-pipeline", action="store_true", help="skip the ASR -> LLM -> voice figure")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def _settings(config, engine: str) -> dict:
    settings = dict(config["tts"])
    settings.update(engine=engine, fallback=False)
    return settings


def rtf(tts, sentences=SENTENCES, repeat: int = 3) -> dict:
    """Best-of-`repeat` synthesis time per sentence, summed, over the speech it made."""
    tts.synthesize(sentences[0])  # warm-up: first-run allocations are not the steady state
    took = cpu = spoken = 0.0
    for text in sentences:
        best = best_cpu = None
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), _cpu_s()
            pcm = tts.synthesize(text)
            dt, dc = time.perf_counter() - t0, _cpu_s() - c0
            best = dt if best is None else min(best, dt)
            best_cpu = dc if best_cpu is None else min(best_cpu, dc)
        took += best
        cpu += best_cpu
        spoken += len(pcm) / tts.sample_rate
    first = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        tts.synthesize(FIRST_PIECE)
        first = min(first or 1e9, time.perf_counter() - t0)
    return {"rtf": took / spoken, "cpu_per_speech_s": cpu / spoken, "speech_s": spoken, "first_piece_s": first}


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (onnxruntime's pool included)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


_RSS_CHILD = """
import json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import numpy
from parrot.speech.tts import _load
before = rss()
tts = _load(sys.argv[1], json.loads(sys.argv[2]))
tts.synthesize("北京是中华人民共和国的首都，有三千多年的历史。")
print(json.dumps({"rss_mb": rss() - before}))
"""


def resident_mb(engine: str, settings: dict) -> float:
    r = subprocess.run([sys.executable, "-c", _RSS_CHILD, engine, json.dumps(settings)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        raise UserError(f"measuring {engine}'s memory failed: {lines[-1] if lines else r.returncode}")
    return json.loads(r.stdout.strip().splitlines()[-1])["rss_mb"]


def pipeline(config, tts) -> dict:
    """A real recorded question, as the appliance answers it: from the end of speech, the
    recognised text, the LLM's first token, the first audio sample of the spoken answer."""
    from parrot.audio.sim import RecordingOut
    from parrot.speech.clips import clip
    from parrot.llm import Model
    from parrot.llm.models import REGISTRY, resolve_model
    from parrot.llm.presets import PRESETS, preset_for
    from parrot.speech.engines import make_asr
    from parrot.speech.speaker import Speaker

    asr = make_asr(config["speech"])
    pcm = clip(QUESTION_CLIP)
    asr.transcribe(pcm[:16000])  # warm-up, as the resident appliance would be
    name = config["llm"]["model"]
    model = Model(str(resolve_model(name)), threads=config["llm"]["threads"], context=1024)
    try:
        family = REGISTRY[name].preset if name in REGISTRY else None
        preset = PRESETS.get(family) or preset_for(model.arch, model.name)
        sampling = dataclasses.replace(preset.sampling, max_tokens=60, temperature=0.0)
        # A resident appliance after its first exchange: the system prompt is in the KV cache.
        list(model.chat("你好", sampling=dataclasses.replace(sampling, max_tokens=2), system=preset.system_prompt))
        out = RecordingOut(time.monotonic, rate=tts.sample_rate)
        speaker = Speaker(tts, out)
        t0, c0 = time.monotonic(), _cpu_s()  # the end of speech: the recording is complete
        text = asr.transcribe(pcm)
        t_text, c_text = time.monotonic(), _cpu_s()
        speaker.begin()
        first_token = c_token = None
        answer = ""
        for piece in model.chat(ASK.format(text), sampling=sampling, system=preset.system_prompt):
            if first_token is None:
                first_token, c_token = time.monotonic(), _cpu_s()
            answer += piece
            speaker.feed(piece)
            if speaker.first_audio_at is not None:
                break  # the figure is taken; the rest of the answer does not change it
        else:
            speaker.finish()
        deadline = time.monotonic() + 30
        while speaker.first_audio_at is None and time.monotonic() < deadline:
            time.sleep(0.005)
        c_audio = _cpu_s()
        speaker.close()
    finally:
        model.close()
    if speaker.first_audio_at is None:
        raise UserError(f"the answer was never spoken (answer: {answer!r})")
    return {
        "question": text,
        "answer_start": answer,
        "final_text_s": t_text - t0,
        "first_token_s": (first_token or t_text) - t0,
        "first_audio_s": speaker.first_audio_at - t0,
        "first_piece": speaker.spoken[0] if speaker.spoken else "",
        # CPU seconds per stage: on a busy machine the wall figures stretch, these do not
        "cpu_asr_s": c_text - c0,
        "cpu_llm_to_first_token_s": (c_token or c_text) - c_text,
        "cpu_to_first_audio_s": c_audio - c0,
    }


# ---------------------------------------------------------------- parrot bench voice's TTS rows
def child_tts():
    """For bench voice's resident-size child: load the configured voice and speak once."""
    from parrot.config import load_config
    from parrot.speech.tts import load_tts

    importlib.import_module("onnxruntime")  # library pages are not the voice's
    settings = load_config()["tts"]
    return lambda: _keep.append(load_tts(settings)[0].synthesize(SENTENCES[2]))


_keep: list = []


def voice_rows(args) -> list[tuple[str, str]]:
    from parrot.config import load_config
    from parrot.speech.tts import load_tts

    config = load_config(args.config)
    rows = []
    tts, note = load_tts(config["tts"])
    f = rtf(tts, repeat=2)
    rows.append((f"TTS {tts.name}", f"RTF {f['rtf']:.3f} ({f['cpu_per_speech_s']:.3f} CPU-s per s) on {f['speech_s']:.1f} s of speech; "
                 f"first piece ({len(FIRST_PIECE)} chars) in {f['first_piece_s'] * 1000:.0f} ms" + (f" [{note}]" if note else "")))
    if tts.name != "espeak":
        e = rtf(load_tts(dict(config["tts"], engine="espeak"))[0], repeat=2)
        rows.append(("TTS espeak (fallback)", f"RTF {e['rtf']:.3f}; the default voice is x{f['rtf'] / e['rtf']:.0f} slower"))
    p = pipeline(config, tts)
    rows.append(("spoken question", f"{QUESTION_CLIP}, heard {p['question']!r}"))
    rows.append(("end of speech -> final text", f"{p['final_text_s']:.2f} s"))
    rows.append(("end of speech -> first token", f"{p['first_token_s']:.2f} s"))
    rows.append(("end of speech -> first audio", f"{p['first_audio_s']:.2f} s (goal 1.5 s; first piece {p['first_piece']!r})"))
    rows.append(("  CPU seconds on the way", f"ASR {p['cpu_asr_s']:.2f}, LLM to first token {p['cpu_llm_to_first_token_s']:.2f}, "
                 f"all to first audio {p['cpu_to_first_audio_s']:.2f} (wall figures stretch on a busy machine, these do not)"))
    return rows


def register(sections: list, engines: dict) -> None:
    sections.append(voice_rows)
    engines["tts"] = child_tts


def run(args) -> int:
    from parrot.config import load_config
    from parrot.speech.tts import _load

    config = load_config(args.config)
    figures: dict = {"voices": {}}
    voices = {}
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        settings = _settings(config, engine)
        tts = voices[engine] = _load(engine, settings)
        fig = rtf(tts, repeat=args.repeat)
        fig["rss_mb"] = resident_mb(engine, settings)
        figures["voices"][engine] = fig
    if not args.no_pipeline:
        default = voices.get(config["tts"]["engine"]) or _load(config["tts"]["engine"], _settings(config, config["tts"]["engine"]))
        figures["pipeline"] = pipeline(config, default)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        return 0
    load = os.getloadavg()[0]
    print(f"{'voice':<8} {'RTF':>6} {'CPU-s/s':>8} {'first piece':>12} {'resident':>9}   "
          f"({len(SENTENCES)} sentences, best of {args.repeat}; load average {load:.1f} on {os.cpu_count()} CPUs)")
    for engine, f in figures["voices"].items():
        print(f"{engine:<8} {f['rtf']:6.3f} {f['cpu_per_speech_s']:8.3f} {f['first_piece_s'] * 1000:10.0f}ms {f['rss_mb']:7.0f}MB")
    names = list(figures["voices"])
    if len(names) == 2:
        a, b = (figures["voices"][n] for n in names)
        print(f"{names[0]} / {names[1]}: RTF x{a['rtf'] / b['rtf']:.1f}, memory x{a['rss_mb'] / max(b['rss_mb'], 0.1):.1f}")
    if "pipeline" in figures:
        p = figures["pipeline"]
        print(f"spoken question ({QUESTION_CLIP}): heard {p['question']!r}")
        print(f"  end of speech -> final text   {p['final_text_s']:.2f} s")
        print(f"  end of speech -> first token  {p['first_token_s']:.2f} s")
        print(f"  end of speech -> first audio  {p['first_audio_s']:.2f} s  (goal <= 1.5 s; first piece {p['first_piece']!r})")
        print(f"  CPU seconds: ASR {p['cpu_asr_s']:.2f}, LLM to first token {p['cpu_llm_to_first_token_s']:.2f}, "
              f"all to first audio {p['cpu_to_first_audio_s']:.2f} (wall figures stretch on a busy machine, these do not)")
    return 0
