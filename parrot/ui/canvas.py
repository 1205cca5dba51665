"""A small drawing layer over the 128x64 1-bit framebuffer: text, highlight, boxes, bars, icons."""

from __future__ import annotations

from PIL import Image, ImageDraw

from parrot.ui.font import BitmapFont, load_font
from parrot.ui.icons import ICONS

WIDTH, HEIGHT = 128, 64


class Canvas:
    def __init__(self, font: BitmapFont | None = None):
        self.image = Image.new("1", (WIDTH, HEIGHT), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.font = font or load_font(12)

    def clear(self) -> None:
        self.draw.rectangle((0, 0, WIDTH - 1, HEIGHT - 1), fill=0)

    def text(self, x: int, y: int, text: str, fill: int = 1) -> int:
        """Draw text with its top-left at (x, y); returns the x after the last glyph."""
        self.font.draw(self.image, x, y, text, fill=fill)
        return x + self.font.text_width(text)

    def text_right(self, right: int, y: int, text: str) -> int:
        """Right-aligned text ending at x = right; returns its left x."""
        x = right - self.font.text_width(text)
        self.text(x, y, text)
        return x

    def highlight(self, x: int, y: int, w: int, h: int, text: str = "", pad: int = 1) -> None:
        """Inverse video bar (the selected menu row / candidate)."""
        self.fill_rect(x, y, w, h)
        if text:
            self.text(x + pad, y, text, fill=0)

    def fill_rect(self, x: int, y: int, w: int, h: int, fill: int = 1) -> None:
        if w > 0 and h > 0:
            self.draw.rectangle((x, y, x + w - 1, y + h - 1), fill=fill)

    def rect(self, x: int, y: int, w: int, h: int) -> None:
        if w > 0 and h > 0:
            self.draw.rectangle((x, y, x + w - 1, y + h - 1), outline=1, fill=0)

    def hline(self, x: int, y: int, w: int) -> None:
        self.draw.line((x, y, x + w - 1, y), fill=1)

    def vline(self, x: int, y: int, h: int) -> None:
        self.draw.line((x, y, x, y + h - 1), fill=1)

    def scrollbar(self, x: int, y: int, h: int, total: int, visible: int, top: int) -> None:
        """A 3-px wide bar; nothing when everything fits."""
        if total <= visible or h < 4:
            return
        self.vline(x + 1, y, h)
        thumb = max(3, h * visible // total)
        pos = y + (h - thumb) * min(top, total - visible) // max(1, total - visible)
        self.fill_rect(x, pos, 3, thumb)

    def progress(self, x: int, y: int, w: int, h: int, fraction: float) -> None:
        self.rect(x, y, w, h)
        inner = int((w - 4) * max(0.0, min(1.0, fraction)))
        self.fill_rect(x + 2, y + 2, inner, h - 4)

    def notice(self, text: str) -> None:
        """A framed one-line message over the bottom of the frame (a toast)."""
        h = self.font.line_height + 4
        y = HEIGHT - h
        self.fill_rect(0, y, WIDTH, h, fill=0)
        self.rect(0, y, WIDTH, h)
        self.text(3, y + 2, text)

    def icon(self, name: str, x: int, y: int) -> int:
        """Draw a named icon; returns its width."""
        icon = ICONS[name]
        self.image.paste(1, (x, y), icon)
        return icon.width

    def battery(self, x: int, y: int, percent: float) -> int:
        """Battery outline 13x7 with a fill proportional to charge; returns width."""
        self.rect(x, y, 11, 7)
        self.fill_rect(x + 11, y + 2, 2, 3)
        self.fill_rect(x + 2, y + 2, round(7 * max(0.0, min(100.0, percent)) / 100), 3)
        return 13
