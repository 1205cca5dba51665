"""Status icons as tiny bitmaps, drawn from readable ASCII art ('#' = lit)."""

from __future__ import annotations

from PIL import Image


def _bitmap(rows: str) -> Image.Image:
    lines = [r for r in rows.strip("\n").splitlines()]
    w = max(len(r) for r in lines)
    img = Image.new("1", (w, len(lines)), 0)
    for y, row in enumerate(lines):
        for x, c in enumerate(row):
            if c == "#":
                img.putpixel((x, y), 1)
    return img


ICONS = {
    "mic": _bitmap("""
..##..
.####.
.####.
.####.
#.##.#
.#..#.
..##..
..##..
"""),
    "speaker": _bitmap("""
...#..
..##.#
####..
####.#
####..
..##.#
...#..
"""),
    "speaking": _bitmap("""
...#...
..##.#.
####..#
####.##
####..#
..##.#.
...#...
"""),
    "busy": _bitmap("""
#######
.#...#.
..#.#..
...#...
..#.#..
.#.#.#.
#######
"""),
    "llm": _bitmap("""
.#####.
#.....#
#.#.#.#
#.....#
.#####.
...#...
..###..
"""),
}
