"""Runs a script against the appliance in virtual time: deterministic frames, no waiting.

The target is anything with this small surface (parrot.app.assemble.Appliance on a SimBoard):
`tick()` (one keypad poll of virtual time), `advance(seconds)`, `hold(key, seconds)`,
`clock.now()`, `stopped`, `screen` (the shown screen's name), `screen_names`, `answering`.
The simulator does not know the app: arrows point down.
"""

from __future__ import annotations

import time

from parrot.errors import UserError
from parrot.sim.script import Hold, Snap, Step, Wait, WaitFor


class HeadlessRunner:
    def __init__(self, target, snap=None, exit_after: float | None = None):
        self.target = target
        self.snap = snap  # callable(name) saving the current frame
        self.exit_after = exit_after
        self.start = target.clock.now()

    def now(self) -> float:
        return self.target.clock.now()

    def _done(self) -> bool:
        out_of_time = self.exit_after is not None and self.now() - self.start >= self.exit_after - 1e-9
        return out_of_time or self.target.stopped

    def advance(self, seconds: float) -> None:
        end = self.now() + seconds
        while self.now() < end - 1e-9 and not self._done():
            self.target.tick()

    def run(self, steps: list[Step]) -> float:
        for step in steps:
            if self._done():
                break
            if isinstance(step, Hold):
                self.target.hold(step.key, step.seconds)
                self.advance(step.seconds)
            elif isinstance(step, Wait):
                self.advance(step.seconds)
            elif isinstance(step, WaitFor):
                self.wait_for(step)
            elif isinstance(step, Snap):
                if self.snap:
                    self.snap(step.name)
        self.advance(0.3)  # let the last key's effects reach the screen
        return self.now()

    def wait_for(self, step: WaitFor) -> None:
        if step.what == "screen":
            if step.arg not in self.target.screen_names:
                raise UserError(f"wait-for screen: unknown screen {step.arg!r} "
                                f"(one of {', '.join(self.target.screen_names)})")
            limit = self.now() + step.timeout_s
            while self.target.screen != step.arg and self.now() < limit and not self._done():
                self.target.tick()
            return
        # llm-done: the model produces one event per tick of virtual time, however long it
        # really takes; the real-time limit only guards against a model that never finishes.
        deadline = time.monotonic() + step.timeout_s
        while self.target.answering and not self._done():
            if time.monotonic() > deadline:
                raise UserError(f"wait-for llm-done: no answer after {step.timeout_s:.0f} s")
            self.target.tick()
