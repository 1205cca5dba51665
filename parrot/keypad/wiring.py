"""Builds the keypad poller, battery monitor and shutdown action from config sections.

The app calls these with `cfg["keypad"]`, `cfg["battery"]`, `cfg["power"]` (plain dicts,
keys as in parrot.config.SCHEMA). Passing `bus` (e.g. a fake from parrot.keypad.fakes for
`--fake-i2c`) skips opening /dev/i2c-N.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from parrot.errors import ConfigError, DeviceError
from parrot.events import Event
from parrot.keypad.bus import open_i2c_bus
from parrot.keypad.pcf8574 import DEFAULT_COLUMN_PINS, DEFAULT_ROW_PINS, PCF8574Keypad
from parrot.keypad.poller import KeypadPoller
from parrot.keypad.seed_module import SeedKeypadModule
from parrot.keypad.tracker import KeyTracker
from parrot.power.battery import BatteryGauge, BatteryMonitor
from parrot.power.shutdown import SafeShutdown

log = logging.getLogger(__name__)

MS = 1000.0


def keypad_from_config(
    section: dict,
    post: Callable[[Event], None],
    bus=None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> KeypadPoller | None:
    """A ready KeypadPoller (await its run()), or None when keypad.driver = "none".

    Raises DeviceError when the I2C bus cannot be opened, ConfigError for a bad layout.
    """
    driver = keypad_driver_from_config(section, bus=bus, sleep=sleep)
    if driver is None:
        return None
    return KeypadPoller(driver, tracker_from_config(section), post, interval_s=section.get("poll_ms", 10) / MS, clock=clock)


def keypad_driver_from_config(section: dict, bus=None, sleep: Callable[[float], None] = time.sleep):
    """The keypad driver (read() -> Key | None) on its I2C bus, or None when keypad.driver = "none"."""
    kind = section.get("driver", "seed")
    if kind == "none":
        return None
    if bus is None:
        bus = open_i2c_bus(section.get("port", 1))
    address = section.get("address", 0x27)
    layout = section.get("layout", "123A456B789C*0#D")
    if kind == "seed":
        return SeedKeypadModule(bus, address=address, layout=layout, sleep=sleep)
    if kind == "pcf8574":
        return PCF8574Keypad(
            bus,
            address=address,
            row_pins=tuple(section.get("row_pins", DEFAULT_ROW_PINS)),
            column_pins=tuple(section.get("column_pins", DEFAULT_COLUMN_PINS)),
            layout=layout,
        )
    raise ConfigError(f"config key keypad.driver: unknown keypad driver {kind!r} (seed, pcf8574, none)")


def gauge_from_config(section: dict, bus=None):
    """The battery gauge (read() -> BatteryReading | None), or None when battery.enabled is false.

    A missing I2C bus is not fatal: the battery icon is optional, so the gauge then simply
    never answers (read() -> None, "no gauge") instead of stopping start-up.
    """
    if not section.get("enabled", True):
        return None
    if bus is None:
        try:
            bus = open_i2c_bus(section.get("port", 1))
        except DeviceError as e:
            log.warning("battery: %s", e)
            return AbsentGauge()
    return BatteryGauge(bus, address=section.get("address", 0x36))


class AbsentGauge:
    """No bus for the gauge at all: it never answers."""

    def read(self) -> None:
        return None


def tracker_from_config(section: dict) -> KeyTracker:
    """The key tracker with the [keypad] timings (also used by the simulated keypad)."""
    repeat_s = section.get("repeat_ms", 150) / MS
    return KeyTracker(
        long_press_s=section.get("long_press_ms", 400) / MS,
        repeat_delay_s=repeat_s,
        repeat_interval_s=repeat_s,
        debounce_s=section.get("debounce_ms", 20) / MS,
    )


def battery_from_config(section: dict, post: Callable[[Event], None], bus=None) -> BatteryMonitor | None:
    """A BatteryMonitor over gauge_from_config's gauge (await its run()), or None when disabled."""
    gauge = gauge_from_config(section, bus=bus)
    if gauge is None:
        return None
    return BatteryMonitor(gauge, post, interval_s=float(section.get("poll_s", 30)))


def shutdown_from_config(section: dict, dry_run: bool = False) -> SafeShutdown:
    return SafeShutdown(list(section.get("shutdown_command", ["poweroff"])), dry_run=dry_run)
