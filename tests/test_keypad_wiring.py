"""Building the keypad / battery / shutdown parts from config sections."""

import asyncio

import pytest

from parrot.errors import ConfigError, DeviceError
from parrot.events import BatteryReading, KeyEvent
from parrot.keypad.fakes import FakeClock, FakeMax17048Bus, FakePCF8574Bus, FakeSeedKeypadBus
from parrot.keypad.wiring import battery_from_config, keypad_from_config, shutdown_from_config
from parrot.keys import Key, KeyAction


# The sections as parrot.config delivers them (its defaults).
DEFAULTS = {
    "keypad": {
        "driver": "seed",
        "port": 1,
        "address": 0x27,
        "layout": "123A456B789C*0#D",
        "poll_ms": 10,
        "debounce_ms": 20,
        "long_press_ms": 400,
        "repeat_ms": 150,
    },
    "battery": {"enabled": True, "port": 1, "address": 0x36, "poll_s": 30},
    "power": {"shutdown_command": ["poweroff"]},
}


def defaults(section):
    return dict(DEFAULTS[section])


def test_seed_keypad_from_default_config():
    clock = FakeClock()
    bus = FakeSeedKeypadBus(clock=clock)
    posted = []
    poller = keypad_from_config(defaults("keypad"), posted.append, bus=bus, clock=clock, sleep=clock.sleep)
    bus.hold(Key.K7)
    for _ in range(5):
        poller.poll_once()
        clock.advance(0.01)
    poller.close()
    assert posted == [KeyEvent(Key.K7, KeyAction.PRESS)]
    assert poller.tracker.long_press_s == pytest.approx(0.4)


def test_pcf8574_and_none_drivers():
    rows, columns = [7, 6, 5, 4], [3, 2, 1, 0]
    section = defaults("keypad") | {"driver": "pcf8574", "address": 0x20, "row_pins": rows, "column_pins": columns}
    bus = FakePCF8574Bus(clock=FakeClock(), row_pins=rows, column_pins=columns)
    poller = keypad_from_config(section, print, bus=bus)
    assert poller.driver.read() is None
    bus.hold(Key.K6)
    assert poller.driver.read() is Key.K6  # the configured pins are used
    poller.close()
    assert keypad_from_config(defaults("keypad") | {"driver": "none"}, print) is None
    with pytest.raises(ConfigError):
        keypad_from_config(defaults("keypad") | {"driver": "usb"}, print, bus=FakePCF8574Bus())


def test_missing_bus_is_a_device_error():
    with pytest.raises(DeviceError):
        keypad_from_config(defaults("keypad") | {"port": 250}, print)


def test_battery_without_bus_posts_no_gauge():
    posted = []

    async def one_reading(_seconds):
        monitor.close()

    monitor = battery_from_config(defaults("battery") | {"port": 250}, posted.append)
    monitor._sleep = one_reading
    asyncio.run(monitor.run())
    assert posted == [BatteryReading(percent=None)]
    assert battery_from_config(defaults("battery") | {"enabled": False}, posted.append) is None


def test_battery_monitor_from_config_reads_fake_gauge():
    monitor = battery_from_config(defaults("battery"), print, bus=FakeMax17048Bus())
    assert monitor.gauge.read().percent == 80.0


def test_shutdown_from_config():
    shutdown = shutdown_from_config(defaults("power"), dry_run=True)
    assert shutdown.run() is None and shutdown.ran[-1] == ["poweroff"]


def test_fake_appliance_bus_serves_keypad_and_gauge_on_one_bus():
    from parrot.keypad.fakes import FakeApplianceBus

    clock = FakeClock()
    bus = FakeApplianceBus(clock=clock)
    posted = []
    poller = keypad_from_config(defaults("keypad"), posted.append, bus=bus, clock=clock, sleep=clock.sleep)
    monitor = battery_from_config(defaults("battery"), posted.append, bus=bus)
    bus.set_battery(volts=3.6, percent=42.0)
    bus.hold(Key.STAR)
    for _ in range(4):
        poller.poll_once()
        clock.advance(0.01)
    poller.close()
    assert posted == [KeyEvent(Key.STAR, KeyAction.PRESS)]
    assert monitor.gauge.read().percent == 42.0
    bus.unplug()  # the whole bus: both devices gone
    assert monitor.gauge.read() is None
