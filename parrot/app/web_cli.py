"""`parrot web`: the appliance on a page served on loopback (screen and clickable keypad), built
by the same build_appliance as `parrot run` and `parrot sim`, on a WebBoard."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

from parrot.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("web", help="the appliance in a browser page on this machine (screen + keypad)",
                       description="Serves the simulated appliance on http://HOST:PORT/ (loopback only): the live "
                                   "128x64 screen and a clickable 4x4 keypad (hold a key for a long press; "
                                   "the computer's keys 0-9 A-D * # work too).")
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=8128, help="port (0: any free one; the URL is printed)")
    p.add_argument("--backend", choices=("llm", "echo"), default="llm",
                   help="chat engine: the configured model, or echo (tests, demos)")
    p.add_argument("--model", help="model to load (overrides llm.model)")
    p.add_argument("--chip", default="ssd1306", choices=("ssd1306", "sh1106", "ssd1309"), help="emulated OLED controller")
    p.add_argument("--battery", default=80.0, type=_percent_or_none, help="simulated battery percent, or 'none' for no gauge")
    p.add_argument("--fresh", action="store_true", help="factory settings and no learned words (throw-away state)")
    p.set_defaults(func=cmd_web)


def _percent_or_none(text: str) -> float | None:
    if text == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a percent or 'none'") from None


def cmd_web(args) -> int:
    from parrot.app.assemble import build_appliance

    try:
        from parrot.boards.web import WebBoard
    except ModuleNotFoundError as e:  # aiohttp is the `web` extra: a desktop tool, not on the router
        raise UserError(f"parrot web needs {e.name}: pip install 'parrot[web]'") from None
    from parrot.config import load_config
    from parrot.storage import data_dir
    from parrot.web.server import check_loopback

    host = check_loopback(args.host)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: expected 0-65535")
    config = load_config(args.config)
    if args.model:
        config["llm"]["model"] = args.model
    board = WebBoard(chip=args.chip, battery_percent=args.battery, host=host, port=args.port,
                     partial=config.display.partial_updates,
                     on_ready=lambda url: print(f"parrot web: serving on {url} (Ctrl+C stops)", flush=True))
    state_dir = Path(tempfile.mkdtemp(prefix="parrot-web-")) if args.fresh else data_dir()
    appliance = build_appliance(board, config, state_dir, backend=args.backend)
    board.server.describe = lambda: {"screen": appliance.screen}
    try:
        asyncio.run(appliance.run())
    except KeyboardInterrupt:
        pass
    finally:
        appliance.close(wait=False)
        if args.fresh:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0
