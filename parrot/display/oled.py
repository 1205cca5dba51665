"""The real OLED: a luma.oled device (SSD1306 / SH1106 / SSD1309) fed only the pages that changed.

luma's own display() pushes the whole 1,024-byte frame every time (~25 ms at 400 kHz). A chat
screen with streaming text changes one or two text lines per frame, so we keep the last frame's
page memory and send just the changed column span of each changed page.

A display that stopped answering may have lost power (a loose wire, a brown-out): when it
answers again it is a freshly reset controller, dark and unconfigured. So after a failed write
the next frame first re-runs the controller's init sequence (and the contrast), then sends the
whole picture.
"""

from __future__ import annotations

import logging

import numpy as np
from typing import Callable

from PIL import Image

from parrot import lifecycle
from parrot.display import HEIGHT, WIDTH
from parrot.display.pages import changed_spans, image_to_pages
from parrot.errors import DeviceError

log = logging.getLogger(__name__)

CHIPS = ("ssd1306", "sh1106", "ssd1309")


class OledDisplay:
    def __init__(self, device, chip: str, partial: bool = True, reinit: Callable[[], object] | None = None):
        self.device = device
        self.chip = chip
        self.partial = partial
        self.reinit = reinit  # makes a freshly initialised device on the same bus (None: cannot)
        self._shown: np.ndarray | None = None  # page memory as we believe the panel holds it
        self._failing = False
        self._contrast: int | None = None
        self.frames = 0
        self.pushes = 0  # number of page spans sent
        self.reinits = 0
        # stopped by SIGTERM/SIGHUP/Ctrl-C: turn the panel off (a normal exit keeps its frame)
        self._unregister_off = lifecycle.at_exit(self.off, only_on_signal=True, weak=True)

    def show(self, image: Image.Image) -> None:
        if image.size != (WIDTH, HEIGHT):
            raise ValueError(f"frame must be {WIDTH}x{HEIGHT}, got {image.size}")
        try:
            if self._failing and self.reinit is not None:
                self._reinitialise()
            pages = image_to_pages(self.device.preprocess(image.convert("1")))
            spans = changed_spans(self._shown if self.partial else None, pages)
            for page, c0, c1 in spans:
                self._send_span(pages, page, c0, c1)
        except OSError as e:  # luma's errors derive from Exception; I2C ones surface as OSError/DeviceNotFound
            self._lost(e)
            return
        except Exception as e:  # luma.core.error.DeviceNotFoundError on a NACK
            if type(e).__module__.startswith("luma"):
                self._lost(e)
                return
            raise
        if self._failing:
            log.warning("display is back")
            self._failing = False
        self._shown = pages
        self.frames += 1

    def _reinitialise(self) -> None:
        self.device = self.reinit()  # raises like a write while the display is still away
        if self._contrast is not None:
            self.device.contrast(self._contrast)
        self.reinits += 1

    def _lost(self, error: Exception) -> None:
        # We no longer know what the panel shows: forget it so the next frame is sent whole.
        self._shown = None
        if not self._failing:
            log.warning("display write failed (%s); will resend the full frame", error)
            self._failing = True

    def _send_span(self, pages: np.ndarray, page: int, c0: int, c1: int) -> None:
        d = self.device
        if self.chip == "sh1106":
            col = c0 + d._page_address_offset  # SH1106 RAM is 132 wide, panel starts at column 2
            d.command(0xB0 | page, col & 0x0F, 0x10 | (col >> 4))
        else:
            start = getattr(d, "_colstart", 0)
            d.command(0x21, start + c0, start + c1, 0x22, page, page)
        d.data(pages[page, c0:c1 + 1].tolist())
        self.pushes += 1

    def set_contrast(self, level: int) -> None:
        self._contrast = level  # restored after a re-initialisation
        try:
            self.device.contrast(level)
        except OSError as e:
            self._lost(e)

    def power(self, on: bool) -> None:
        try:
            self.device.show() if on else self.device.hide()
        except OSError as e:
            self._lost(e)

    def off(self) -> None:
        """Dark panel (display-off command): how the device is left when the app is stopped
        by a signal rather than by its own shutdown screen."""
        try:
            self.device.hide()
        except Exception as e:  # the panel may be gone; stopping must go on
            log.debug("display off: %s", e)

    def close(self) -> None:
        self._unregister_off()
        try:
            self.device.cleanup()
        except Exception as e:  # the panel may already be gone at shutdown
            log.debug("display cleanup: %s", e)


def _new_device(chip: str, serial, rotate: int):
    """A luma device on `serial`: its constructor sends the controller's init sequence."""
    from luma.oled import device as oled_devices

    device = getattr(oled_devices, chip)(serial, width=WIDTH, height=HEIGHT, rotate=rotate)
    device.persist = True  # leave the last frame on screen when the process exits
    return device


def _open(chip: str, bus, port: int, address: int, rotate: int):
    """(serial interface, device) on an I2C bus (a real smbus2 one unless `bus` is given)."""
    from luma.core.error import DeviceNotFoundError, DevicePermissionError
    from luma.core.interface.serial import i2c

    if chip not in CHIPS:
        raise DeviceError(f"unknown display driver {chip!r} (expected one of {', '.join(CHIPS)})")
    try:
        serial = i2c(bus=bus, port=port, address=address)
        return serial, _new_device(chip, serial, rotate)
    except (DeviceNotFoundError, DevicePermissionError) as e:
        raise DeviceError(f"{chip} display on I2C bus {port} at 0x{address:02X}: {e}") from None
    except OSError as e:
        raise DeviceError(f"{chip} display on I2C bus {port} at 0x{address:02X}: {e.strerror or e}") from None


def make_luma_device(chip: str, bus=None, port: int = 1, address: int = 0x3C, rotate: int = 0):
    """Create the luma.oled device on an I2C bus (a real smbus2 one unless `bus` is given)."""
    return _open(chip, bus, port, address, rotate)[1]


def open_oled(chip: str, port: int, address: int, rotate: int = 0, partial: bool = True, bus=None) -> OledDisplay:
    """The panel's contrast is the user's setting: the runtime applies it at boot (SetContrast)."""
    serial, device = _open(chip, bus, port, address, rotate)
    return OledDisplay(device, chip, partial, reinit=lambda: _new_device(chip, serial, rotate))
