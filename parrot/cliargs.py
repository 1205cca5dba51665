"""Bounded argument types for every `parrot` command, and UTF-8 text/file readers.

Each number on the command line has a range, so a typo (`--ctx 99999999999999999999`,
`--width 0`, `--battery nan`) is a one-line argparse error naming the value, never an
OverflowError or MemoryError deep inside. Text must be valid UTF-8: Python hands undecodable
argv/stdin bytes over as lone surrogates, which would only fail later when encoded.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable

from parrot.errors import UserError

INT32_MAX = 2**31 - 1  # what the C core's `int` parameters hold


def _describe(lo, hi) -> str:
    if hi is None:
        return f">= {lo}"
    return f"from {lo} to {hi}"


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer (decimal, or 0x.. when it starts so) in [lo, hi]."""

    def parse(text: str) -> int:
        try:
            value = int(text, 0) if text.strip().lower().startswith(("0x", "-0x")) else int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text!r} is out of range (a whole number {_describe(lo, hi)})")
        return value

    parse.__name__ = "int"  # argparse names the type in its own messages
    return parse


def float_range(lo: float, hi: float, *, lo_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in [lo, hi] ((lo, hi] with lo_open)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        below = value <= lo if lo_open else value < lo
        if not math.isfinite(value) or below or value > hi:
            lo_word = f"above {lo}" if lo_open else f"from {lo}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range (a finite number {lo_word} to {hi})")
        return value

    parse.__name__ = "float"
    return parse


def check_utf8(text: str, what: str) -> str:
    """text unchanged if it encodes as UTF-8, else a UserError naming `what` and the bad byte."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start]
        byte = f"byte 0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF else f"character U+{ord(bad):04X}"
        raise UserError(f"{what} is not valid UTF-8 ({byte} at character {e.start})") from None
    return text


def utf8_text(text: str) -> str:
    """An argparse type for free text (a prompt, a key sequence): valid UTF-8 only."""
    try:
        return check_utf8(text, "the text")
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def read_utf8_file(path: str | os.PathLike, what: str = "file") -> str:
    """The file's text; a file that is not UTF-8 is a UserError naming it and the offset."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: {what} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


def utf8_file(text: str) -> str:
    """An argparse type for a text file argument: it must be readable UTF-8 (the path is returned)."""
    try:
        read_utf8_file(text, "the file")
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text}: {e.strerror or e}") from None
    return text


def percent_or_none(text: str) -> str:
    """An argparse type for a simulated battery: 'none', or a finite percent from 0 to 100 (as given)."""
    if text != "none":
        float_range(0, 100)(text)
    return text
