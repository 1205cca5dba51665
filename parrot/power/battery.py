"""Battery level from the UPS board's MAX17048-style fuel gauge (I2C 0x36).

Registers are 16 bits, most significant byte first on the wire (datasheet scaling):
- VCELL 0x02: cell voltage, 78.125 uV per LSB over all 16 bits.
- SOC   0x04: state of charge, 1/256 % per LSB (high byte = whole percent). The chip
  reports a little over 100 % on a full cell; we clamp to 100.
- CRATE 0x16: signed charge rate, 0.208 %/hour per LSB (MAX17048/49 only; older
  MAX17043-style chips lack it, so "charging" is then unknown).

We read with SMBus "read word", which every Linux adapter (including i2c-gpio) supports.
SMBus words are little-endian - the first byte on the wire is the low byte of the result -
so the value is byte-swapped to get the chip's big-endian register.

A gauge that does not answer (no UPS board, battery removed: the MAX17048 is powered by
the cell) is normal: `read()` returns None and logs that once, not on every poll.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from parrot.events import BatteryReading, Event

log = logging.getLogger(__name__)

MAX17048_ADDRESS = 0x36
REG_VCELL = 0x02
REG_SOC = 0x04
REG_VERSION = 0x08
REG_CONFIG = 0x0C
REG_CRATE = 0x16
VCELL_VOLTS_PER_LSB = 78.125e-6
SOC_PERCENT_PER_LSB = 1 / 256
CRATE_PERCENT_PER_HOUR_PER_LSB = 0.208
MAX_PERCENT = 100.0
# |rate| below this is measurement noise at rest: not "charging".
CHARGING_MIN_PERCENT_PER_HOUR = 1.0


def swap_word(smbus_word: int) -> int:
    """SMBus little-endian word -> the chip's big-endian 16-bit register value."""
    return ((smbus_word & 0xFF) << 8) | ((smbus_word >> 8) & 0xFF)


def signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class BatteryGauge:
    def __init__(self, bus, address: int = MAX17048_ADDRESS) -> None:
        self.bus = bus
        self.address = address
        self._absent_logged = False

    def read_register(self, register: int) -> int:
        return swap_word(self.bus.read_word_data(self.address, register))

    def read(self) -> BatteryReading | None:
        """The battery now, or None when the gauge does not answer."""
        try:
            vcell = self.read_register(REG_VCELL)
            soc = self.read_register(REG_SOC)
        except OSError as e:
            if not self._absent_logged:
                log.warning("battery gauge at 0x%02x not answering (%s); battery level unknown", self.address, e)
                self._absent_logged = True
            return None
        if self._absent_logged:
            log.info("battery gauge at 0x%02x answering again", self.address)
            self._absent_logged = False
        return BatteryReading(
            percent=min(soc * SOC_PERCENT_PER_LSB, MAX_PERCENT),
            volts=vcell * VCELL_VOLTS_PER_LSB,
            charging=self._charging(),
        )

    def _charging(self) -> bool | None:
        try:
            rate = signed16(self.read_register(REG_CRATE)) * CRATE_PERCENT_PER_HOUR_PER_LSB
        except OSError:
            return None  # a glitch, or a chip without CRATE: unknown, not an error
        return rate >= CHARGING_MIN_PERCENT_PER_HOUR


class BatteryMonitor:
    """Posts a BatteryReading every `interval_s` (percent None while the gauge is absent).

    Each read is three short SMBus transfers; they run in the default thread executor so
    a slow bit-banged bus never stalls the event loop.
    """

    def __init__(
        self,
        gauge: BatteryGauge,
        post: Callable[[Event], None],
        interval_s: float = 30.0,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self.gauge = gauge
        self.post = post
        self.interval_s = interval_s
        self._sleep = sleep
        self._closed = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            reading = await loop.run_in_executor(None, self.gauge.read)
            self.post(reading if reading is not None else BatteryReading(percent=None))
            await self._sleep(self.interval_s)

    def close(self) -> None:
        self._closed = True
