"""`parrot sim`, `parrot run`, `parrot render`, `parrot config`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from parrot.cliargs import float_range, int_range, percent_or_none, utf8_file, utf8_text
from parrot.errors import UserError

log = logging.getLogger(__name__)


def register(sub) -> None:
    from parrot.sim.script import __doc__ as script_doc
    from parrot.sim.terminal import KEY_HELP

    p = sub.add_parser(
        "sim",
        help="the appliance in a terminal, or headless from a script",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs the same app as the device with simulated adapters.\n\n"
        "Interactive (a terminal, no --keys/--script): keys map like this:\n  " + KEY_HELP.replace("\n", "\n  ")
        + "\n\nHeadless: " + script_doc.strip(),
    )
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--keys", type=utf8_text, help="compact key sequence, e.g. '+0 64426 D !' (see above)")
    p.add_argument("--script", type=utf8_file, help="script file (see above)")
    p.add_argument("--record", metavar="OUT.gif", help="write an animated GIF of the session")
    p.add_argument("--frames", metavar="DIR", help="write a PNG for every changed frame (4x, crisp)")
    p.add_argument("--exit-after", type=float_range(0, 1e9), metavar="SECONDS", help="stop after this long (simulated time when headless)")
    p.add_argument("--backend", choices=("llm", "echo"), default="llm",
                   help="chat engine: the configured model (default), or 'echo' that repeats the question (tests, demos)")
    p.add_argument("--model", help="model to load (overrides llm.model)")
    p.add_argument("--battery", type=percent_or_none, default="80", help="simulated battery percent, or 'none' for no gauge")
    p.add_argument("--clock", help="wall clock at start, 'YYYY-MM-DD HH:MM' (default: now)")
    p.add_argument("--chip", default="ssd1306", choices=("ssd1306", "sh1106", "ssd1309"), help="emulated OLED controller")
    p.add_argument("--term-style", default="half", choices=("half", "braille"), help="terminal drawing")
    p.add_argument("--headless", action="store_true", help="no terminal even without a script")
    p.add_argument("--wav-in", action="append", metavar="Q.wav",
                   help="the microphone hears this WAV when the talk key (hold C) goes down; repeat for later presses")
    p.add_argument("--wav-out", metavar="OUT.wav", help="speak answers (tts.* config) and record what is said, silences included")
    p.add_argument("--fresh", action="store_true",
                   help="factory settings and no learned words (a throw-away state directory): reproducible recordings")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("run", help="run on the device: OLED, keypad, gauge from the config")
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--backend", choices=("llm", "echo"), default="llm", help="'echo' repeats the question (bring-up without a model)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("render", help="render text to a PNG in the OLED font")
    p.add_argument("text", type=utf8_text, help="text (\\n for new lines); '-' reads stdin")
    p.add_argument("-o", "--output", required=True, help="PNG file")
    p.add_argument("--size", type=int, default=12, choices=(12, 16), help="font pixel size")
    p.add_argument("--width", type=int_range(8, 4096), default=128, help="wrap width in pixels")
    p.add_argument("--scale", type=int_range(1, 32), default=4, help="integer upscaling")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("config", help="show the effective config, or document every key")
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--doc", action="store_true", help="print the table of keys, defaults and meanings")
    p.set_defaults(func=cmd_config)


# --- sim ---------------------------------------------------------------------------------------
def cmd_sim(args) -> int:
    from parrot.app.assemble import build_appliance
    from parrot.boards.sim import SimBoard
    from parrot.config import load_config
    from parrot.sim.recorder import FrameRecorder
    from parrot.sim.script import parse_keys, parse_script
    from parrot.storage import data_dir

    config = load_config(args.config)
    if args.model:
        config["llm"]["model"] = args.model
    steps = []
    if args.script:
        try:
            steps += parse_script(Path(args.script).read_text(encoding="utf-8"), args.script)
        except OSError as e:
            raise UserError(f"script {args.script}: {e.strerror}") from None
    if args.keys:
        steps += parse_keys(args.keys)
    headless = bool(steps or args.record or args.frames or args.headless or not sys.stdin.isatty())

    wall = time.time()
    if args.clock:
        try:
            wall = datetime.strptime(args.clock, "%Y-%m-%d %H:%M").timestamp()
        except ValueError:
            raise UserError(f"--clock {args.clock!r}: expected 'YYYY-MM-DD HH:MM'") from None
    percent = None
    if args.battery != "none":
        try:
            percent = float(args.battery)
        except ValueError:
            raise UserError(f"--battery {args.battery!r}: a percent or 'none'") from None

    board = SimBoard(chip=args.chip, battery_percent=percent, wall_start=wall, headless=headless,
                     term_style=args.term_style, partial=config.display.partial_updates,
                     record_speech=bool(args.wav_out), wav_in=args.wav_in)
    tts = _sim_voice(config) if args.wav_out else None
    asr, vad = _sim_ears(config) if args.wav_in else (None, None)
    recorder = FrameRecorder(args.frames) if (args.record or args.frames) else None
    on_frame = (lambda t: recorder.add(t, board.frame())) if recorder else None
    # Settings, history and learned words; models always come from the data directory.
    state_dir = Path(tempfile.mkdtemp(prefix="parrot-sim-")) if args.fresh else data_dir()
    appliance = build_appliance(board, config, state_dir, backend=args.backend, seed=0 if headless else None,
                                on_frame=on_frame, tts=tts, asr=asr, vad=vad)
    try:
        if headless:
            end = _run_headless(appliance, board, steps, args, recorder)
            if args.record:
                recorder.save_gif(args.record, end)
                print(f"wrote {args.record} ({len(recorder.frames)} frames, {end:.1f} s)")
            if args.frames:
                print(f"wrote {len(recorder.frames)} frames to {args.frames}")
            if args.wav_out:
                board.speech_recording.save(args.wav_out)
                seconds = board.speech_recording.samples().size / board.speech_recording.rate
                print(f"wrote {args.wav_out} ({seconds:.1f} s)")
        else:
            _run_interactive(appliance, args)
    finally:
        appliance.close(wait=False)
        if args.fresh:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _sim_voice(config):
    """The configured voice for --wav-out (espeak, with the reason, when it cannot load)."""
    from parrot.speech.tts import load_tts

    tts, note = load_tts(config["tts"])
    if note:
        print(f"parrot: {note}", file=sys.stderr)
    return tts


def _sim_ears(config):
    """The configured ASR (loaded at the first recognition) and VAD for --wav-in."""
    from parrot.speech.engines import make_ears

    asr, vad, note = make_ears(config["speech"])
    if note:
        raise UserError(f"--wav-in: {note}")
    return asr, vad


def _run_headless(appliance, board, steps, args, recorder) -> float:
    from parrot.sim.headless import HeadlessRunner

    def snap(name: str) -> None:
        if recorder and recorder.frames_dir:
            recorder.save_png(recorder.frames_dir / f"{name}.png", board.frame())

    return HeadlessRunner(appliance, snap=snap, exit_after=args.exit_after).run(steps)


def _run_interactive(appliance, args) -> None:
    from parrot.events import Quit

    async def main():
        if args.exit_after:
            async def stop_later():
                await asyncio.sleep(args.exit_after)
                appliance.post(Quit("exit-after"))
            asyncio.ensure_future(stop_later())
        await appliance.run()

    asyncio.run(main())


# --- run (device) -----------------------------------------------------------------------------
def cmd_run(args) -> int:
    from parrot.app.assemble import build_appliance
    from parrot.boards.device import DeviceBoard
    from parrot.config import load_config
    from parrot.storage import data_dir

    config = load_config(args.config)
    from parrot.speech.engines import make_ears

    asr, vad, note = make_ears(config["speech"])
    if note:
        logging.getLogger("parrot").warning("no push-to-talk: %s", note)
    appliance = build_appliance(DeviceBoard(config), config, data_dir(), backend=args.backend, asr=asr, vad=vad)
    try:
        asyncio.run(appliance.run())
    finally:
        appliance.close()
    return 0


# --- render ---------------------------------------------------------------------------------
def cmd_render(args) -> int:
    import io

    from PIL import Image

    from parrot.sim.recorder import scale_frame
    from parrot.storage import atomic_write
    from parrot.ui.font import load_font
    from parrot.ui.layout import wrap

    text = sys.stdin.read() if args.text == "-" else args.text.replace("\\n", "\n")
    font = load_font(args.size)
    lines = wrap(text, font, args.width) or [""]
    image = Image.new("1", (args.width, max(8, len(lines) * font.line_height)), 0)
    for i, line in enumerate(lines):
        font.draw(image, 0, i * font.line_height, line)
    buf = io.BytesIO()
    scale_frame(image, max(1, args.scale)).save(buf, "PNG")
    atomic_write(args.output, buf.getvalue())
    print(f"wrote {args.output} ({len(lines)} lines)")
    return 0


def cmd_config(args) -> int:
    from parrot.config import doc_markdown, load_config

    if args.doc:
        print(doc_markdown())
        return 0
    config = load_config(args.config)
    print(f"# source: {config.source or 'defaults (no config file found)'}")
    for section, values in config.as_dict().items():
        print(f"[{section}]")
        for key, value in values.items():
            shown = repr(value).replace("'", '"') if not isinstance(value, bool) else str(value).lower()
            print(f"{key} = {shown}")
        print()
    return 0
