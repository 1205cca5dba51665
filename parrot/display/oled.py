"""The real OLED: a luma.oled device (SSD1306 / SH1106 / SSD1309) fed only the pages that changed.

luma's own display() pushes the whole 1,024-byte frame every time (~25 ms at 400 kHz). A chat
screen with streaming text changes one or two text lines per frame, so we keep the last frame's
page memory and send just the changed column span of each changed page.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from parrot.display import HEIGHT, WIDTH
from parrot.display.pages import changed_spans, image_to_pages
from parrot.errors import DeviceError

log = logging.getLogger(__name__)

CHIPS = ("ssd1306", "sh1106", "ssd1309")


class OledDisplay:
    def __init__(self, device, chip: str, partial: bool = True):
        self.device = device
        self.chip = chip
        self.partial = partial
        self._shown: np.ndarray | None = None  # page memory as we believe the panel holds it
        self._failing = False
        self.frames = 0
        self.pushes = 0  # number of page spans sent

    def show(self, image: Image.Image) -> None:
        if image.size != (WIDTH, HEIGHT):
            raise ValueError(f"frame must be {WIDTH}x{HEIGHT}, got {image.size}")
        pages = image_to_pages(self.device.preprocess(image.convert("1")))
        spans = changed_spans(self._shown if self.partial else None, pages)
        try:
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
        try:
            self.device.contrast(level)
        except OSError as e:
            self._lost(e)

    def power(self, on: bool) -> None:
        try:
            self.device.show() if on else self.device.hide()
        except OSError as e:
            self._lost(e)

    def close(self) -> None:
        try:
            self.device.cleanup()
        except Exception as e:  # the panel may already be gone at shutdown
            log.debug("display cleanup: %s", e)


def make_luma_device(chip: str, bus=None, port: int = 1, address: int = 0x3C, rotate: int = 0):
    """Create the luma.oled device on an I2C bus (a real smbus2 one unless `bus` is given)."""
    from luma.core.error import DeviceNotFoundError, DevicePermissionError
    from luma.core.interface.serial import i2c
    from luma.oled import device as oled_devices

    if chip not in CHIPS:
        raise DeviceError(f"unknown display driver {chip!r} (expected one of {', '.join(CHIPS)})")
    try:
        serial = i2c(bus=bus, port=port, address=address)
        device = getattr(oled_devices, chip)(serial, width=WIDTH, height=HEIGHT, rotate=rotate)
    except (DeviceNotFoundError, DevicePermissionError) as e:
        raise DeviceError(f"{chip} display on I2C bus {port} at 0x{address:02X}: {e}") from None
    except OSError as e:
        raise DeviceError(f"{chip} display on I2C bus {port} at 0x{address:02X}: {e.strerror or e}") from None
    device.persist = True  # leave the last frame on screen when the process exits
    return device


def open_oled(chip: str, port: int, address: int, rotate: int = 0, partial: bool = True, bus=None) -> OledDisplay:
    """The panel's contrast is the user's setting: the runtime applies it at boot (SetContrast)."""
    return OledDisplay(make_luma_device(chip, bus=bus, port=port, address=address, rotate=rotate), chip, partial)
