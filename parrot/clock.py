"""The clock port: nothing in the app or the runtime reads time except through a Clock.

`now()` is monotonic seconds (what ticks, key timings and animations use); `wall(t)` turns such
a time into seconds since the epoch (what the splash clock shows). The device runs on the wall
clock; the headless simulator and the tests on a virtual one that moves only when told, so a
script gives the same frames on any machine, at any load.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    virtual: bool  # True: time moves only by advance(); the runtime then steps the model too

    def now(self) -> float: ...

    def wall(self, t: float) -> float: ...


class WallClock:
    virtual = False

    def now(self) -> float:
        return time.monotonic()

    def wall(self, t: float) -> float:
        return time.time() - (time.monotonic() - t)


class VirtualClock:
    """Starts at 0.0; `wall_start` is the epoch time it stands for (the simulator's --clock)."""

    virtual = True

    def __init__(self, wall_start: float = 0.0, start: float = 0.0):
        self.wall_start = wall_start
        self.start = start
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        # rounded so that many 10 ms steps land on the same numbers on every run and machine
        self.t = round(self.t + seconds, 6)
        return self.t

    def wall(self, t: float) -> float:
        return self.wall_start + (t - self.start)
