"""The T9 letter layout and toneless-pinyin helpers shared by the build tool and the runtime.

Toneless pinyin is written in lowercase ASCII with `v` for u-umlaut (lv = 绿), as on every
phone keypad; `v` sits on key 8 with `u`.
"""

from __future__ import annotations

import unicodedata

KEY_LETTERS = {
    "2": "abc",
    "3": "def",
    "4": "ghi",
    "5": "jkl",
    "6": "mno",
    "7": "pqrs",
    "8": "tuv",
    "9": "wxyz",
}

LETTER_DIGIT = {letter: digit for digit, letters in KEY_LETTERS.items() for letter in letters}

# Key 1 separates syllables in pinyin mode ("xi'an" = 94 1 26).
SEPARATOR = "1"

COMBINING_DIAERESIS = "\u0308"


def letters_to_digits(letters: str) -> str:
    """'nihao' -> '64426'. Apostrophes (syllable marks) are dropped."""
    return "".join(LETTER_DIGIT[c] for c in letters if c != "'")


def toneless(marked: str) -> str:
    """'lǜ' -> 'lv', 'zhòng' -> 'zhong', 'ń' -> 'n' (strip tone marks, u-umlaut as v)."""
    decomposed = unicodedata.normalize("NFD", marked.lower())
    decomposed = decomposed.replace("u" + COMBINING_DIAERESIS, "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_hanzi(ch: str) -> bool:
    """CJK unified ideographs of the Basic Multilingual Plane (what the dictionary covers)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
