"""The 16 keys of the pad and what a key can do. Shared by drivers, the simulator and the UI."""

from __future__ import annotations

import enum


class Key(enum.Enum):
    """A physical key, named by its label (values are the labels)."""

    K0 = "0"
    K1 = "1"
    K2 = "2"
    K3 = "3"
    K4 = "4"
    K5 = "5"
    K6 = "6"
    K7 = "7"
    K8 = "8"
    K9 = "9"
    A = "A"  # back / delete / stop speech
    B = "B"  # input mode
    C = "C"  # ctrl (push-to-talk when held)
    D = "D"  # OK / submit
    STAR = "*"  # up / cursor left
    HASH = "#"  # down / cursor right

    @classmethod
    def from_label(cls, label: str) -> "Key":
        try:
            return cls(label.upper())
        except ValueError:
            raise ValueError(f"unknown key label {label!r} (expected one of 0-9 A B C D * #)") from None

    @property
    def digit(self) -> int | None:
        return int(self.value) if self.value.isdigit() else None


class KeyAction(enum.Enum):
    PRESS = "press"  # key went down (after debounce)
    RELEASE = "release"  # key went up before the long-press threshold (a "short" press)
    LONG = "long"  # held past the long-press threshold (sent once)
    REPEAT = "repeat"  # auto-repeat while still held after LONG
    LONG_RELEASE = "long_release"  # key went up after a LONG


# The seed's keypad module reports index 0-15 on a 4x4 grid laid out row by row like this.
DEFAULT_LAYOUT = "123A456B789C*0#D"
