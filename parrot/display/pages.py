"""SSD1306-style page memory: 8 pages x 128 columns, one byte = 8 vertical pixels (LSB on top)."""

from __future__ import annotations

import numpy as np
from PIL import Image

_BIT_WEIGHTS = (1 << np.arange(8, dtype=np.uint8)).reshape(1, 8, 1)


def image_to_pages(image: Image.Image) -> np.ndarray:
    """A 1-bit image (W x H, H multiple of 8) -> uint8 array [H/8, W] in controller byte order."""
    pixels = np.asarray(image.convert("1"), dtype=np.uint8)  # [H, W] of 0/1
    h, w = pixels.shape
    rows = pixels.reshape(h // 8, 8, w)
    return (rows * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint16).astype(np.uint8)


def pages_to_image(pages: np.ndarray) -> Image.Image:
    n_pages, w = pages.shape
    bits = (pages[:, None, :] >> np.arange(8, dtype=np.uint8).reshape(1, 8, 1)) & 1
    return Image.fromarray((bits.reshape(n_pages * 8, w) * 255).astype(np.uint8), "L").convert("1")


def changed_spans(old: np.ndarray | None, new: np.ndarray) -> list[tuple[int, int, int]]:
    """(page, first_col, last_col) for every page whose bytes differ; all pages if old is None."""
    n_pages, w = new.shape
    if old is None:
        return [(p, 0, w - 1) for p in range(n_pages)]
    spans = []
    diff = old != new
    for p in np.flatnonzero(diff.any(axis=1)):
        cols = np.flatnonzero(diff[p])
        spans.append((int(p), int(cols[0]), int(cols[-1])))
    return spans
