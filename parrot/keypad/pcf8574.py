"""Driver for a bare 4x4 key matrix wired to a PCF8574 8-bit I/O expander.

The PCF8574 has no direction register: its pins are "quasi-bidirectional". Writing 0
drives a pin low; writing 1 leaves it weakly pulled up, so it can be read as an input
that a pressed key pulls low. To scan, drive one row low with every other pin high,
read the port back, and a column that reads low has a key closed to that row.

Scan: first drive *all* rows low and read once; when no column is low no key is down,
which answers the common idle case in 2 transfers instead of 8. Otherwise rows are
scanned in order and columns checked in order; with several keys held the first one in
that scan order (row by row, columns left to right in `column_pins` order) is reported,
matching the seed module's "one key at a time". A bare matrix without diodes can show
a phantom ("ghost") key when three keys forming an L are held; we report what the wires
say, as the seed's module does. The rows are left driven between reads; the PCF8574's
weak pull-ups (~100 uA) make that harmless and it saves a transfer per poll.
"""

from __future__ import annotations

from parrot.errors import ConfigError
from parrot.keypad.driver import parse_layout
from parrot.keys import DEFAULT_LAYOUT, Key

PCF8574_DEFAULT_ADDRESS = 0x20
ALL_PINS_HIGH = 0xFF
DEFAULT_ROW_PINS = (0, 1, 2, 3)  # P0-P3: rows, top to bottom
DEFAULT_COLUMN_PINS = (4, 5, 6, 7)  # P4-P7: columns, left to right
MATRIX_SIZE = 4


class PCF8574Keypad:
    def __init__(
        self,
        bus,
        address: int = PCF8574_DEFAULT_ADDRESS,
        row_pins: tuple[int, ...] = DEFAULT_ROW_PINS,
        column_pins: tuple[int, ...] = DEFAULT_COLUMN_PINS,
        layout: str = DEFAULT_LAYOUT,
    ) -> None:
        row_pins, column_pins = tuple(row_pins), tuple(column_pins)
        pins = row_pins + column_pins
        if len(row_pins) != MATRIX_SIZE or len(column_pins) != MATRIX_SIZE:
            raise ConfigError(
                f"keypad: need {MATRIX_SIZE} row and {MATRIX_SIZE} column pins, got {row_pins} / {column_pins}"
            )
        if sorted(pins) != list(range(8)):
            raise ConfigError(
                f"keypad: row and column pins must use each of P0-P7 once, got {row_pins} / {column_pins}"
            )
        self.bus = bus
        self.address = address
        self.row_pins = row_pins
        self.column_pins = column_pins
        self.keys = parse_layout(layout)  # index = row * 4 + column
        all_rows_mask = sum(1 << pin for pin in row_pins)
        self._all_rows_low = ALL_PINS_HIGH & ~all_rows_mask

    def read(self) -> Key | None:
        if self._low_column(self._sample(self._all_rows_low)) is None:
            return None
        for row, row_pin in enumerate(self.row_pins):
            column = self._low_column(self._sample(ALL_PINS_HIGH & ~(1 << row_pin)))
            if column is not None:
                return self.keys[row * MATRIX_SIZE + column]
        return None  # released between the idle check and the row scan

    def _sample(self, output: int) -> int:
        self.bus.write_byte(self.address, output)
        return self.bus.read_byte(self.address)

    def _low_column(self, port: int) -> int | None:
        for column, pin in enumerate(self.column_pins):
            if not port & (1 << pin):
                return column
        return None
