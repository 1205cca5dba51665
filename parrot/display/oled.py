"""The real OLED: a luma.oled device (SSD1306 / SH1106 / SSD1309) fed only the pages that changed.

luma's own display() pushes the whole 1,024-byte frame every time (~25 ms at 400 kHz). A chat
screen with streaming text changes one or two text lines per frame, so we keep the last frame's
page memory and send just the changed column span of each changed page.

On a failed write only the span being sent becomes unknown: what did reach the panel is
kept, so on a noisy bus every frame still makes progress. A frame in which not one transfer
got through means the display stopped answering: it may have lost power (a loose wire, a
brown-out) and will answer again as a freshly reset controller, dark and unconfigured. So
the next frame first re-runs the controller's init sequence (and the contrast), then sends
the whole picture. A frame that got anything through proves the controller alive, and a mere
glitch then costs only the resend of its span. (A power loss so short that no write saw it
cannot be noticed on a write-only bus.)
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
REINIT_AFTER_DEAD_FRAMES = 1
UNKNOWN = -1  # a page-memory byte we cannot vouch for (never equal to a real byte)


def _bus_error(e: Exception) -> bool:
    """An I2C failure: OSError, or luma's DeviceNotFoundError (not an OSError) on a NACK."""
    return isinstance(e, OSError) or type(e).__module__.startswith("luma")


class OledDisplay:
    def __init__(self, device, chip: str, partial: bool = True, reinit: Callable[[], object] | None = None):
        self.device = device
        self.chip = chip
        self.partial = partial
        self.reinit = reinit  # makes a freshly initialised device on the same bus (None: cannot)
        # page memory as we believe the panel holds it (int16: UNKNOWN where we do not know)
        self._shown: np.ndarray | None = None
        self._dead_frames = 0  # frames in a row in which no transfer got through
        self._got_through = False  # in the frame being sent
        self._failing = False  # for logging the start and the end of trouble once
        self._contrast: int | None = None
        self._powered = True
        self.frames = 0
        self.pushes = 0  # number of page spans sent
        self.reinits = 0
        # stopped by SIGTERM/SIGHUP/Ctrl-C: turn the panel off (a normal exit keeps its frame)
        self._unregister_off = lifecycle.at_exit(self.off, only_on_signal=True, weak=True)

    def show(self, image: Image.Image) -> None:
        if image.size != (WIDTH, HEIGHT):
            raise ValueError(f"frame must be {WIDTH}x{HEIGHT}, got {image.size}")
        span = None
        self._got_through = False
        try:
            if self._dead_frames >= REINIT_AFTER_DEAD_FRAMES and self.reinit is not None:
                self._reinitialise()
            pages = image_to_pages(self.device.preprocess(image.convert("1")))
            if self._shown is None:
                self._shown = np.full(pages.shape, UNKNOWN, np.int16)
            for span in changed_spans(self._shown if self.partial else None, pages):
                page, c0, c1 = span
                self._send_span(pages, page, c0, c1)
                self._shown[page, c0:c1 + 1] = pages[page, c0:c1 + 1]
                self._got_through = True
        except Exception as e:
            if not _bus_error(e):
                raise
            self._lost(e, span)
            return
        if self._failing:
            log.warning("display is back")
            self._failing = False
        self._dead_frames = 0
        self.frames += 1

    def _reinitialise(self) -> None:
        self._shown = None  # whatever happens now, the old picture is gone
        self.device = self.reinit()  # raises like a write while the display is still away
        if self._contrast is not None:
            self.device.contrast(self._contrast)
        if not self._powered:
            self.device.hide()
        # the reset left its RAM undefined (the init's blank frame was not sent): send it all
        self._shown = np.full((HEIGHT // 8, WIDTH), UNKNOWN, np.int16)
        self._got_through = True
        self.reinits += 1

    def _lost(self, error: Exception, span=None, in_frame: bool = True) -> None:
        # The span being sent may be half written: resend it next time; what went before is there.
        if span is not None and self._shown is not None:
            page, c0, c1 = span
            self._shown[page, c0:c1 + 1] = UNKNOWN
        if not self._failing:
            log.warning("display write failed (%s); will resend what did not arrive", error)
            self._failing = True
        if in_frame:
            self._dead_frames = 0 if self._got_through else self._dead_frames + 1

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
        except Exception as e:
            if not _bus_error(e):
                raise
            self._lost(e, in_frame=False)

    def power(self, on: bool) -> None:
        self._powered = on  # restored after a re-initialisation
        try:
            self.device.show() if on else self.device.hide()
        except Exception as e:
            if not _bus_error(e):
                raise
            self._lost(e, in_frame=False)

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


class _CommandsOnlyWhileInit:
    """The serial interface for a re-initialisation. luma's constructor sends the init
    commands and then clears the panel with a whole blank frame (33 more transfers); that
    frame is dropped here, since the real one follows at once. Fewer transfers that must all
    succeed is what lets a re-init get through on a noisy bus."""

    def __init__(self, serial):
        self.serial = serial
        self.initialising = True

    def command(self, *cmd):
        self.serial.command(*cmd)

    def data(self, data):
        if not self.initialising:
            self.serial.data(data)

    def cleanup(self):
        self.serial.cleanup()


def _reinit_device(chip: str, serial, rotate: int):
    quiet = _CommandsOnlyWhileInit(serial)
    device = _new_device(chip, quiet, rotate)
    quiet.initialising = False
    return device


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
    return OledDisplay(device, chip, partial, reinit=lambda: _reinit_device(chip, serial, rotate))
