"""A fake I2C bus with an SSD1306 / SH1106 controller on it, for the simulator and tests.

It decodes the command stream the way the datasheets describe (addressing modes, column and
page windows, wrap-around) into a page RAM, so what the simulator records is what the panel
would show, and it counts the bytes that crossed the wire. Faults can be injected: NACKs
(`fail_next`), a device that stops answering (`present`), and a power loss (`unplug()` then
`replug()`): the controller comes back reset, display off, its RAM blank, like the real one.
"""

from __future__ import annotations

import errno

import numpy as np
from PIL import Image

from parrot.display.pages import pages_to_image

CONTROL_COMMAND = 0x00
CONTROL_DATA = 0x40

# Commands that take argument bytes (SSD1306 datasheet section 10; SH1106 section 9).
_SSD1306_ARGS = {0x81: 1, 0x20: 1, 0x21: 2, 0x22: 2, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1,
                 0xDB: 1, 0x8D: 1, 0xA3: 2, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5, 0xAD: 1}
_SH1106_ARGS = {0x81: 1, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1, 0xAD: 1}

HORIZONTAL, VERTICAL, PAGE = 0, 1, 2


class FakeOledBus:
    """smbus2-like object (write_i2c_block_data) with one OLED controller at `address`."""

    def __init__(self, chip: str = "ssd1306", address: int = 0x3C, width: int = 128, height: int = 64):
        if chip not in ("ssd1306", "ssd1309", "sh1106"):
            raise ValueError(f"unknown OLED chip {chip!r}")
        self.chip = "sh1106" if chip == "sh1106" else "ssd1306"
        self.address = address
        self.width, self.pages = width, height // 8
        self.ram_width = 132 if self.chip == "sh1106" else width
        self._power_on_reset()
        # Wire accounting: every transfer costs address byte + control byte + payload.
        self.transfers = 0
        self.wire_bytes = 0
        self.data_bytes = 0
        self.fail_next = 0  # inject: the next N transfers raise EREMOTEIO (NACK)
        self.present = True

    def _power_on_reset(self) -> None:
        """The controller's state after power-up (datasheet reset values)."""
        self.ram = np.zeros((self.pages, self.ram_width), dtype=np.uint8)
        self.display_on = False
        self.contrast = None
        self.mode = PAGE if self.chip == "sh1106" else PAGE  # SSD1306 resets to page mode too
        self.col_window = (0, self.width - 1)
        self.page_window = (0, self.pages - 1)
        self.col = 0
        self.page = 0
        self._pending: list[int] = []  # a multi-byte command split across transfers

    def unplug(self) -> None:
        """Power lost: the device stops answering and forgets everything."""
        self.present = False
        self._power_on_reset()

    def replug(self) -> None:
        """Power back: the device answers again, reset (dark until it is initialised)."""
        self.present = True

    # --- the smbus2 surface luma uses -------------------------------------------------------
    def write_i2c_block_data(self, addr: int, control: int, data: list[int]) -> None:
        if addr != self.address or not self.present:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if len(data) > 32:
            raise OSError(errno.EINVAL, "SMBus block write longer than 32 bytes")
        self.transfers += 1
        self.wire_bytes += 2 + len(data)
        if control == CONTROL_COMMAND:
            for b in data:
                self._command_byte(b)
        elif control == CONTROL_DATA:
            self.data_bytes += len(data)
            for b in data:
                self._data_byte(b)
        else:
            raise OSError(errno.EIO, f"bad control byte 0x{control:02X}")

    def close(self) -> None:
        pass

    # --- controller behaviour --------------------------------------------------------------
    def _command_byte(self, b: int) -> None:
        args = _SH1106_ARGS if self.chip == "sh1106" else _SSD1306_ARGS
        if self._pending:
            self._pending.append(b)
        else:
            self._pending = [b]
        op = self._pending[0]
        if len(self._pending) < 1 + args.get(op, 0):
            return
        cmd, self._pending = self._pending, []
        op, rest = cmd[0], cmd[1:]
        if op in (0xAE, 0xAF):
            self.display_on = op == 0xAF
        elif op == 0x81:
            self.contrast = rest[0]
        elif op == 0x20 and self.chip == "ssd1306":
            self.mode = rest[0] & 0x03
        elif op == 0x21 and self.chip == "ssd1306":
            self.col_window = (rest[0] & 0x7F, rest[1] & 0x7F)
            self.col = self.col_window[0]
        elif op == 0x22 and self.chip == "ssd1306":
            self.page_window = (rest[0] & 0x07, rest[1] & 0x07)
            self.page = self.page_window[0]
        elif 0xB0 <= op <= 0xB7:
            self.page = op & 0x07
        elif op <= 0x0F:
            self.col = (self.col & 0xF0) | op
        elif 0x10 <= op <= 0x1F:
            self.col = ((op & 0x0F) << 4) | (self.col & 0x0F)

    def _data_byte(self, b: int) -> None:
        if self.col < self.ram_width and self.page < self.pages:
            self.ram[self.page, self.col] = b
        if self.mode == PAGE:
            self.col = min(self.col + 1, self.ram_width - 1) if self.chip == "sh1106" else (self.col + 1) % self.width
            return
        c0, c1 = self.col_window
        p0, p1 = self.page_window
        if self.mode == HORIZONTAL:
            self.col += 1
            if self.col > c1:
                self.col = c0
                self.page = p0 if self.page >= p1 else self.page + 1
        else:  # VERTICAL
            self.page += 1
            if self.page > p1:
                self.page = p0
                self.col = c0 if self.col >= c1 else self.col + 1

    # --- what the panel shows ----------------------------------------------------------------
    def visible_pages(self, column_offset: int | None = None) -> np.ndarray:
        if column_offset is None:
            column_offset = 2 if self.chip == "sh1106" else 0
        return self.ram[:, column_offset:column_offset + self.width]

    def image(self) -> Image.Image:
        return pages_to_image(self.visible_pages())
