"""Turns raw keypad samples into key events: debounce, long press, auto-repeat.

Pure logic with no I/O and no clock of its own: the caller feeds one poll result at a
time together with a monotonic timestamp, so tests can drive it with any timeline.

Rules (one key at a time, like the seed's module which reports a single index):
- A raw state (a key, or no key) counts only once it has been read unchanged for
  `debounce_s`; shorter blips are contact bounce and are ignored.
- Stable down -> PRESS. Held for `long_press_s` -> LONG (once). After LONG, REPEAT every
  `repeat_interval_s`, the first `repeat_delay_s` after the LONG.
- Stable up -> RELEASE, or LONG_RELEASE when a LONG was sent.
- Key X changing straight to key Y -> X's release, then Y's PRESS.
- Hold times are measured from the first sample that saw the key down, not from the end
  of the debounce window, so LONG comes `long_press_s` after the finger went down.
- A failed read (`poll_failed`) is *not* "no key": reading it as a release would fake a
  RELEASE and, when the next read succeeds, a second PRESS of the same key. The last stable
  state is kept; only after an outage longer than `outage_release_s` is a held key
  released once, so the UI is not left with a key stuck down while the bus is dead.
  That key, still seen down when the bus returns, is the same press, not a new one (it
  would act twice): it is ignored until it is seen up (or another key) for `debounce_s`.
- Timers (LONG/REPEAT) only fire on a successful read that still sees the key down: during
  an outage we do not know that it is still held. Missed repeats are dropped, not burst.
"""

from __future__ import annotations

from dataclasses import dataclass

from parrot.events import KeyEvent
from parrot.keys import Key, KeyAction

# Sample times are floats (0.12 - 0.10 < 0.02): a state held for "exactly" a threshold counts.
TIME_TOLERANCE_S = 1e-6


@dataclass
class _HeldKey:
    """The key that is currently down after debounce, and its timers."""

    key: Key
    down_since: float  # first sample that saw it down
    long_sent: bool = False
    next_repeat_at: float | None = None


class KeyTracker:
    def __init__(
        self,
        long_press_s: float = 0.4,
        repeat_delay_s: float = 0.15,
        repeat_interval_s: float = 0.15,
        debounce_s: float = 0.02,
        outage_release_s: float = 1.0,
    ) -> None:
        for name, value in (
            ("long_press_s", long_press_s),
            ("repeat_delay_s", repeat_delay_s),
            ("repeat_interval_s", repeat_interval_s),
            ("outage_release_s", outage_release_s),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if debounce_s < 0:
            raise ValueError(f"debounce_s must be >= 0, got {debounce_s}")
        self.long_press_s = long_press_s
        self.repeat_delay_s = repeat_delay_s
        self.repeat_interval_s = repeat_interval_s
        self.debounce_s = debounce_s
        self.outage_release_s = outage_release_s

        self._held: _HeldKey | None = None  # debounced state; None = no key down
        self._candidate: Key | None = None  # latest raw state, waiting out the debounce
        self._candidate_since: float | None = None  # None until the first sample
        self._outage_since: float | None = None  # first failed read of the current outage
        self._swallow: Key | None = None  # force-released by an outage: ignored until seen up

    @property
    def held_key(self) -> Key | None:
        """The debounced key that is down now (None when none)."""
        return self._held.key if self._held else None

    @property
    def in_outage(self) -> bool:
        return self._outage_since is not None

    def update(self, raw_key: Key | None, now: float) -> list[KeyEvent]:
        """Feed one successful read (the key held, or None) taken at `now`."""
        self._outage_since = None
        events: list[KeyEvent] = []
        if self._candidate_since is None or raw_key != self._candidate:
            self._candidate = raw_key
            self._candidate_since = now

        stable = now - self._candidate_since >= self.debounce_s - TIME_TOLERANCE_S
        if self._swallow is not None and self._candidate != self._swallow and stable:
            self._swallow = None  # the force-released key was let go: it may be pressed again
        if self._candidate != self.held_key and stable:
            if self._held is not None:
                events.append(self._release())
            if self._candidate is not None and self._candidate != self._swallow:
                self._held = _HeldKey(self._candidate, down_since=self._candidate_since)
                events.append(KeyEvent(self._candidate, KeyAction.PRESS))

        if self._held is not None and raw_key == self._held.key:
            events.extend(self._timers(now))
        return events

    def poll_failed(self, now: float) -> list[KeyEvent]:
        """Record a failed read at `now`. Returns the forced release after a long outage."""
        if self._outage_since is None:
            self._outage_since = now
        if self._held is None or now - self._outage_since < self.outage_release_s:
            return []
        # The bus has been dead for a while: let go of the key once so nothing stays stuck.
        # If it is still down when the bus returns, that is this press, not another one.
        self._swallow = self._held.key
        return [self._release()]

    def reset(self) -> list[KeyEvent]:
        """Forget all state (e.g. on shutdown), releasing a held key."""
        events = [self._release()] if self._held is not None else []
        self._swallow = None
        self._candidate = None
        self._candidate_since = None
        self._outage_since = None
        return events

    def _release(self) -> KeyEvent:
        assert self._held is not None
        held, self._held = self._held, None
        action = KeyAction.LONG_RELEASE if held.long_sent else KeyAction.RELEASE
        return KeyEvent(held.key, action)

    def _timers(self, now: float) -> list[KeyEvent]:
        held = self._held
        assert held is not None
        events: list[KeyEvent] = []
        if not held.long_sent:
            long_at = held.down_since + self.long_press_s
            if now < long_at - TIME_TOLERANCE_S:
                return events
            held.long_sent = True
            held.next_repeat_at = long_at + self.repeat_delay_s
            if held.next_repeat_at <= now:
                # LONG came very late (after an outage): give it its full delay before repeating.
                held.next_repeat_at = now + self.repeat_delay_s
            events.append(KeyEvent(held.key, KeyAction.LONG))
            return events
        assert held.next_repeat_at is not None
        if now >= held.next_repeat_at - TIME_TOLERANCE_S:
            events.append(KeyEvent(held.key, KeyAction.REPEAT))
            held.next_repeat_at += self.repeat_interval_s
            if held.next_repeat_at <= now:
                # We fell behind (slow loop, bus outage): skip the missed repeats
                # instead of bursting them into the UI.
                held.next_repeat_at = now + self.repeat_interval_s
        return events
