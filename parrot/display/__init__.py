"""Output devices for the 128x64 1-bit framebuffer.

A display is a small object with `show(image)`, `set_contrast(level)`, `power(on)` and `close()`
(the luma.core idea): the real OLED over I2C, and simulated ones (terminal, a browser page, a
test's memory) are just other displays. Contrast and power belong to the display port itself.
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image

WIDTH, HEIGHT = 128, 64
PAGES = HEIGHT // 8


class Display(Protocol):
    def show(self, image: Image.Image) -> None: ...

    def set_contrast(self, level: int) -> None:
        """0..255, as the SSD1306 family's contrast register."""

    def power(self, on: bool) -> None:
        """Panel on or off (the frame memory is kept)."""

    def close(self) -> None: ...


class MultiDisplay:
    """Shows every frame on several displays (e.g. the emulated OLED and a terminal)."""

    def __init__(self, *displays: Display):
        self.displays = list(displays)

    def show(self, image: Image.Image) -> None:
        for d in self.displays:
            d.show(image)

    def set_contrast(self, level: int) -> None:
        for d in self.displays:
            d.set_contrast(level)

    def power(self, on: bool) -> None:
        for d in self.displays:
            d.power(on)

    def close(self) -> None:
        for d in self.displays:
            d.close()
