"""The simulated keypad: a driver whose "held key" comes from a timeline of holds (from a
script or from terminal key strokes). It is read by the same poller and key tracker as the
real I2C keypad, so debounce, long press and auto-repeat behave exactly as on the device."""

from __future__ import annotations

from collections import deque
from typing import Callable

from parrot.keys import Key
from parrot.sim.script import GAP_S


class SimKeypad:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._holds: deque[tuple[float, float, Key]] = deque()  # (start, end, key)
        self.pressed_count = 0

    def hold(self, key: Key, seconds: float) -> None:
        """Queue a hold starting now, or right after the queued ones (with a release gap)."""
        start = self.clock()
        if self._holds:
            start = max(start, self._holds[-1][1] + GAP_S)
        self._holds.append((start, start + seconds, key))
        self.pressed_count += 1

    def set_held(self, key: Key | None, now: float, seconds: float) -> None:
        """Scripted runner: `key` is held (None: nothing) from now for `seconds`."""
        self._holds.clear()
        if key is not None:
            self._holds.append((now, now + seconds, key))

    def read(self) -> Key | None:
        now = self.clock()
        while self._holds and self._holds[0][1] <= now:
            self._holds.popleft()
        if self._holds and self._holds[0][0] <= now:
            return self._holds[0][2]
        return None

    @property
    def idle(self) -> bool:
        return not self._holds
