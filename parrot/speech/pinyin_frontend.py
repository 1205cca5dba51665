"""Chinese text -> toned pinyin syllables, the input both Mandarin voices need (pypinyin).

Phrases are read with pypinyin's phrase dictionary (so 银行 is yin2 hang2, 行走 xing2 zou3);
the neutral tone is 5, ü is v. Anything that is not a hanzi is kept as its own item so a
caller can pause at punctuation or hand latin words to another voice.
"""

from __future__ import annotations

from dataclasses import dataclass

from parrot.speech.speakable import speakable

PAUSE_MARKS = set("，。！？；：、,.!?;:…—")


@dataclass(frozen=True)
class Token:
    text: str  # one hanzi, or a run of other characters
    pinyin: str = ""  # 'zhong1' for a hanzi, '' otherwise

    @property
    def is_pause(self) -> bool:
        return not self.pinyin and any(c in PAUSE_MARKS for c in self.text)


def to_syllables(text: str) -> list[Token]:
    """'今天,好' -> [今 jin1, 天 tian1, ',', 好 hao3] (numbers and markdown made speakable first)."""
    from pypinyin import Style, pinyin  # the frontend's one dependency, imported when used

    text = speakable(text)
    other = "\x00"  # marks what pypinyin hands back unread (punctuation, latin, spaces)
    readings = pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: [other + s])
    out: list[Token] = []
    i = 0
    for (reading, *_) in readings:
        if reading.startswith(other):
            out.append(Token(reading[1:]))
            i += len(reading) - 1
        else:
            out.append(Token(text[i], reading))
            i += 1
    return out
