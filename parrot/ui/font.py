"""Bitmap fonts for the 128x64 OLED: WenQuanYi hanzi + misc-fixed Latin, from a prebuilt atlas.

The atlases (fonts/wqy12.bin, fonts/wqy16.bin) are built by tools/build_font_atlas.py from
Debian's PCF fonts; the format is described there. Loading one costs a few milliseconds
(inflate + a handful of numpy views); glyph images are made on first use and cached.

Geometry: `draw(image, x, y, text)` puts the *top of the line box* at y and the pen at x.
12 px font: line_height 12, ascent 11 (baseline row of the hanzi). Hanzi ink fills rows
1..11 of the box; row 0 is only used by curly quotes and accents, so it is the gap between
lines. The half-width Latin cell (misc-fixed 6x12) fills rows 0..11, descenders included.
Every glyph stays inside the 12-row box, so an inverse bar `line_height` rows high (title
bar, selection) shows all of it. 5 lines take 60 of the OLED's 64 rows; with a 12-row
title bar, 4 lines fit below it. (16 px font: line_height 17, ascent 15.)

Speed (x86_64, one core): loading an atlas ~10 ms; a full 128x64 screen of hanzi (5 lines x
10) ~0.3 ms once its glyphs are cached, ~3-5 ms when every glyph is new. The caches are
bounded: a glyph image costs ~1 KB, and every hanzi an answer ever showed would add up to the
atlas's 33,000 (33 MB) on a box that runs for months.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
import struct
import sys
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from parrot.errors import UserError

ATLAS_MAGIC = b"PRTFONT1"
# magic, pixel size, ascent, line height, pad, n_ranges, n_shapes, n_glyphs, bitmap bytes, crc32
_HEADER = struct.Struct("<8sBBBxIIIII")
_RANGE_BYTES = 12  # u32 first code point, u32 count, u32 first glyph index
_SHAPE_BYTES = 5  # u8 advance, u8 width, u8 height, i8 x offset, i8 y offset


ELLIPSIS = "\u2026"
GLYPH_CACHE = 1024  # glyph images kept (~1 KB each): a screen shows under a hundred
ADVANCE_CACHE = 8192  # character widths kept (for wrapping text; ~100 B each)


@dataclass(frozen=True)
class Glyph:
    """One glyph. The ink box (width x height) sits at (pen x + x_offset, line top + y_offset)."""

    advance: int
    width: int
    height: int
    x_offset: int
    y_offset: int
    image: Image.Image | None  # mode '1' mask of the ink box; None when there is no ink


def atlas_file_name(size: int) -> str:
    return f"wqy{size}.bin"


def font_dirs() -> list[Path]:
    """Where atlases are looked for, in order."""
    env = os.environ.get("PARROT_FONT_DIR")
    if env:
        # An explicit override is the only place looked: falling through would hide a typo.
        return [Path(env)]
    return [Path(__file__).resolve().parents[2] / "fonts", Path(sys.prefix) / "share" / "parrot" / "fonts"]


def load_font(size: int = 12) -> "BitmapFont":
    """The bitmap font of this pixel size (12 or 16). Cached; raises UserError if the atlas
    is missing or corrupt."""
    name = atlas_file_name(size)
    dirs = font_dirs()
    for directory in dirs:
        path = directory / name
        if path.is_file():
            font = _load_cached(path.resolve(), path.stat().st_mtime_ns)
            if font.size != size:
                raise UserError(f"font atlas {path} holds a {font.size} px font, not {size} px")
            return font
    looked = ", ".join(str(d) for d in dirs)
    raise UserError(f"font atlas {name} not found (looked in: {looked}); set PARROT_FONT_DIR or run `make fonts`")


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path, _mtime_ns: int) -> "BitmapFont":
    # The mtime is part of the key so that a rebuilt atlas is picked up.
    return BitmapFont.from_file(path)


class BitmapFont:
    """A loaded atlas: glyph lookup (binary search over code point ranges), measuring, drawing."""

    def __init__(self, data: bytes, source: str = "<atlas>"):
        self.source = source
        try:
            self._parse(data)
        except (struct.error, zlib.error, ValueError) as exc:
            raise UserError(f"font atlas {source} is corrupt ({exc}); rebuild it with `make fonts`") from None
        self._glyphs: dict[str, Glyph] = {}  # cache: character -> Glyph (at most GLYPH_CACHE)
        self._advances: dict[str, int] = {}  # cache for text_width (at most ADVANCE_CACHE)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "BitmapFont":
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read font atlas {path}: {exc.strerror or exc}") from None
        return cls(data, str(path))

    def _parse(self, data: bytes) -> None:
        if len(data) < _HEADER.size or data[:8] != ATLAS_MAGIC:
            raise ValueError("not a parrot font atlas (bad magic)")
        (_magic, self.size, self.ascent, self.line_height, n_ranges, n_shapes, n_glyphs, n_bitmap, crc) = (
            _HEADER.unpack_from(data)
        )
        payload = zlib.decompress(data[_HEADER.size :])
        if zlib.crc32(payload) != crc:
            raise ValueError("checksum mismatch")
        expected = n_ranges * _RANGE_BYTES + n_shapes * _SHAPE_BYTES + n_glyphs * 2 + n_bitmap
        if len(payload) != expected:
            raise ValueError(f"payload is {len(payload)} bytes, header says {expected}")

        pos = 0
        ranges = np.frombuffer(payload, "<u4", n_ranges * 3, pos).reshape(n_ranges, 3)
        pos += n_ranges * _RANGE_BYTES
        shapes = np.frombuffer(payload, np.uint8, n_shapes * _SHAPE_BYTES, pos).reshape(n_shapes, _SHAPE_BYTES)
        pos += n_shapes * _SHAPE_BYTES
        glyph_shapes = np.frombuffer(payload, "<u2", n_glyphs, pos)
        pos += n_glyphs * 2
        self._bitmaps = payload[pos:]

        if n_glyphs and int(glyph_shapes.max()) >= n_shapes:
            raise ValueError("glyph refers to a missing shape")
        starts, counts, firsts = (ranges[:, i].astype(np.int64) for i in range(3))
        if (
            counts.sum() != n_glyphs
            or np.any(starts[1:] < starts[:-1] + counts[:-1])  # sorted, no overlaps
            or np.any(firsts != np.cumsum(counts) - counts)  # glyph indices run on
        ):
            raise ValueError("code point table is inconsistent")
        # Shapes as plain tuples (advance, width, height, x offset, y offset); offsets are signed.
        self._shapes = [(int(a), int(w), int(h), _s8(x), _s8(y)) for a, w, h, x, y in shapes]
        shape_bytes = np.array([(w * h + 7) // 8 for _a, w, h, _x, _y in self._shapes], dtype=np.int64)
        offsets = np.zeros(n_glyphs + 1, dtype=np.int64)
        np.cumsum(shape_bytes[glyph_shapes], out=offsets[1:])
        if offsets[-1] != n_bitmap:
            raise ValueError("bitmap section size does not match the glyph shapes")

        self._range_starts = ranges[:, 0].tolist()  # sorted: bisect gives O(log n) lookup
        self._range_counts = ranges[:, 1].tolist()
        self._range_first = ranges[:, 2].tolist()
        self._glyph_shapes = glyph_shapes
        self._offsets = offsets
        self.glyph_count = n_glyphs

    # --- lookup --------------------------------------------------------------------------

    def _index(self, code: int) -> int:
        """Glyph index of a code point, or -1."""
        r = bisect.bisect_right(self._range_starts, code) - 1
        if r >= 0 and code - self._range_starts[r] < self._range_counts[r]:
            return self._range_first[r] + code - self._range_starts[r]
        return -1

    def has(self, ch: str) -> bool:
        return self._index(ord(ch)) >= 0

    def codepoints(self) -> list[int]:
        """Every code point in the atlas, ascending."""
        return [c for start, n in zip(self._range_starts, self._range_counts) for c in range(start, start + n)]

    def metrics(self, ch: str) -> tuple[int, int, int, int, int] | None:
        """(advance, width, height, x offset, y offset) of a character the font has, else
        None; cheap (no image is made)."""
        index = self._index(ord(ch))
        return None if index < 0 else self._shapes[int(self._glyph_shapes[index])]

    def glyph(self, ch: str) -> Glyph:
        """The glyph of one character; a hollow box for characters the font lacks (never raises).
        Control characters (newline, tab, ...) draw nothing and take no room."""
        glyph = self._glyphs.get(ch)
        if glyph is None:
            glyph = self._make_glyph(ch)
            _remember(self._glyphs, ch, glyph, GLYPH_CACHE)
        return glyph

    def _make_glyph(self, ch: str) -> Glyph:
        if ch == ELLIPSIS:
            return self._ellipsis()
        index = self._index(ord(ch))
        if index < 0:
            if unicodedata.category(ch) == "Cc":
                return Glyph(0, 0, 0, 0, 0, None)
            return self._replacement_box(ch)
        advance, width, height, x_off, y_off = self._shapes[int(self._glyph_shapes[index])]
        if width == 0 or height == 0:
            return Glyph(advance, 0, 0, 0, 0, None)
        start = int(self._offsets[index])
        packed = np.frombuffer(self._bitmaps, np.uint8, int(self._offsets[index + 1]) - start, start)
        pixels = np.unpackbits(packed)[: width * height].reshape(height, width)
        # PIL's raw '1' layout: each row padded to whole bytes, MSB first.
        image = Image.frombytes("1", (width, height), np.packbits(pixels, axis=1).tobytes())
        return Glyph(advance, width, height, x_off, y_off, image)

    def _ellipsis(self) -> Glyph:
        """The bitmap font's "…" is three 2-px dashes that read as "---": three single dots
        instead, one pixel on the baseline row of the font's own full stop, in the same cell."""
        index = self._index(ord(ELLIPSIS))
        advance = self._shapes[int(self._glyph_shapes[index])][0] if index >= 0 else self.size
        dot = self.metrics(".")
        row = dot[4] + dot[2] - 1 if dot else self.ascent - 1
        image = Image.new("1", (advance - 2, 1), 0)
        step = (advance - 2) // 3
        for i in range(3):
            image.putpixel((step // 2 + i * step, 0), 1)
        return Glyph(advance, advance - 2, 1, 1, row, image)

    def _replacement_box(self, ch: str) -> Glyph:
        """A hollow box the size of the character's cell (full or half width)."""
        advance = self.size if _east_asian_wide(ch) else self.size // 2
        width, height = advance - 2, self.ascent - 2
        image = Image.new("1", (width, height), 0)
        image.paste(1, (0, 0, width, height))
        image.paste(0, (1, 1, width - 1, height - 1))
        return Glyph(advance, width, height, 1, 1, image)

    # --- measuring -----------------------------------------------------------------------

    def advance(self, ch: str) -> int:
        adv = self._advances.get(ch)
        if adv is None:
            shape = self.metrics(ch) if ch != ELLIPSIS else None
            adv = shape[0] if shape else self.glyph(ch).advance  # measuring makes no image
            _remember(self._advances, ch, adv, ADVANCE_CACHE)
        return adv

    def text_width(self, text: str) -> int:
        """Pixel width of a single line of text (sum of advances)."""
        advances = self._advances
        total = 0
        for ch in text:
            adv = advances.get(ch)
            total += adv if adv is not None else self.advance(ch)
        return total

    def is_wide(self, ch: str) -> bool:
        """Full-width (a hanzi cell) rather than half-width, as this font draws it."""
        return self.advance(ch) * 4 > self.size * 3

    # --- drawing -------------------------------------------------------------------------

    def draw(self, image: Image.Image, x: int, y: int, text: str, fill: int = 1) -> int:
        """Draw one line of text with its line box top at y and pen at x, clipped to the image.
        Returns the pen x after the text."""
        img_w, img_h = image.size
        if y >= img_h or y + self.line_height + 2 <= 0:  # whole line off screen: only advance
            return x + self.text_width(text)
        glyphs = self._glyphs
        for ch in text:
            g = glyphs.get(ch) or self.glyph(ch)
            if g.image is not None and x < img_w:
                left, top = x + g.x_offset, y + g.y_offset
                if left + g.width > 0:
                    # paste() clips boxes that stick out of the image itself.
                    image.paste(fill, (left, top, left + g.width, top + g.height), g.image)
            x += g.advance
        return x

    def __repr__(self) -> str:
        return f"<BitmapFont {self.size}px {self.glyph_count} glyphs from {self.source}>"


def _remember(cache: dict, key, value, limit: int) -> None:
    """cache[key] = value; a full cache first forgets its oldest quarter (insertion order:
    what is on screen now comes straight back)."""
    if len(cache) >= limit:
        for old in list(itertools.islice(cache, max(1, limit // 4))):
            del cache[old]
    cache[key] = value


def _s8(byte) -> int:
    value = int(byte)
    return value - 256 if value > 127 else value


def _east_asian_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")
