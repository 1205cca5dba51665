"""The interactive simulator's terminal: the OLED drawn with half-block or braille characters in
a frame, and PC keys mapped to the pad.

PC key -> pad key (also printed by `parrot sim --help`):
  0-9 -> 0-9      a b c d -> A B C D       * or / -> *      # or . -> #
  Backspace -> A  Tab -> B  Enter -> D      Up / Down arrows -> * / #
  Long press: the key in upper case (A B C D), or L then the key (L0 = long 0).
  Ctrl-C or Ctrl-D quits.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from typing import Callable

from PIL import Image

from parrot.keys import Key
from parrot.sim.script import LONG_S, PRESS_S

KEY_HELP = __doc__.split("\n\n", 1)[1].strip()

_PLAIN = {c: Key.from_label(c) for c in "0123456789*#"}
_PLAIN.update({"a": Key.A, "b": Key.B, "c": Key.C, "d": Key.D, "/": Key.STAR, ".": Key.HASH,
               "\x7f": Key.A, "\x08": Key.A, "\t": Key.B, "\r": Key.D, "\n": Key.D})
_LONG = {"A": Key.A, "B": Key.B, "C": Key.C, "D": Key.D}
_ARROWS = {"\x1b[A": Key.STAR, "\x1b[B": Key.HASH}
_BRAILLE_BITS = ((0, 0, 0x01), (0, 1, 0x02), (0, 2, 0x04), (1, 0, 0x08), (1, 1, 0x10), (1, 2, 0x20), (0, 3, 0x40), (1, 3, 0x80))


def frame_to_text(image: Image.Image, style: str = "half") -> list[str]:
    """The frame as lines of text, framed with a box."""
    w, h = image.size
    px = image.convert("1").load()
    rows = []
    if style == "braille":
        for y in range(0, h, 4):
            row = []
            for x in range(0, w, 2):
                code = 0
                for dx, dy, bit in _BRAILLE_BITS:
                    if x + dx < w and y + dy < h and px[x + dx, y + dy]:
                        code |= bit
                row.append(chr(0x2800 + code))
            rows.append("".join(row))
    else:
        glyphs = {(0, 0): " ", (1, 0): "▀", (0, 1): "▄", (1, 1): "█"}
        for y in range(0, h, 2):
            rows.append("".join(glyphs[(1 if px[x, y] else 0, 1 if y + 1 < h and px[x, y + 1] else 0)] for x in range(w)))
    width = len(rows[0])
    return ["┌" + "─" * width + "┐"] + ["│" + r + "│" for r in rows] + ["└" + "─" * width + "┘"]


class TerminalDisplay:
    def __init__(self, stream=None, style: str = "half", assumed_size: tuple[int, int] = (200, 60)):
        self.stream = stream or sys.stdout
        self.style = style
        self.assumed_size = assumed_size  # when the stream is no terminal
        self.stream.write("\x1b[2J")

    def show(self, image: Image.Image) -> None:
        # \r\n: the keyboard reader puts the terminal in raw mode, where \n does not return.
        lines = frame_to_text(image, self.style) + [FOOTER]
        cols, rows = self.size()
        need_cols, need_rows = max(map(len, lines)), len(lines)
        if cols < need_cols or rows < need_rows:
            # Half-drawn blocks wrap into garbage: say what is needed instead.
            self.stream.write(f"\x1b[2J\x1b[Hterminal too small: {cols}x{rows}, the {self.style} view needs "
                              f"{need_cols}x{need_rows} (resize it, or --term-style braille)\r\n")
        else:
            self.stream.write("\x1b[H" + "\r\n".join(lines) + "\r\n")
        self.stream.flush()

    def size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # not a terminal (a pipe, a StringIO)
            return self.assumed_size
        return tuple(size) if size.columns and size.lines else self.assumed_size  # 0x0: size unknown

    def set_contrast(self, level: int) -> None:
        pass  # a terminal has no contrast register; the emulated OLED beside it takes the level

    def power(self, on: bool) -> None:
        if not on:
            self.stream.write("\x1b[2J\x1b[H(display off)\r\n")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\n")
        self.stream.flush()


FOOTER = "0-9 abcd * # | Backspace=A Tab=B Enter=D | long: ABCD or L+key | Ctrl-C quits"


class KeyDecoder:
    """Turns typed characters into (key, hold seconds); holds state for 'L' and escape codes."""

    def __init__(self):
        self.long_next = False
        self.escape = ""

    def feed(self, ch: str) -> tuple[Key, float] | None:
        if self.escape or ch == "\x1b":
            self.escape += ch
            if self.escape in _ARROWS:
                key, self.escape = _ARROWS[self.escape], ""
                return key, PRESS_S
            if len(self.escape) >= 3:
                self.escape = ""
            return None
        if ch in ("l", "L") and not self.long_next:
            self.long_next = True
            return None
        long, self.long_next = self.long_next, False
        if ch in _LONG and not long:
            return _LONG[ch], LONG_S
        key = _PLAIN.get(ch.lower() if ch in _LONG else ch)
        if key is None:
            return None
        return key, LONG_S if long else PRESS_S


async def read_terminal_keys(on_key: Callable[[Key, float], None], on_quit: Callable[[], None]) -> None:
    """Raw-mode stdin reader; restores the terminal on exit."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    loop = asyncio.get_running_loop()
    decoder = KeyDecoder()
    chars: asyncio.Queue[str] = asyncio.Queue()
    loop.add_reader(fd, lambda: chars.put_nowait(os.read(fd, 32).decode("utf-8", "ignore")))
    try:
        while True:
            for ch in await chars.get():
                if ch in ("\x03", "\x04"):
                    on_quit()
                    return
                decoded = decoder.feed(ch)
                if decoded:
                    on_key(*decoded)
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
