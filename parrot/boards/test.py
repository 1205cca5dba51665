"""The test suite's board: everything in memory on a virtual clock. Tests read what the display
was told (frames, contrast, power), set the battery, hold keys, and see shutdown requests."""

from __future__ import annotations

from parrot.boards import Board
from parrot.clock import VirtualClock
from parrot.events import BatteryReading


class MemoryDisplay:
    def __init__(self):
        self.frames: list = []
        self.contrast: int | None = None
        self.on = True
        self.closed = False

    def show(self, image) -> None:
        self.frames.append(image.copy())

    def set_contrast(self, level: int) -> None:
        self.contrast = level

    def power(self, on: bool) -> None:
        self.on = on

    def close(self) -> None:
        self.closed = True


class MemoryGauge:
    """A gauge whose reading the test sets (None: the gauge does not answer)."""

    def __init__(self, percent: float | None = None):
        self.reading = BatteryReading(percent=percent, volts=3.7) if percent is not None else None

    def set(self, percent: float | None, charging: bool | None = None) -> None:
        self.reading = BatteryReading(percent=percent, volts=3.7, charging=charging) if percent is not None else None

    def read(self) -> BatteryReading | None:
        return self.reading


class TestBoard(Board):
    __test__ = False  # not a pytest test class
    name = "test"

    def __init__(self, battery_percent: float | None = None, wall_start: float = 0.0, power_off_error: str | None = None):
        super().__init__(VirtualClock(wall_start))
        from parrot.sim.keypad import SimKeypad

        self.screen = MemoryDisplay()
        self.keys = SimKeypad(self.clock.now)
        self.battery = MemoryGauge(battery_percent)
        self.power_off_error = power_off_error
        self.power_offs = 0

    def display(self):
        return self.screen

    def keypad(self):
        return self.keys

    def gauge(self):
        return self.battery

    def power_off(self) -> str | None:
        self.power_offs += 1
        return self.power_off_error
