"""Driver for the seed's keypad module: a small MCU at I2C 0x27 that scans the 4x4 pad.

Protocol: write the command byte 0x03 ("report key"), give the module ~1 ms to answer,
then read one byte: 0-15 = index of the key held, 16 = no key. Anything else is a
protocol error (a glitched transfer or a different device at the address): it is logged
and raised like a bus fault, so the tracker keeps the last known state instead of
taking garbage for a key.

Write and read are two separate transfers (not one combined i2c_rdwr) because the module
needs the pause between them.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from parrot.keypad.driver import KEY_COUNT, KeypadProtocolError, parse_layout
from parrot.keys import DEFAULT_LAYOUT, Key

log = logging.getLogger(__name__)

SEED_KEYPAD_ADDRESS = 0x27
CMD_REPORT_KEY = 0x03
NO_KEY_INDEX = 16
ANSWER_DELAY_S = 0.001


class SeedKeypadModule:
    def __init__(
        self,
        bus,
        address: int = SEED_KEYPAD_ADDRESS,
        layout: str = DEFAULT_LAYOUT,
        answer_delay_s: float = ANSWER_DELAY_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bus = bus
        self.address = address
        self.keys = parse_layout(layout)
        self.answer_delay_s = answer_delay_s
        self._sleep = sleep

    def read(self) -> Key | None:
        self.bus.write_byte(self.address, CMD_REPORT_KEY)
        self._sleep(self.answer_delay_s)
        index = self.bus.read_byte(self.address)
        if index == NO_KEY_INDEX:
            return None
        if 0 <= index < KEY_COUNT:
            return self.keys[index]
        log.debug("keypad at 0x%02x answered %r (expected 0-16)", self.address, index)
        raise KeypadProtocolError(f"keypad at 0x{self.address:02x} answered {index} (expected 0-{NO_KEY_INDEX})")
