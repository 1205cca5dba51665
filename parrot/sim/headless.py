"""Runs a script against the appliance in simulated time: deterministic frames, no waiting
except for real work (the model answering)."""

from __future__ import annotations

import time

from parrot.app.core import ScreenName
from parrot.app.runtime import Runtime
from parrot.errors import UserError
from parrot.keypad.poller import KeypadPoller
from parrot.sim.keypad import SimKeypad
from parrot.sim.script import Hold, Snap, Step, Wait, WaitFor

POLL_S = 0.01  # the keypad is polled every 10 ms, as on the device


class VirtualClock:
    def __init__(self, start: float = 0.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


class HeadlessRunner:
    def __init__(self, runtime: Runtime, tracker, clock: VirtualClock, snap=None, exit_after: float | None = None):
        self.runtime = runtime
        self.clock = clock
        self.keypad = SimKeypad(clock)
        self.poller = KeypadPoller(self.keypad, tracker, runtime.post, interval_s=POLL_S, clock=clock, read_in_thread=False)
        self.snap = snap  # callable(name) saving the current frame
        self.exit_after = exit_after
        self.start = clock.now

    def _tick(self) -> None:
        self.clock.now = round(self.clock.now + POLL_S, 6)
        self.poller.poll_once()
        self.runtime.step(self.clock.now)

    def _out_of_time(self) -> bool:
        return self.exit_after is not None and self.clock.now - self.start >= self.exit_after

    def advance(self, seconds: float) -> None:
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9 and not self._out_of_time() and not self.runtime.stopped:
            self._tick()

    def run(self, steps: list[Step]) -> float:
        self.runtime.step(self.clock.now)
        for step in steps:
            if self._out_of_time() or self.runtime.stopped:
                break
            if isinstance(step, Hold):
                self.keypad.set_held(step.key, self.clock.now, step.seconds)
                self.advance(step.seconds)
            elif isinstance(step, Wait):
                self.advance(step.seconds)
            elif isinstance(step, WaitFor):
                self.wait_for(step)
            elif isinstance(step, Snap):
                if self.snap:
                    self.snap(step.name)
        self.advance(0.3)  # let the last key's effects reach the screen
        return self.clock.now

    def wait_for(self, step: WaitFor) -> None:
        app = self.runtime.app
        if step.what == "screen":
            try:
                target = ScreenName(step.arg)
            except ValueError:
                raise UserError(f"wait-for screen: unknown screen {step.arg!r} "
                                f"(one of {', '.join(s.value for s in ScreenName)})") from None
            limit = self.clock.now + step.timeout_s
            while app.screen.name is not target and self.clock.now < limit and not self._out_of_time():
                self._tick()
            return
        # llm-done: the model works in real time; simulated time moves 20 ms per real 10 ms poll
        # so streaming shows up as an animation in the recording.
        chat = app.screens[ScreenName.CHAT]
        deadline = time.monotonic() + step.timeout_s
        while chat.busy and not self._out_of_time():
            if time.monotonic() > deadline:
                raise UserError(f"wait-for llm-done: no answer after {step.timeout_s:.0f} s")
            time.sleep(0.01)
            self._tick()
            self._tick()
