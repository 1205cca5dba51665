"""What every keypad driver provides, and the index-to-key layout they share."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from parrot.errors import ConfigError
from parrot.keys import DEFAULT_LAYOUT, Key

KEY_COUNT = 16  # a 4x4 pad


@runtime_checkable
class KeypadDriver(Protocol):
    def read(self) -> Key | None:
        """The key held right now (None: none). Raises OSError on any bus fault or
        protocol error, so the caller can tell "no key" from "could not read"."""
        ...


class KeypadProtocolError(OSError):
    """The device answered, but with something the protocol does not allow."""


def parse_layout(layout: str) -> tuple[Key, ...]:
    """A 16-character string, key labels in index order (row by row), e.g. "123A456B789C*0#D".

    Raises ConfigError (one line for the user) when it is not a permutation of the 16 keys.
    """
    if not isinstance(layout, str) or len(layout) != KEY_COUNT:
        raise ConfigError(
            f"keypad layout must be {KEY_COUNT} key labels in index order, like {DEFAULT_LAYOUT!r}; got {layout!r}"
        )
    try:
        keys = tuple(Key.from_label(label) for label in layout)
    except ValueError as e:
        raise ConfigError(f"keypad layout {layout!r}: {e}") from None
    missing = set(Key) - set(keys)
    if missing:
        names = "".join(sorted(k.value for k in missing))
        raise ConfigError(f"keypad layout {layout!r} repeats keys and lacks {names!r}")
    return keys
