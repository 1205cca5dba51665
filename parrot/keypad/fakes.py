"""Fake I2C buses that behave like the real devices, faults included.

They stand in for `smbus2.SMBus` (same method names and argument order) at the one
boundary we cannot reach in tests or the simulator: the wire. Everything above it - the
drivers, the tracker, the poller, the gauge - runs unchanged.

What they model:
- Only the addresses of fitted devices answer; any other address fails with
  OSError(EREMOTEIO, "Remote I/O error"), like a NACKed address on Linux.
- Faults: fail the next N transfers, fail each transfer with probability p (seeded RNG,
  so a test is repeatable), unplug (every transfer fails until `replug()`).
- Keys are held per a `KeyScript` (time intervals read from the bus's clock) and/or by
  hand (`hold`/`release`), with optional contact bounce after every edge.
- The seed keypad module answers the key index latched by the last 0x03 command; a read
  with no fresh command (or too soon after it) returns the previous, stale answer.
- The PCF8574 matrix is solved electrically: a pin reads low when it is driven low or
  connected through closed keys to a pin driven low (so ghost keys appear as on a real
  diode-less matrix).
- The MAX17048 gauge keeps its 16-bit big-endian registers as bytes on the wire, so an
  SMBus word read comes back byte-swapped exactly as from the chip.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from parrot.keypad.driver import parse_layout
from parrot.keypad.pcf8574 import DEFAULT_COLUMN_PINS, DEFAULT_ROW_PINS, MATRIX_SIZE, PCF8574_DEFAULT_ADDRESS
from parrot.keypad.seed_module import ANSWER_DELAY_S, CMD_REPORT_KEY, NO_KEY_INDEX, SEED_KEYPAD_ADDRESS
from parrot.keys import DEFAULT_LAYOUT, Key
from parrot.power.battery import (
    CRATE_PERCENT_PER_HOUR_PER_LSB,
    MAX17048_ADDRESS,
    REG_CONFIG,
    REG_CRATE,
    REG_SOC,
    REG_VCELL,
    REG_VERSION,
    SOC_PERCENT_PER_LSB,
    VCELL_VOLTS_PER_LSB,
)

CLOCK_ROUNDING_S = 1e-9  # 1000.0 + 0.001 - 1000.0 < 0.001 in floating point
UNKNOWN_COMMAND_ANSWER = 0xFF  # what our model of the module returns after a command it does not know


def remote_io_error() -> OSError:
    return OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))


def io_error() -> OSError:
    return OSError(errno.EIO, os.strerror(errno.EIO))


class FakeClock:
    """A monotonic clock that only moves when told to. `sleep` advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds

    sleep = advance

    async def async_sleep(self, seconds: float) -> None:
        """For asyncio code under test: advance the clock, then let other tasks run."""
        self.advance(seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class HeldInterval:
    key: Key
    down_at: float
    up_at: float


class KeyScript:
    """Which keys are held when: a list of (key, down_at, up_at) intervals.

    With `bounce_s` > 0 the contact chatters (random, seeded) for that long after each
    edge, like a real dome switch.
    """

    def __init__(self, intervals: Iterable[tuple[Key, float, float]] = (), bounce_s: float = 0.0, seed: int = 0):
        self.intervals = [HeldInterval(key, down, up) for key, down, up in intervals]
        for interval in self.intervals:
            if interval.up_at <= interval.down_at:
                raise ValueError(f"{interval}: released before pressed")
        self.bounce_s = bounce_s
        self._rng = random.Random(seed)

    def add(self, key: Key, down_at: float, up_at: float) -> None:
        self.intervals.append(HeldInterval(key, down_at, up_at))

    def held(self, now: float) -> set[Key]:
        keys = set()
        for interval in self.intervals:
            if self._contact_closed(interval, now):
                keys.add(interval.key)
        return keys

    def _contact_closed(self, interval: HeldInterval, now: float) -> bool:
        for edge in (interval.down_at, interval.up_at):
            if edge <= now < edge + self.bounce_s:
                return self._rng.random() < 0.5
        return interval.down_at <= now < interval.up_at


class FaultInjector:
    """Decides whether the next transfer fails."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self.fail_probability = 0.0
        self._fail_next = 0
        self.unplugged = False
        self.make_error: Callable[[], OSError] = remote_io_error

    def fail_next(self, transfers: int, error: Callable[[], OSError] = remote_io_error) -> None:
        self._fail_next = transfers
        self.make_error = error

    def fail_randomly(self, probability: float, seed: int | None = None) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        self.fail_probability = probability
        if seed is not None:
            self._rng = random.Random(seed)

    def check(self) -> None:
        if self.unplugged:
            raise remote_io_error()
        if self._fail_next > 0:
            self._fail_next -= 1
            raise self.make_error()
        if self.fail_probability and self._rng.random() < self.fail_probability:
            raise io_error() if self._rng.random() < 0.5 else remote_io_error()


class FakeI2CDevice:
    """One chip on the fake bus. Operations it does not support fail like a NACK."""

    def write_byte(self, value: int) -> None:
        raise remote_io_error()

    def read_byte(self) -> int:
        raise remote_io_error()

    def read_byte_data(self, register: int) -> int:
        raise remote_io_error()

    def write_byte_data(self, register: int, value: int) -> None:
        raise remote_io_error()

    def read_word_data(self, register: int) -> int:
        raise remote_io_error()

    def read_i2c_block_data(self, register: int, length: int) -> list[int]:
        raise remote_io_error()


class FakeI2CBus:
    """An smbus2.SMBus look-alike with a set of devices and a fault injector.

    Every method call is one transfer on the wire and can fail.
    """

    def __init__(self, devices: dict[int, FakeI2CDevice] | None = None, seed: int = 0) -> None:
        self.devices: dict[int, FakeI2CDevice] = dict(devices or {})
        self.faults = FaultInjector(seed)
        self.transfers = 0
        self.failed_transfers = 0
        self.closed = False

    # Fault controls (shortcuts to the injector).
    def fail_next(self, transfers: int, error: Callable[[], OSError] = remote_io_error) -> None:
        self.faults.fail_next(transfers, error)

    def fail_randomly(self, probability: float, seed: int | None = None) -> None:
        self.faults.fail_randomly(probability, seed)

    def unplug(self) -> None:
        self.faults.unplugged = True

    def replug(self) -> None:
        self.faults.unplugged = False

    def _device(self, address: int) -> FakeI2CDevice:
        if self.closed:
            raise OSError(errno.EBADF, "I2C bus is closed")
        self.transfers += 1
        device = self.devices.get(address)
        try:
            if device is None:
                raise remote_io_error()
            self.faults.check()
        except OSError:
            self.failed_transfers += 1
            raise
        return device

    # The smbus2.SMBus methods our drivers use.
    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        self._device(i2c_addr).write_byte(value & 0xFF)

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        return self._device(i2c_addr).read_byte()

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self._device(i2c_addr).read_byte_data(register)

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: bool | None = None) -> None:
        self._device(i2c_addr).write_byte_data(register, value & 0xFF)

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self._device(i2c_addr).read_word_data(register)

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int, force: bool | None = None) -> list[int]:
        return self._device(i2c_addr).read_i2c_block_data(register, length)

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _HeldKeys:
    """Keys held by hand plus keys held by a script, read at the clock's current time."""

    def __init__(self, clock: Callable[[], float], script: KeyScript | None) -> None:
        self.clock = clock
        self.script = script
        self.by_hand: set[Key] = set()

    def now(self) -> set[Key]:
        keys = set(self.by_hand)
        if self.script is not None:
            keys |= self.script.held(self.clock())
        return keys


class SeedKeypadDevice(FakeI2CDevice):
    """The seed's keypad MCU: command 0x03 latches the held key's index; a read returns it."""

    def __init__(self, held: _HeldKeys, layout: str = DEFAULT_LAYOUT, answer_delay_s: float = ANSWER_DELAY_S):
        self.held = held
        self.index_of = {key: index for index, key in enumerate(parse_layout(layout))}
        self.answer_delay_s = answer_delay_s
        self._answer = UNKNOWN_COMMAND_ANSWER  # output register before any command
        self._pending: tuple[int, float] | None = None  # (new answer, when it was commanded)
        self.garbage_answers: list[int] = []  # injected out-of-protocol answers, served first

    def write_byte(self, value: int) -> None:
        if value == CMD_REPORT_KEY:
            held = self.held.now()
            # With several keys down the module reports the lowest index (its scan order).
            index = min((self.index_of[key] for key in held), default=NO_KEY_INDEX)
        else:
            index = UNKNOWN_COMMAND_ANSWER
        self._pending = (index, self.held.clock())

    def read_byte(self) -> int:
        if self.garbage_answers:
            return self.garbage_answers.pop(0)
        if self._pending is not None:
            index, commanded_at = self._pending
            if self.held.clock() - commanded_at >= self.answer_delay_s - CLOCK_ROUNDING_S:
                self._answer = index
                self._pending = None
        # No fresh command, or read too soon: the output register still holds the old answer.
        return self._answer


class _FakeKeypadBus(FakeI2CBus):
    """A bus with a keypad on it: keys can also be held by hand (tests, --fake-i2c)."""

    held: _HeldKeys

    def hold(self, key: Key) -> None:
        self.held.by_hand.add(key)

    def release(self, key: Key | None = None) -> None:
        """Release one key held by hand, or all of them."""
        if key is None:
            self.held.by_hand.clear()
        else:
            self.held.by_hand.discard(key)


class FakeSeedKeypadBus(_FakeKeypadBus):
    """A bus with the seed's keypad module at 0x27."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        script: KeyScript | None = None,
        layout: str = DEFAULT_LAYOUT,
        address: int = SEED_KEYPAD_ADDRESS,
        seed: int = 0,
    ) -> None:
        self.held = _HeldKeys(clock, script)
        self.module = SeedKeypadDevice(self.held, layout)
        super().__init__({address: self.module}, seed)

    def answer_garbage(self, *values: int) -> None:
        """The next reads answer these bytes (e.g. 0x5A), as a glitching module would."""
        self.module.garbage_answers.extend(values)


class PCF8574MatrixDevice(FakeI2CDevice):
    """A PCF8574 with a 4x4 key matrix on its pins, solved as a circuit on every read."""

    def __init__(self, held: _HeldKeys, row_pins, column_pins, layout: str = DEFAULT_LAYOUT):
        self.held = held
        self.row_pins = tuple(row_pins)
        self.column_pins = tuple(column_pins)
        self.position = {key: divmod(index, MATRIX_SIZE) for index, key in enumerate(parse_layout(layout))}
        self.latch = 0xFF  # power-on: all pins weakly high

    def write_byte(self, value: int) -> None:
        self.latch = value

    def read_byte(self) -> int:
        # Union the pins that closed keys connect; a net is low if any pin on it is driven low.
        net = list(range(8))

        def root(pin: int) -> int:
            while net[pin] != pin:
                pin = net[pin]
            return pin

        for key in self.held.now():
            row, column = self.position[key]
            net[root(self.row_pins[row])] = root(self.column_pins[column])
        low_nets = {root(pin) for pin in range(8) if not self.latch & (1 << pin)}
        return sum(1 << pin for pin in range(8) if root(pin) not in low_nets)


class FakePCF8574Bus(_FakeKeypadBus):
    """A bus with a PCF8574 expander scanning a bare 4x4 key matrix."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        script: KeyScript | None = None,
        layout: str = DEFAULT_LAYOUT,
        address: int = PCF8574_DEFAULT_ADDRESS,
        row_pins=DEFAULT_ROW_PINS,
        column_pins=DEFAULT_COLUMN_PINS,
        seed: int = 0,
    ) -> None:
        self.held = _HeldKeys(clock, script)
        self.expander = PCF8574MatrixDevice(self.held, row_pins, column_pins, layout)
        super().__init__({address: self.expander}, seed)


class Max17048Device(FakeI2CDevice):
    """The gauge's register file as bytes: register r's high byte at r, low byte at r + 1."""

    def __init__(self) -> None:
        self.memory = bytearray(256)
        self.set_register(REG_VERSION, 0x0012)
        self.set_register(REG_CONFIG, 0x971C)  # power-on default per the datasheet

    def set_register(self, register: int, value: int) -> None:
        self.memory[register : register + 2] = (value & 0xFFFF).to_bytes(2, "big")

    def set_battery(self, volts: float, percent: float, percent_per_hour: float = 0.0) -> None:
        """Store the values the chip would report, quantized like the chip."""
        self.set_register(REG_VCELL, round(volts / VCELL_VOLTS_PER_LSB))
        self.set_register(REG_SOC, round(percent / SOC_PERCENT_PER_LSB))
        self.set_register(REG_CRATE, round(percent_per_hour / CRATE_PERCENT_PER_HOUR_PER_LSB))

    def register(self, register: int) -> int:
        return int.from_bytes(self.memory[register : register + 2], "big")

    def read_byte_data(self, register: int) -> int:
        return self.memory[register & 0xFF]

    def read_word_data(self, register: int) -> int:
        # SMBus words are little-endian: the first byte on the wire (our high byte) lands low.
        first, second = self.memory[register & 0xFF], self.memory[(register + 1) & 0xFF]
        return first | (second << 8)

    def read_i2c_block_data(self, register: int, length: int) -> list[int]:
        return [self.memory[(register + i) & 0xFF] for i in range(length)]


class FakeMax17048Bus(FakeI2CBus):
    """A bus with a MAX17048 fuel gauge at 0x36."""

    def __init__(self, address: int = MAX17048_ADDRESS, seed: int = 0) -> None:
        self.gauge = Max17048Device()
        super().__init__({address: self.gauge}, seed)
        self.set_battery(volts=3.9, percent=80.0)

    def set_battery(self, volts: float, percent: float, percent_per_hour: float = 0.0) -> None:
        self.gauge.set_battery(volts, percent, percent_per_hour)


class FakeApplianceBus(FakeSeedKeypadBus):
    """One bus wired like the seed's box: keypad module at 0x27, MAX17048 gauge at 0x36.

    For the simulator's --fake-i2c: build the keypad poller and the battery monitor on it
    (parrot.keypad.wiring, bus=...), turn host key presses into `hold(key)` /
    `release(key)`, and change the battery with `set_battery(...)`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, layout: str = DEFAULT_LAYOUT, seed: int = 0):
        super().__init__(clock=clock, layout=layout, seed=seed)
        self.gauge = Max17048Device()
        self.devices[MAX17048_ADDRESS] = self.gauge
        self.gauge.set_battery(volts=3.9, percent=80.0)

    def set_battery(self, volts: float, percent: float, percent_per_hour: float = 0.0) -> None:
        self.gauge.set_battery(volts, percent, percent_per_hour)
