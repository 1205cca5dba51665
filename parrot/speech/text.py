"""Text helpers for recognised speech: traditional -> simplified, and character error rate."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from parrot.textdiff import edit_distance

_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Whisper often writes Mandarin in traditional characters; the appliance shows simplified."""
    return _t2s().convert(text) if text else text


def normalize_for_cer(text: str) -> str:
    """Characters that count for CER: no punctuation or spaces, digits read one by one
    (12线 == 一二线), lower case."""
    text = to_simplified(text).translate(_DIGITS).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")



def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of one hypothesis (edits / reference characters, normalized)."""
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))
