"""Text made speakable: markdown stripped, numbers read out in Chinese. Pure functions.

A voice reads characters; an LLM answer holds `**bold**`, list markers, `3.5`, `50%`,
`2024年`. These become 三点五, 百分之五十, 二零二四年. English pieces keep their digits (an
English voice reads them itself).
"""

from __future__ import annotations

import re

_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

CJK = re.compile(r"[\u3400-\u9fff]")


def read_digits(digits: str) -> str:
    """'2024' -> 二零二四 (years, phone numbers, decimals)."""
    return "".join(_DIGITS[int(d)] for d in digits)


def _four(n: int) -> str:
    """0 < n < 10000 -> 三千零五 (no leading 零)."""
    out, zero = [], False
    for power in (3, 2, 1, 0):
        d = n // 10**power % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[d] + _SMALL_UNITS[power])
    return "".join(out)


def read_integer(n: int) -> str:
    """123 -> 一百二十三, 10 -> 十, 10086 -> 一万零八十六, -5 -> 负五."""
    if n < 0:
        return "负" + read_integer(-n)
    if n == 0:
        return "零"
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_BIG_UNITS):
        return read_digits(str(n))
    out: list[str] = []
    need_zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_four(g) + _BIG_UNITS[i])
        need_zero = False
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text  # 十五, not 一十五


def read_number(text: str) -> str:
    """A number as written ('3.5', '1,000', '-2', '007') -> how it is said in Chinese."""
    sign = ""
    if text[0] in "-−":
        sign, text = "负", text[1:]
    text = text.replace(",", "")
    whole, _, frac = text.partition(".")
    if len(whole) > 1 and whole.startswith("0") or len(whole) > 12:
        spoken = read_digits(whole)  # codes, phone numbers
    else:
        spoken = read_integer(int(whole or "0"))
    if frac:
        spoken += "点" + read_digits(frac)
    return sign + spoken


# Order matters: the specific shapes (years, percentages, fractions, times) before plain numbers.
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_ZH_NUMBER_RULES: tuple[tuple[re.Pattern, object], ...] = (
    (re.compile(r"(\d{4})(?=年)"), lambda m: read_digits(m[1])),
    (re.compile(rf"(-?{_NUM})\s*%"), lambda m: "百分之" + read_number(m[1])),
    (re.compile(r"(\d+)/(\d+)"), lambda m: read_number(m[2]) + "分之" + read_number(m[1])),
    (re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)"), lambda m: read_number(m[1]) + "点" + (read_number(m[2]) + "分" if m[2] != "00" else "")),
    (re.compile(r"(\d+)\s*°C"), lambda m: read_number(m[1]) + "摄氏度"),
    (re.compile(rf"(?<![\d.])-(?={_NUM})"), lambda m: "负"),
    (re.compile(_NUM), lambda m: read_number(m[0])),
)
_ZH_SYMBOLS = {"+": "加", "=": "等于", "×": "乘", "÷": "除以", "~": "到", "&": "和", "@": " at "}


def numbers_to_zh(text: str) -> str:
    for pattern, spoken in _ZH_NUMBER_RULES:
        text = pattern.sub(spoken, text)
    return text


_LINE_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•]\s+|\d{1,3}[.)、]\s+|>\s*)+")
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|__|~~|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"[ \t\u3000]+")


def strip_markdown(text: str, *, at_line_start: bool = True) -> str:
    """What a reader would say: no code blocks, markers, links' targets, tables' bars."""
    text = _CODE_FENCE.sub(" ", text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i or at_line_start:
            line = _LINE_MARKER.sub("", line)
        if set(line.strip()) <= set("|-: "):  # a table's rule line or a horizontal rule
            line = ""
        elif "|" in line:  # a table row: its cells, with a pause between
            line = "，".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        lines[i] = line
    text = "\n".join(lines)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = text.replace("`", "")
    text = _EMPHASIS.sub("", text)
    return text


def speakable(text: str, *, at_line_start: bool = True) -> str:
    """Markdown stripped; in a piece with Chinese, numbers and symbols said in Chinese."""
    text = strip_markdown(text, at_line_start=at_line_start)
    if CJK.search(text):
        text = numbers_to_zh(text)
        text = "".join(_ZH_SYMBOLS.get(c, c) for c in text)
    text = _SPACES.sub(" ", text.replace("\n", " "))
    return text.strip(" ，,、;；:：")
