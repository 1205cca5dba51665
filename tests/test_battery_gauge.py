"""MAX17048 gauge parsing against hand-computed register values, and an absent gauge."""

import asyncio
import logging

import pytest

from parrot.events import BatteryReading
from parrot.keypad.fakes import FakeI2CBus, FakeMax17048Bus, Max17048Device
from parrot.power.battery import REG_CRATE, REG_SOC, REG_VCELL, BatteryGauge, BatteryMonitor, swap_word


def gauge_with(vcell, soc, crate=0):
    bus = FakeMax17048Bus()
    bus.gauge.set_register(REG_VCELL, vcell)
    bus.gauge.set_register(REG_SOC, soc)
    bus.gauge.set_register(REG_CRATE, crate)
    return bus, BatteryGauge(bus)


def test_smbus_word_read_is_little_endian_and_swapped_back():
    bus, gauge = gauge_with(vcell=0xD0A0, soc=0x5A80)
    assert bus.read_word_data(0x36, REG_VCELL) == 0xA0D0  # as the kernel hands it to us
    assert swap_word(0xA0D0) == 0xD0A0
    assert bus.read_i2c_block_data(0x36, REG_VCELL, 4) == [0xD0, 0xA0, 0x5A, 0x80]


def test_hand_computed_reading():
    # VCELL 0xD0A0 = 53408 * 78.125 uV = 4.1725 V; SOC 0x5A80 = 90 + 128/256 = 90.5 %
    # CRATE 0x0030 = 48 * 0.208 %/h = +9.984 %/h: charging
    _, gauge = gauge_with(vcell=0xD0A0, soc=0x5A80, crate=0x0030)
    reading = gauge.read()
    assert reading.volts == pytest.approx(4.1725, abs=1e-9)
    assert reading.percent == pytest.approx(90.5, abs=1e-9)
    assert reading.charging is True


def test_low_cell_discharging():
    # VCELL 0xA8C0 = 43200 * 78.125 uV = 3.375 V; SOC 0x0340 = 3.25 %; CRATE 0xFFD0 = -48 -> -9.984 %/h
    _, gauge = gauge_with(vcell=0xA8C0, soc=0x0340, crate=0xFFD0)
    assert gauge.read() == BatteryReading(percent=3.25, volts=pytest.approx(3.375), charging=False)


def test_soc_over_100_is_clamped():
    _, gauge = gauge_with(vcell=0xD6D8, soc=0x6680)  # 102.5 % on a full cell
    assert gauge.read().percent == 100.0


def test_fake_quantizes_like_the_chip():
    bus = FakeMax17048Bus()
    bus.set_battery(volts=3.7, percent=55.25, percent_per_hour=-5)
    assert bus.gauge.register(REG_VCELL) == 47360  # 3.7 / 78.125e-6
    assert bus.gauge.register(REG_SOC) == 0x3740
    reading = BatteryGauge(bus).read()
    assert (reading.percent, reading.charging) == (55.25, False)


def test_absent_gauge_returns_none_logged_once_and_recovers(caplog):
    caplog.set_level(logging.INFO, logger="parrot.power")
    bus = FakeI2CBus()  # nothing at 0x36
    gauge = BatteryGauge(bus)
    assert [gauge.read() for _ in range(5)] == [None] * 5
    assert sum("not answering" in r.getMessage() for r in caplog.records) == 1
    bus.devices[0x36] = Max17048Device()  # battery connected
    assert gauge.read() is not None
    assert sum("answering again" in r.getMessage() for r in caplog.records) == 1


def test_transient_fault_gives_none_then_a_reading():
    bus, gauge = gauge_with(vcell=0xD0A0, soc=0x5A80)
    bus.fail_next(1)
    assert gauge.read() is None
    assert gauge.read().percent == 90.5


def test_unplugged_gauge():
    bus, gauge = gauge_with(vcell=0xD0A0, soc=0x5A80)
    bus.unplug()
    assert gauge.read() is None
    bus.replug()
    assert gauge.read() is not None


def test_monitor_posts_readings_and_absence():
    bus, gauge = gauge_with(vcell=0xD0A0, soc=0x5A80)
    posted = []

    async def fake_sleep(seconds):
        assert seconds == 30
        if len(posted) == 1:
            bus.unplug()
        else:
            monitor.close()

    monitor = BatteryMonitor(gauge, posted.append, interval_s=30, sleep=fake_sleep)
    asyncio.run(monitor.run())
    assert [r.percent for r in posted] == [90.5, None]
