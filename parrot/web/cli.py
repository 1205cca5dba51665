"""`parrot web`: the appliance on a page served on loopback (screen and clickable keypad)."""

from __future__ import annotations

import asyncio
import ipaddress
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
    p.add_argument("--backend", choices=("auto", "llm", "echo"), default="auto", help="chat engine (auto: the model if installed)")
    p.add_argument("--model", help="model to load (overrides llm.model)")
    p.add_argument("--chip", default="ssd1306", choices=("ssd1306", "sh1106", "ssd1309"), help="emulated OLED controller")
    p.add_argument("--battery", default="80", help="simulated battery percent")
    p.add_argument("--fresh", action="store_true", help="factory settings and no learned words (throw-away state)")
    p.set_defaults(func=cmd_web)


def check_loopback(host: str) -> str:
    """The simulator is for this machine only: it serves no one else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise UserError(f"--host {host}: the web simulator listens on loopback only (127.0.0.1 or ::1)")


def cmd_web(args) -> int:
    from parrot.config import load_config
    from parrot.storage import data_dir

    host = check_loopback(args.host)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: expected 0-65535")
    try:
        percent = float(args.battery)
    except ValueError:
        raise UserError(f"--battery {args.battery!r}: a percent") from None
    config = load_config(args.config)
    if args.model:
        config["llm"]["model"] = args.model
    state_dir = Path(tempfile.mkdtemp(prefix="parrot-web-")) if args.fresh else data_dir()
    try:
        runtime, tasks, closers = assemble_web(config, args.backend, state_dir, args.chip, percent, host, args.port)
        try:
            asyncio.run(runtime.run(tasks))
        except KeyboardInterrupt:
            pass
        finally:
            for close in closers:
                close()
            runtime.close(wait=False)
    finally:
        if args.fresh:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def assemble_web(config, backend: str, state_dir: Path, chip: str, battery_percent: float, host: str, port: int):
    """The one place the web simulator meets the app: the emulated panel and a fake keypad bus
    (the browser holds keys on it) under the device's own drivers, poller and key tracker."""
    import time

    from parrot.app.wiring import build_app, default_backend_kind, make_runtime
    from parrot.display.oled import open_oled
    from parrot.display.fake_oled import FakeOledBus
    from parrot.keypad.fakes import FakeMax17048Bus, FakeSeedKeypadBus
    from parrot.keypad.seed_module import SEED_KEYPAD_ADDRESS
    from parrot.keypad.wiring import battery_from_config, keypad_from_config
    from parrot.web.server import WebSimServer

    oled_bus, keypad_bus, battery_bus = FakeOledBus(chip), FakeSeedKeypadBus(), FakeMax17048Bus()
    battery_bus.set_battery(volts=3.5 + 0.7 * battery_percent / 100, percent=battery_percent)
    keypad = dict(config["keypad"], driver="seed", address=SEED_KEYPAD_ADDRESS)
    kind = default_backend_kind(config) if backend == "auto" else backend
    display = open_oled(chip, port=1, address=0x3C, bus=oled_bus, contrast=config.display.contrast,
                        partial=config.display.partial_updates)
    app = build_app(config, state_dir, now=time.monotonic())
    runtime = make_runtime(config, app, display, kind, state_dir, dry_run_shutdown=True)
    poller = keypad_from_config(keypad, runtime.post, bus=keypad_bus)
    battery = battery_from_config(dict(config["battery"], enabled=True), runtime.post, bus=battery_bus)
    server = WebSimServer(oled_bus, keypad_bus, host, port,
                          on_ready=lambda url: print(f"parrot web: serving on {url} (Ctrl+C stops)", flush=True),
                          describe=lambda: {"screen": app.screen.name.value})
    return runtime, [poller.run(), battery.run(), server.run()], [poller.close, battery.close]
