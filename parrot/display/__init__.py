"""Output devices for the 128x64 1-bit framebuffer.

A display is a small object with `show(image)` and `close()` (the luma.core idea): the real
OLED over I2C, and simulated ones (recorder, terminal) are just other displays.
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image

WIDTH, HEIGHT = 128, 64
PAGES = HEIGHT // 8


class Display(Protocol):
    def show(self, image: Image.Image) -> None: ...

    def close(self) -> None: ...


class MultiDisplay:
    """Shows every frame on several displays (e.g. the emulated OLED and a terminal)."""

    def __init__(self, *displays: Display):
        self.displays = list(displays)

    def show(self, image: Image.Image) -> None:
        for d in self.displays:
            d.show(image)

    def close(self) -> None:
        for d in self.displays:
            d.close()
