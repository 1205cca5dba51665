"""Bring-up commands for the I2C parts: `parrot keypad` prints key events live,
`parrot battery` prints one gauge reading. Both use the config's bus/address unless
overridden, and `--fake` runs them against the fake devices (no hardware needed).
"""

from __future__ import annotations

import argparse
import time

from parrot.cliargs import float_range, int_range
from parrot.events import KeyEvent
from parrot.keypad.fakes import FakeApplianceBus, FakeClock, KeyScript
from parrot.keypad.wiring import keypad_from_config
from parrot.keys import Key
from parrot.power.battery import BatteryGauge

# --fake: a short demo of a tap, a long press with repeats and a bus glitch
FAKE_DEMO_SCRIPT = [(Key.K1, 0.10, 0.25), (Key.D, 0.50, 1.30), (Key.STAR, 1.50, 1.60)]
FAKE_DEMO_GLITCH_AT_S = 0.8


def register(sub) -> None:
    p = sub.add_parser("keypad", help="print key events from the keypad (hardware bring-up)")
    _common_options(p)
    p.add_argument("--driver", choices=("seed", "pcf8574"), help="override keypad.driver")
    p.add_argument("--seconds", type=float_range(0, 1e9), default=None, help="stop after this long (default: until Ctrl-C)")
    p.set_defaults(func=cmd_keypad)

    p = sub.add_parser("battery", help="print one battery gauge reading")
    _common_options(p)
    p.set_defaults(func=cmd_battery)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config TOML (default: the search path)")
    p.add_argument("--port", type=int_range(0, 1023), help="I2C bus number, /dev/i2c-N (default: from the config)")
    p.add_argument("--address", type=int_range(0x03, 0x77), help="I2C address, e.g. 0x27")
    p.add_argument("--fake", action="store_true", help="use simulated devices instead of the bus")


def _section(args, name: str) -> dict:
    from parrot.config import load_config

    section = dict(load_config(args.config)[name])
    for key in ("port", "address", "driver"):
        value = getattr(args, key, None)
        if value is not None:
            section[key] = value
    return section


def cmd_keypad(args) -> int:
    section = _section(args, "keypad")
    if args.fake:
        clock = FakeClock(0.0)
        bus = FakeApplianceBus(clock=clock, layout=section.get("layout", "123A456B789C*0#D"))
        bus.held.script = KeyScript(FAKE_DEMO_SCRIPT, bounce_s=0.005)
        section["driver"] = "seed"
        seconds = args.seconds if args.seconds is not None else 2.0
        sleep = clock.advance
    else:
        clock, bus, seconds, sleep = time.monotonic, None, args.seconds, time.sleep
    section.setdefault("driver", "seed")
    if section["driver"] == "none":
        print("keypad.driver is 'none': nothing to read")
        return 1
    start = clock()

    def show(event: KeyEvent) -> None:
        print(f"{clock() - start:8.3f}s  {event.key.value:>2}  {event.action.value}", flush=True)

    poller = keypad_from_config(section, show, bus=bus, clock=clock, sleep=sleep)
    print(f"reading the {section['driver']} keypad at 0x{section.get('address', 0x27):02x}; Ctrl-C to stop")
    glitch_done = False
    try:
        while seconds is None or clock() - start < seconds:
            if args.fake and not glitch_done and clock() - start >= FAKE_DEMO_GLITCH_AT_S:
                bus.fail_next(5)  # shows that a glitch mid-hold adds no events
                glitch_done = True
            poller.poll_once()
            sleep(poller.interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        poller.close()
    print(f"{poller.total_failed_reads} failed reads")
    return 0


def cmd_battery(args) -> int:
    from parrot.keypad.bus import open_i2c_bus

    section = _section(args, "battery")
    bus = FakeApplianceBus() if args.fake else open_i2c_bus(section["port"])
    address = section.get("address", 0x36)
    reading = BatteryGauge(bus, address=address).read()
    if reading is None:
        print(f"no battery gauge answering at 0x{address:02x}")
        return 1
    charging = {True: "charging", False: "not charging", None: "charging unknown"}[reading.charging]
    print(f"{reading.percent:.1f} %  {reading.volts:.3f} V  {charging}")
    return 0
