"""The committed glyph atlases: coverage, fidelity to the Debian PCF fonts, error handling."""

from __future__ import annotations

import random
import shutil
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from parrot.errors import UserError
from parrot.ui import font as font_mod
from parrot.ui.font import BitmapFont, load_font

FONTS = Path(__file__).resolve().parents[1] / "fonts"
PCF_DIR = Path("/usr/share/fonts/X11/misc")
# pixel size -> (WenQuanYi PCF, half-width fixed PCF) the atlas was built from
PCF_SOURCES = {12: ("wenquanyi_9pt.pcf", "6x12.pcf.gz"), 16: ("wenquanyi_12pt.pcf", "8x16.pcf.gz")}


def gb2312_hanzi() -> list[str]:
    """All 6,763 GB2312 hanzi (rows 16-87), enumerated through Python's codec."""
    chars = []
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # row 55 ends early
    return chars


@pytest.fixture(params=[12, 16])
def font(request) -> BitmapFont:
    return load_font(request.param)


# --- coverage --------------------------------------------------------------------------------


def test_gb2312_enumeration_is_complete():
    assert len(gb2312_hanzi()) == 6763


def test_every_cjk_unified_ideograph_is_covered(font):
    codes = font.codepoints()
    cjk = [c for c in codes if 0x4E00 <= c <= 0x9FFF]
    assert len(cjk) >= 20902
    assert all(font.has(chr(c)) for c in range(0x4E00, 0x9FA6))  # the Unicode 1.1 set, complete


def test_all_gb2312_hanzi_present(font):
    missing = [ch for ch in gb2312_hanzi() if not font.has(ch)]
    assert missing == []


def test_ascii_digits_and_punctuation(font):
    for code in range(0x20, 0x7F):
        assert font.has(chr(code)), hex(code)
        assert not font.is_wide(chr(code))
        assert font.glyph(chr(code)).advance == font.size // 2  # the fixed half-width cell
    for ch in "。，、；：？！…—“”‘’（）《》〈〉「」『』【】〔〕·～￥":
        assert font.has(ch), ch
    for code in range(0xFF01, 0xFF5F):  # full-width forms of ASCII
        assert font.has(chr(code)) and font.is_wide(chr(code)), hex(code)
    for ch in "←↑→↓─│┌┐└┘├┤┬┴┼■□▲△●○★☆":
        assert font.has(ch), ch


def test_hanzi_are_wide_cells(font):
    for ch in "中文你好龘鿥":
        g = font.glyph(ch)
        assert g.advance == font.size and font.is_wide(ch)
        assert 0 < g.width <= font.size and 0 < g.height <= font.line_height


def test_control_and_private_use_not_stored(font):
    assert not font.has("\n") and not font.has("\x7f") and not font.has("\ue000")


def test_codepoint_table_is_sorted_and_unique(font):
    codes = font.codepoints()
    assert len(codes) == font.glyph_count
    assert codes == sorted(set(codes))


# --- fidelity: our glyphs vs FreeType rendering the original PCF -----------------------------


def sample_chars(font: BitmapFont, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    codes = font.codepoints()
    hanzi = [chr(c) for c in codes if 0x3400 <= c <= 0x9FFF]
    others = [chr(c) for c in codes if not (0x3400 <= c <= 0x9FFF)]
    return rng.sample(hanzi, 300) + rng.sample(others, 300) + list("中。，“”…—A gjy{}|~é")


LINE_TOP = 8  # where the sample glyph's line box starts in the 48x48 test image


def render_ours(font: BitmapFont, ch: str) -> np.ndarray:
    image = Image.new("1", (48, 48), 0)
    font.draw(image, 8, LINE_TOP, ch)
    return np.array(image)


def render_freetype(face: ImageFont.FreeTypeFont, ch: str, baseline: int) -> np.ndarray:
    image = Image.new("1", (48, 48), 0)
    ImageDraw.Draw(image).text((8, baseline), ch, font=face, fill=1, anchor="ls")
    return np.array(image)


def same_glyph(ours: np.ndarray, theirs: np.ndarray, line_height: int) -> bool:
    """Pixel-identical; or, for a glyph the source draws sticking out of the line box, the same
    ink moved vertically (only) into the box, as the atlas builder does."""
    if np.array_equal(ours, theirs):
        return True
    rows = np.flatnonzero(theirs.any(axis=1))
    if rows.size == 0 or (rows[0] >= LINE_TOP and rows[-1] < LINE_TOP + line_height):
        return False  # it fitted: no reason to have moved
    our_rows = np.flatnonzero(ours.any(axis=1))
    if our_rows.size == 0:
        return False
    shifted = np.roll(theirs, our_rows[0] - rows[0], axis=0)
    fits = our_rows[0] >= LINE_TOP and (our_rows[-1] < LINE_TOP + line_height or our_rows[0] == LINE_TOP)
    return fits and np.array_equal(ours, shifted)


@pytest.mark.parametrize("size", [12, 16])
def test_glyphs_match_freetype_rendering_of_the_pcf(size):
    """Each sampled glyph is pixel-identical to FreeType's rendering of the source PCF, with
    the same advance: WQY's baseline at `ascent` below the line top, the fixed face's cell
    inside the line box. Hanzi must come from WQY, ASCII and Latin-1 from the fixed face;
    anything else from whichever of the two has it."""
    wqy_name, fixed_name = PCF_SOURCES[size]
    if not (PCF_DIR / wqy_name).is_file() or not (PCF_DIR / fixed_name).is_file():
        pytest.skip(f"Debian fonts not installed ({PCF_DIR / wqy_name}, {PCF_DIR / fixed_name}); "
                    "the committed atlas is checked by the other tests. apt-get install xfonts-wqy xfonts-base")
    font = load_font(size)
    # BASIC layout: no shaping (raqm would add a dotted circle under a lone combining mark).
    wqy = ImageFont.truetype(str(PCF_DIR / wqy_name), size, layout_engine=ImageFont.Layout.BASIC)
    fixed = ImageFont.truetype(str(PCF_DIR / fixed_name), size, layout_engine=ImageFont.Layout.BASIC)
    _fixed_ascent, fixed_descent = fixed.getmetrics()
    baselines = {
        "wqy": LINE_TOP + font.ascent,
        "fixed": LINE_TOP + min(font.ascent, font.line_height - fixed_descent),
    }
    for ch in sample_chars(font):
        code = ord(ch)
        if 0x3400 <= code <= 0x9FFF:
            candidates = {"wqy": wqy}
        elif 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
            candidates = {"fixed": fixed}
        else:
            candidates = {"wqy": wqy, "fixed": fixed}
        ours = render_ours(font, ch)
        matches = [
            name for name, face in candidates.items()
            if face.getlength(ch) == font.glyph(ch).advance
            and same_glyph(ours, render_freetype(face, ch, baselines[name]), font.line_height)
        ]
        assert matches, f"{ch!r} U+{code:04X} matches none of {list(candidates)}"


def test_glyphs_stay_inside_the_line_box(font):
    """Descenders and accents must not leave the line: an inverse-video bar one line high
    (title bar, selection) would cut them off. Only glyphs taller than a line may."""
    outside = []
    for code in font.codepoints():
        _advance, width, height, _x, y = font.metrics(chr(code))
        if height and (y < 0 or y + height > font.line_height):
            if not (height > font.line_height and y == 0):
                outside.append(chr(code))
    assert outside == []
    assert font.metrics("中") == tuple(getattr(font.glyph("中"), k) for k in
                                      ("advance", "width", "height", "x_offset", "y_offset"))
    assert font.metrics("\U00020000") is None
    for ch in "gjpqy中“”，À":
        g = font.glyph(ch)
        assert 0 <= g.y_offset and g.y_offset + g.height <= font.line_height, ch


# --- missing glyphs, drawing -----------------------------------------------------------------


def test_missing_glyph_is_a_box_never_an_error(font):
    for ch, wide in (("\U00020000", True), ("\U0001F600", True), ("\u0e01", False), ("\u0905", False)):
        assert not font.has(ch)
        g = font.glyph(ch)
        assert font.is_wide(ch) is wide
        assert g.advance == (font.size if wide else font.size // 2)
        pixels = np.array(g.image)
        assert pixels[0].all() and pixels[-1].all() and pixels[:, 0].all() and pixels[:, -1].all()
        assert not pixels[1:-1, 1:-1].any()  # hollow
    assert font.text_width("\U00020000a") == font.size + font.size // 2


def test_control_characters_draw_nothing(font):
    image = Image.new("1", (64, 32))
    assert font.draw(image, 0, 0, "\t\r") == 0
    assert not np.array(image).any()


def test_text_width_and_draw_agree(font):
    text = "Hi 你好，world！"
    expected = sum(font.glyph(ch).advance for ch in text)
    assert font.text_width(text) == expected
    image = Image.new("1", (256, 32))
    assert font.draw(image, 5, 0, text) == 5 + expected
    columns = np.nonzero(np.array(image).any(axis=0))[0]
    assert columns[0] >= 5 and columns[-1] < 5 + expected


def test_draw_fill_zero_erases(font):
    image = Image.new("1", (64, 32), 1)
    font.draw(image, 0, 0, "中", fill=0)
    pixels = np.array(image)
    assert (~pixels).sum() == np.array(font.glyph("中").image).sum()


@pytest.mark.parametrize("x,y", [(-5, 0), (0, -4), (120, 0), (0, 58), (-30, -30), (200, 0), (0, 100)])
def test_draw_clips_at_image_edges(x, y):
    font = load_font(12)
    text = "中文Ag，"
    # Reference: draw on a big canvas, then cut out the window the small image sees.
    pad = 64
    big = Image.new("1", (128 + 2 * pad, 64 + 2 * pad))
    font.draw(big, x + pad, y + pad, text)
    small = Image.new("1", (128, 64))
    font.draw(small, x, y, text)
    assert np.array_equal(np.array(small), np.array(big)[pad : pad + 64, pad : pad + 128])


def test_full_screen_of_hanzi_draws_fast():
    font = load_font(12)
    hanzi = gb2312_hanzi()
    lines = ["".join(hanzi[i * 10 + j] for j in range(10)) for i in range(5)]
    screen = Image.new("1", (128, 64))
    for line in lines:  # warm the glyph cache, as a running UI would have
        font.text_width(line)
        font.draw(screen, 0, 0, line)
    rounds = 50
    start = time.perf_counter()
    for _ in range(rounds):
        screen.paste(0, (0, 0, 128, 64))
        for i, line in enumerate(lines):
            font.draw(screen, 0, 4 + i * font.line_height, line)
    per_screen_ms = (time.perf_counter() - start) / rounds * 1000
    assert np.array(screen).sum() > 1000
    assert per_screen_ms < 10, per_screen_ms  # measured ~0.3 ms; generous for a loaded 2-core box


def test_geometry_fits_five_lines_on_the_oled():
    font = load_font(12)
    assert (font.size, font.ascent, font.line_height) == (12, 11, 12)
    assert 5 * font.line_height <= 64


# --- locating and validating atlas files -----------------------------------------------------


def test_font_dir_override(tmp_path, monkeypatch):
    shutil.copy(FONTS / "wqy12.bin", tmp_path / "wqy12.bin")
    monkeypatch.setenv("PARROT_FONT_DIR", str(tmp_path))
    font = load_font(12)
    assert font.source == str((tmp_path / "wqy12.bin").resolve())
    assert load_font(12) is font  # cached
    with pytest.raises(UserError, match="wqy16.bin not found"):
        load_font(16)  # an explicit directory is the only place looked


def test_unknown_size_is_a_user_error():
    with pytest.raises(UserError, match="wqy13.bin"):
        load_font(13)


def corruptions(data: bytes) -> dict[str, bytes]:
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    bad_count = bytearray(data)
    bad_count[28] ^= 0x01  # a header count (n_glyphs) off by one
    return {
        "empty": b"",
        "bad magic": b"XXXXXXXX" + data[8:],
        "truncated header": data[:20],
        "truncated payload": data[: len(data) - 1000],
        "flipped payload byte": bytes(flipped),
        "wrong header count": bytes(bad_count),
        "text file": b"hello, this is not a font\n" * 10,
    }


@pytest.mark.parametrize("kind", list(corruptions(b"\0" * 64)))
def test_corrupt_atlas_is_a_user_error_naming_the_file(kind, tmp_path, monkeypatch):
    data = (FONTS / "wqy12.bin").read_bytes()
    bad = tmp_path / "wqy12.bin"
    bad.write_bytes(corruptions(data)[kind])
    monkeypatch.setenv("PARROT_FONT_DIR", str(tmp_path))
    with pytest.raises(UserError, match="wqy12.bin"):
        load_font(12)


def test_unreadable_atlas_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no-such.bin"):
        BitmapFont.from_file(tmp_path / "no-such.bin")


def test_default_search_path_finds_repo_fonts(monkeypatch):
    monkeypatch.delenv("PARROT_FONT_DIR", raising=False)
    assert font_mod.font_dirs()[0] == FONTS
    assert load_font(12).source == str(FONTS / "wqy12.bin")


def test_wide_classification_follows_unicode_for_hanzi_and_ascii(font):
    for ch in "中。，？！":
        assert unicodedata.east_asian_width(ch) in "WF" and font.is_wide(ch)
    for ch in "a,.?!":
        assert not font.is_wide(ch)


def test_atlas_of_another_size_is_refused(tmp_path, monkeypatch):
    shutil.copy(FONTS / "wqy16.bin", tmp_path / "wqy12.bin")
    monkeypatch.setenv("PARROT_FONT_DIR", str(tmp_path))
    with pytest.raises(UserError, match="16 px font, not 12 px"):
        load_font(12)


def test_inconsistent_tables_are_refused_even_with_a_valid_checksum():
    import struct
    import zlib

    data = (FONTS / "wqy12.bin").read_bytes()
    header = font_mod._HEADER
    fields = list(header.unpack_from(data))
    payload = bytearray(zlib.decompress(data[header.size:]))
    payload[8:12] = struct.pack("<I", 5)  # first range's first glyph index: should be 0
    fields[-1] = zlib.crc32(payload)
    forged = header.pack(*fields) + zlib.compress(bytes(payload))
    with pytest.raises(UserError, match="inconsistent"):
        BitmapFont(forged, "forged.bin")


def test_glyph_and_width_caches_stay_bounded_and_drawing_stays_the_same():
    """Every hanzi an answer ever showed stayed cached (~1 KB each, up to 33 MB): bounded now."""
    from parrot.ui import font as font_module

    shared = load_font(12)
    fresh = BitmapFont.from_file(shared.source)
    text = "鹦鹉说：你好，今天天气不错…"
    before = Image.new("1", (128, 12))
    fresh.draw(before, 0, 0, text)
    chars = [chr(c) for c in fresh.codepoints()[::3]] + [chr(0x10FFFF - i) for i in range(500)]  # and unknown ones
    for ch in chars:
        assert fresh.advance(ch) == fresh.glyph(ch).advance, ch  # widths without images agree with the glyphs
        fresh.draw(Image.new("1", (16, 16)), 0, 0, ch)
    assert len(fresh._glyphs) <= font_module.GLYPH_CACHE and len(fresh._advances) <= font_module.ADVANCE_CACHE
    after = Image.new("1", (128, 12))
    fresh.draw(after, 0, 0, text)
    assert before.tobytes() == after.tobytes() and fresh.text_width(text) == shared.text_width(text)
