#!/usr/bin/env python3
"""Build parrot's bitmap glyph atlases (fonts/wqy12.bin, fonts/wqy16.bin) from Debian's PCF fonts.

Sources (Debian packages, read at build time only; the atlases are committed):
  * xfonts-wqy:  /usr/share/fonts/X11/misc/wenquanyi_9pt.pcf  (12 px) and wenquanyi_12pt.pcf (16 px)
                 -- every CJK glyph, CJK/full-width punctuation, symbols, box drawing, arrows.
  * xfonts-base: /usr/share/fonts/X11/misc/6x12.pcf.gz (12 px) and 8x16.pcf.gz (16 px)
                 -- the misc-fixed Unicode faces, used for Latin/Greek/Cyrillic because their
                 half-width letters are crisper and more legible than WQY's, and as a fallback
                 for symbols WQY lacks.

The PCF files are parsed here directly (Pillow's PcfFontFile only handles 256-glyph
charsets); the tests check the result against FreeType's rendering of the same PCF.

Atlas format (all integers little-endian), version 1:
  header   "PRTFONT1" magic, then the rest of HEADER (see below)
  ranges   n_ranges x (u32 first codepoint, u32 count, u32 first glyph index), sorted,
           non-overlapping: the codepoint table, run-length coded
  shapes   n_shapes x (u8 advance, u8 width, u8 height, i8 x offset, i8 y offset)
           distinct glyph metrics of the cropped ink box; x offset from the pen, y offset
           from the line top. WQY's baseline is `ascent` rows below the line top; the
           fixed face's cell is placed inside the line box (see build_atlas).
  glyphs   n_glyphs x u16 shape index (glyph order = codepoint order)
  bitmaps  per glyph ceil(width*height/8) bytes: the glyph's rows concatenated and bit
           packed MSB first (no row padding); a glyph's offset is the running sum.
Everything after the header is stored zlib-compressed; the header's CRC-32 is that of the
uncompressed payload.
Output is deterministic: same input fonts -> byte-identical atlas.

Usage: python tools/build_font_atlas.py [--out fonts] [--fonts-dir /usr/share/fonts/X11/misc]
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from parrot.storage import atomic_write  # noqa: E402

MAGIC = b"PRTFONT1"
# pixel size, line ascent (baseline row), line height, pad, n_ranges, n_shapes, n_glyphs,
# bitmap bytes, CRC-32 of everything after the header (a corrupt file is refused, not drawn)
HEADER = struct.Struct("<8sBBBxIIIII")
RANGE = struct.Struct("<III")
SHAPE = struct.Struct("<BBBbb")

# --- PCF parsing -------------------------------------------------------------------------

PCF_MAGIC = b"\x01fcp"
PCF_PROPERTIES = 1 << 0
PCF_ACCELERATORS = 1 << 1
PCF_BDF_ACCELERATORS = 1 << 8
PCF_METRICS = 1 << 2
PCF_BITMAPS = 1 << 3
PCF_BDF_ENCODINGS = 1 << 5
PCF_COMPRESSED_METRICS = 0x100
PCF_BYTE_MSB = 1 << 2
PCF_BIT_MSB = 1 << 3


@dataclass(frozen=True)
class PcfGlyph:
    """One glyph as X11 describes it: ink box relative to the pen on the baseline."""

    advance: int
    left_bearing: int  # ink box left edge, from the pen
    ascent: int  # ink rows above the baseline
    pixels: np.ndarray  # ink box, bool, shape (height, width)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]


@dataclass
class PcfFont:
    path: Path
    properties: dict[str, object]
    ascent: int  # the font's line ascent/descent (X11 FONT_ASCENT / FONT_DESCENT)
    descent: int
    glyphs: dict[int, PcfGlyph]  # code point -> glyph


class _Table:
    """A PCF table: its own format word decides byte order of everything after it."""

    def __init__(self, data: bytes, offset: int):
        self.data = data
        (self.format,) = struct.unpack_from("<I", data, offset)  # the format word is always LSB first
        self.pos = offset + 4
        self.order = ">" if self.format & PCF_BYTE_MSB else "<"

    def read(self, fmt: str):
        values = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += struct.calcsize(self.order + fmt)
        return values if len(values) > 1 else values[0]

    def read_array(self, kind: str, count: int) -> np.ndarray:
        """count numbers of numpy kind ("u2", "i2", "u4") in the table's byte order."""
        dtype = np.dtype(self.order + kind)
        values = np.frombuffer(self.data, dtype, count, self.pos)
        self.pos += dtype.itemsize * count
        return values


def read_pcf(path: Path) -> PcfFont:
    """Parse a PCF font (optionally gzipped). Raises ValueError naming the file if it is not
    a usable PCF font."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    try:
        return _parse_pcf(path, raw)
    except (struct.error, IndexError, KeyError) as exc:  # tables pointing past the end
        raise ValueError(f"{path}: damaged PCF file ({exc})") from None
    except ValueError as exc:
        raise ValueError(str(exc) if str(path) in str(exc) else f"{path}: damaged PCF file ({exc})") from None


def _parse_pcf(path: Path, raw: bytes) -> PcfFont:
    if raw[:4] != PCF_MAGIC:
        raise ValueError(f"{path}: not a PCF font")
    (n_tables,) = struct.unpack_from("<I", raw, 4)
    toc = {}
    for i in range(n_tables):
        kind, _fmt, _size, offset = struct.unpack_from("<IIII", raw, 8 + 16 * i)
        toc[kind] = offset
    for needed in (PCF_PROPERTIES, PCF_METRICS, PCF_BITMAPS, PCF_BDF_ENCODINGS):
        if needed not in toc:
            raise ValueError(f"{path}: PCF table {needed:#x} missing")

    properties = _read_properties(_Table(raw, toc[PCF_PROPERTIES]))
    accelerators = toc.get(PCF_BDF_ACCELERATORS, toc.get(PCF_ACCELERATORS))
    if accelerators is None:
        raise ValueError(f"{path}: PCF accelerator table missing")
    ascent, descent = _read_line_metrics(_Table(raw, accelerators))
    charset = f"{properties.get('CHARSET_REGISTRY')}-{properties.get('CHARSET_ENCODING')}"
    # wenquanyi_12pt.pcf spells its registry "ISO10646-" (so "ISO10646--1"): same charset.
    # ISO8859-1 (8x16) codes are Unicode code points too, U+0000..U+00FF.
    if charset.upper().replace("--", "-") not in ("ISO10646-1", "ISO8859-1"):
        raise ValueError(f"{path}: charset {charset}, need ISO10646-1 (Unicode) or ISO8859-1")
    metrics = _read_metrics(_Table(raw, toc[PCF_METRICS]))
    bitmaps = _read_bitmaps(_Table(raw, toc[PCF_BITMAPS]), metrics)
    encoding = _read_encoding(_Table(raw, toc[PCF_BDF_ENCODINGS]))

    glyphs = {}
    for code, index in encoding.items():
        left, _right, advance, ascent, _descent = metrics[index]
        glyphs[code] = PcfGlyph(advance, left, ascent, bitmaps[index])
    return PcfFont(path, properties, ascent, descent, glyphs)


def _read_line_metrics(t: _Table) -> tuple[int, int]:
    t.pos += 8  # seven flag bytes and one pad byte
    ascent, descent = t.read("ii")
    return ascent, descent


def _read_properties(t: _Table) -> dict[str, object]:
    n = t.read("I")
    entries = [t.read("iBi") for _ in range(n)]
    t.pos += (4 - (n & 3)) & 3  # padded to a 4-byte boundary
    string_size = t.read("I")
    strings = t.data[t.pos : t.pos + string_size]

    def string_at(offset: int) -> str:
        return strings[offset : strings.index(b"\0", offset)].decode("latin-1")

    return {string_at(name): (string_at(value) if is_string else value) for name, is_string, value in entries}


def _read_metrics(t: _Table) -> list[tuple[int, int, int, int, int]]:
    """(left bearing, right bearing, advance, ascent, descent) per glyph index."""
    if t.format & PCF_COMPRESSED_METRICS:  # five bytes, each biased by 0x80
        n = t.read("H")
        values = np.frombuffer(t.data, np.uint8, n * 5, t.pos).reshape(n, 5).astype(int) - 0x80
    else:  # five i16 and an attributes u16
        n = t.read("I")
        values = t.read_array("i2", n * 6).reshape(n, 6)[:, :5]
    return [tuple(row) for row in values.tolist()]


def _read_bitmaps(t: _Table, metrics) -> list[np.ndarray]:
    n = t.read("I")
    offsets = t.read_array("u4", n).tolist()
    sizes = t.read_array("u4", 4).tolist()
    row_pad = 1 << (t.format & 3)
    scan_unit = 1 << ((t.format >> 4) & 3)
    data = np.frombuffer(t.data, np.uint8, sizes[t.format & 3], t.pos)
    bit_order = "big" if t.format & PCF_BIT_MSB else "little"
    # Multi-byte scan units stored in the other byte order must be swapped into bit order.
    swap_units = scan_unit > 1 and bool(t.format & PCF_BYTE_MSB) != (bit_order == "big")

    glyph_pixels = []
    for index in range(n):
        left, right, _advance, ascent, descent = metrics[index]
        width, height = right - left, ascent + descent
        stride = -(-((width + 7) // 8) // row_pad) * row_pad  # bytes per row, padded
        rows = data[offsets[index] : offsets[index] + stride * height].reshape(height, stride)
        if swap_units:
            rows = rows.reshape(height, -1, scan_unit)[:, :, ::-1].reshape(height, stride)
        pixels = np.unpackbits(rows, axis=1, bitorder=bit_order)[:, :width].astype(bool)
        glyph_pixels.append(pixels)
    return glyph_pixels


def _read_encoding(t: _Table) -> dict[int, int]:
    """code point -> glyph index (two-byte encoding: byte1 * 256 + byte2)."""
    min2, max2, min1, max1, _default = t.read("hhhhh")
    cols = max2 - min2 + 1
    indices = t.read_array("u2", (max1 - min1 + 1) * cols)
    present = np.flatnonzero(indices != 0xFFFF)  # 0xFFFF: no glyph for this code
    codes = ((present // cols + min1) << 8) | (present % cols + min2)
    return dict(zip(codes.tolist(), indices[present].tolist()))


# --- composing the atlas -----------------------------------------------------------------

# Code points taken from the half-width fixed face when it has them: Latin (incl. IPA and
# spacing modifiers), Greek and Cyrillic. WQY draws Greek/Cyrillic full-width (GB2312 style)
# and its Latin is proportional; the fixed cell keeps Latin text crisp and predictable.
FIXED_FACE_RANGES = ((0x0020, 0x02FF), (0x0370, 0x04FF))
# Never stored: C0/C1 controls and the Private Use Area (WQY has a few hundred PUA glyphs
# no text will ever address).
SKIPPED_RANGES = ((0x0000, 0x001F), (0x007F, 0x009F), (0xE000, 0xF8FF))

CJK_UNIFIED = (0x4E00, 0x9FFF)


@dataclass(frozen=True)
class AtlasSpec:
    name: str  # output file stem: fonts/<name>.bin
    pixel_size: int
    wqy_file: str
    fixed_file: str


SPECS = (
    AtlasSpec("wqy12", 12, "wenquanyi_9pt.pcf", "6x12.pcf.gz"),
    AtlasSpec("wqy16", 16, "wenquanyi_12pt.pcf", "8x16.pcf.gz"),
)


@dataclass(frozen=True)
class AtlasGlyph:
    advance: int
    x_offset: int  # ink box left, from the pen
    y_offset: int  # ink box top, from the top of the line box
    pixels: np.ndarray  # cropped ink box, bool (height, width)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        height, width = self.pixels.shape
        return (self.advance, width, height, self.x_offset, self.y_offset)


def _in_ranges(code: int, ranges) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


def choose_glyphs(wqy: PcfFont, fixed: PcfFont) -> dict[int, tuple[PcfFont, PcfGlyph]]:
    """code point -> (source font, glyph): the fixed face for Latin & co, WQY for the rest."""
    chosen = {}
    for code in sorted(set(wqy.glyphs) | set(fixed.glyphs)):
        if _in_ranges(code, SKIPPED_RANGES):
            continue
        prefer_fixed = _in_ranges(code, FIXED_FACE_RANGES)
        first, second = (fixed, wqy) if prefer_fixed else (wqy, fixed)
        source = first if code in first.glyphs else second
        chosen[code] = (source, source.glyphs[code])
    return chosen


def line_metrics(wqy: PcfFont) -> tuple[int, int]:
    """(ascent, line height) of a text line: room for the tallest glyph above the baseline
    (WQY's curly quotes sit one row above its declared ascent) and for the hanzi below it,
    which leaves one blank row between lines of hanzi."""
    ascent = max(g.ascent for g in wqy.glyphs.values() if g.height)
    ascent = min(ascent, wqy.ascent + 1)  # a stray tall glyph must not push every line apart
    cjk_descent = max(
        g.height - g.ascent for code, g in wqy.glyphs.items() if CJK_UNIFIED[0] <= code <= CJK_UNIFIED[1]
    )
    return ascent, ascent + cjk_descent


def crop(glyph: PcfGlyph, baseline: int, line_height: int) -> AtlasGlyph:
    """Cut blank rows/columns off the ink box and express it relative to the line top, the
    baseline being `baseline` rows below it. A glyph that would stick out of the line box
    (a few WQY symbols) is moved up or down just enough to fit: inverse-video bars one line
    high must not cut off its pixels."""
    pixels = glyph.pixels
    used_rows = np.flatnonzero(pixels.any(axis=1))
    if used_rows.size == 0:  # space-like glyph: advance only
        return AtlasGlyph(glyph.advance, 0, 0, np.zeros((0, 0), bool))
    used_cols = np.flatnonzero(pixels.any(axis=0))
    top, bottom, left, right = used_rows[0], used_rows[-1], used_cols[0], used_cols[-1]
    cropped = pixels[top : bottom + 1, left : right + 1]
    y_offset = baseline - glyph.ascent + int(top)
    y_offset = max(0, min(y_offset, line_height - cropped.shape[0]))
    return AtlasGlyph(glyph.advance, glyph.left_bearing + int(left), y_offset, cropped)


def pack_bits(pixels: np.ndarray) -> bytes:
    """Rows concatenated, 8 pixels a byte, MSB first, zero-padded to a whole byte."""
    return np.packbits(pixels.ravel()).tobytes()


def build_atlas(spec: AtlasSpec, fonts_dir: Path) -> bytes:
    wqy = read_pcf(fonts_dir / spec.wqy_file)
    fixed = read_pcf(fonts_dir / spec.fixed_file)
    ascent, line_height = line_metrics(wqy)
    # The fixed face's whole cell goes inside the line box: at 12 px its baseline sits one
    # row above WQY's so that descenders (g, j, p, q, y) stay inside the 12-row line.
    fixed_baseline = min(ascent, line_height - fixed.descent)
    glyphs = {
        code: crop(glyph, fixed_baseline if source is fixed else ascent, line_height)
        for code, (source, glyph) in choose_glyphs(wqy, fixed).items()
    }

    codes = sorted(glyphs)
    ranges = []  # runs of consecutive code points
    for index, code in enumerate(codes):
        if ranges and ranges[-1][0] + ranges[-1][1] == code:
            ranges[-1][1] += 1
        else:
            ranges.append([code, 1, index])

    shapes = sorted({g.shape for g in glyphs.values()})
    shape_index = {shape: i for i, shape in enumerate(shapes)}
    for shape in shapes:
        if not (0 <= shape[0] < 256 and 0 <= shape[1] < 256 and 0 <= shape[2] < 256):
            raise ValueError(f"glyph metrics {shape} do not fit the atlas format")
    bitmaps = b"".join(pack_bits(glyphs[code].pixels) for code in codes)

    payload = b"".join(
        [
            b"".join(RANGE.pack(*r) for r in ranges),
            b"".join(SHAPE.pack(*s) for s in shapes),
            struct.pack(f"<{len(codes)}H", *(shape_index[glyphs[c].shape] for c in codes)),
            bitmaps,
        ]
    )
    header = HEADER.pack(
        MAGIC, spec.pixel_size, ascent, line_height, len(ranges), len(shapes), len(codes), len(bitmaps),
        zlib.crc32(payload),
    )
    # Deflate saves ~30 %; inflating takes a few ms at load. Level 9 is deterministic.
    return header + zlib.compress(payload, 9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "fonts", help="output directory (default: fonts/)")
    parser.add_argument(
        "--fonts-dir", type=Path, default=Path("/usr/share/fonts/X11/misc"), help="where the Debian PCF fonts are"
    )
    args = parser.parse_args(argv)
    for spec in SPECS:
        for name in (spec.wqy_file, spec.fixed_file):
            if not (args.fonts_dir / name).is_file():
                print(
                    f"error: {args.fonts_dir / name} not found; install it: apt-get install xfonts-wqy xfonts-base",
                    file=sys.stderr,
                )
                return 1
    for spec in SPECS:
        try:
            atlas = build_atlas(spec, args.fonts_dir)
        except (ValueError, struct.error) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        out = args.out / f"{spec.name}.bin"
        atomic_write(out, atlas)
        out.chmod(0o644)  # mkstemp creates 0600; the atlas is data anyone may read
        _magic, size, ascent, line_height, _nr, _ns, n_glyphs, n_bitmap, _crc = HEADER.unpack_from(atlas)
        print(
            f"{out}: {len(atlas):,} bytes, {n_glyphs:,} glyphs ({n_bitmap:,} bitmap bytes before deflate), "
            f"{size} px, ascent {ascent}, line height {line_height}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
