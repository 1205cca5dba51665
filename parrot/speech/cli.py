"""Speech commands: `parrot listen FILE.wav`, `parrot doctor`; speech models for `parrot models`."""

from __future__ import annotations

import sys

from parrot.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("listen", help="recognise the speech in a WAV file and print the text")
    p.add_argument("wav", help="a PCM WAV file (any rate, mono or stereo)")
    p.add_argument("--config", help="config file (default: the search path)")
    p.add_argument("--no-vad", action="store_true", help="give the whole file to the ASR, untrimmed")
    p.set_defaults(func=run_listen)
    d = sub.add_parser("doctor", help="show whether audio in/out and the speech engines are usable")
    d.add_argument("--config", help="config file (default: the search path)")
    d.set_defaults(func=run_doctor)


def run_listen(args) -> int:
    from parrot.audio.wav import read_wav
    from parrot.config import load_config
    from parrot.speech.engines import make_asr, make_vad
    from parrot.speech.listen import NothingHeard, recognise

    cfg = load_config(args.config)
    pcm, _ = read_wav(args.wav, 16000)
    asr = make_asr(cfg["speech"])
    if args.no_vad:
        text = asr.transcribe(pcm)
    else:
        result = recognise(pcm, make_vad(cfg["speech"], min_silence_s=0.5), asr, cfg["speech"]["min_speech_s"])
        if isinstance(result, NothingHeard):
            raise UserError(f"{args.wav}: {result.reason}")
        text = result.text
    if not text:
        raise UserError(f"{args.wav}: no words recognised")
    print(text)
    return 0


def doctor_lines(cfg) -> list[tuple[str, str]]:
    """(part, state) rows: 'ok ...' or why not."""
    from parrot.speech.engines import make_audio
    from parrot.speech.models import SPEECH_MODELS, is_present

    mic, spk = make_audio(cfg["audio"])
    rows = [("audio in", mic.status() or "ok"), ("audio out", spk.status() or "ok")]
    speech = cfg["speech"]
    engine = speech["asr"]
    if engine == "whisper" and not speech["asr_model"]:
        ok = is_present(SPEECH_MODELS["whisper-base"])
        rows.append(("asr", "ok: whisper-base" if ok else "whisper-base not pulled (parrot models pull whisper-base)"))
    elif engine == "none":
        rows.append(("asr", "off (speech.asr = none)"))
    else:
        rows.append(("asr", f"{engine}: {speech['asr_model'] or speech['funasr_url']}"))
    ok = speech["vad_model"] or is_present(SPEECH_MODELS["silero-vad"])
    rows.append(("vad", f"ok: {speech['vad_model'] or 'silero-vad'}" if ok else "silero-vad not pulled (parrot models pull silero-vad)"))
    from parrot.speech.tts import tts_state

    rows.append(("tts", tts_state(cfg["tts"])))
    for name in ("faster_whisper", "sherpa_onnx", "opencc", "onnxruntime", "espeakng_loader"):
        import importlib.util

        rows.append((name, "installed" if importlib.util.find_spec(name) else "not installed (pip install 'parrot[speech]')"))
    return rows


def run_doctor(args) -> int:
    from parrot.config import load_config

    for part, state in doctor_lines(load_config(args.config)):
        print(f"{part:<15} {state}")
    return 0


def print_speech_models() -> None:
    from parrot.speech.models import SPEECH_MODELS, is_present, speech_model_dir

    for m in SPEECH_MODELS.values():
        state = "present" if is_present(m) else "absent"
        print(f"{m.name:<22} {m.size / 1e6:7.1f}MB  {state:<7}  {'speech':<9} {speech_model_dir(m)}")


def pull_speech_models(args) -> int:
    from parrot.speech.models import DEFAULT_SPEECH_MODELS, SPEECH_MODELS, pull_speech_model

    names = DEFAULT_SPEECH_MODELS if args.speech else (args.name,)
    for name in names:
        path = pull_speech_model(SPEECH_MODELS[name], index_args=args.index_option, progress=not args.quiet)
        print(path, file=sys.stdout)
    return 0
