"""tools/build_font_atlas.py: reproducible output, clear errors on bad input."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PCF_DIR = Path("/usr/share/fonts/X11/misc")


def load_tool():
    spec = importlib.util.spec_from_file_location("build_font_atlas", REPO / "tools" / "build_font_atlas.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_rebuilding_reproduces_the_committed_12px_atlas():
    spec = next(s for s in tool.SPECS if s.pixel_size == 12)
    if not (PCF_DIR / spec.wqy_file).is_file() or not (PCF_DIR / spec.fixed_file).is_file():
        pytest.skip("Debian fonts not installed (apt-get install xfonts-wqy xfonts-base)")
    assert tool.build_atlas(spec, PCF_DIR) == (REPO / "fonts" / "wqy12.bin").read_bytes()


def test_missing_source_fonts_are_reported(tmp_path, capsys):
    assert tool.main(["--fonts-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "wenquanyi_9pt.pcf not found" in err and "apt-get install" in err
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_pcf_is_reported(tmp_path, capsys):
    for spec in tool.SPECS:
        (tmp_path / spec.wqy_file).write_bytes(b"not a font at all")
        (tmp_path / spec.fixed_file).write_bytes(b"not a font at all")
    assert tool.main(["--fonts-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "not a PCF font" in capsys.readouterr().err


def test_pack_bits_is_row_major_msb_first():
    import numpy as np

    pixels = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 1]], dtype=bool)  # 9 bits
    assert tool.pack_bits(pixels) == bytes([0b10111100, 0b10000000])


def test_a_truncated_pcf_is_reported(tmp_path):
    source = PCF_DIR / "wenquanyi_9pt.pcf"
    if not source.is_file():
        pytest.skip("Debian font xfonts-wqy not installed")
    damaged = tmp_path / "wenquanyi_9pt.pcf"
    damaged.write_bytes(source.read_bytes()[:300_000])
    with pytest.raises(ValueError, match="wenquanyi_9pt.pcf"):
        tool.read_pcf(damaged)
    gz = tmp_path / "6x12.pcf.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match="6x12.pcf.gz"):
        tool.read_pcf(gz)
