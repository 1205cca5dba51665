"""The seed project's T9 input, rebuilt on our key handling so both are measured alike.

Seed behaviour (pinyin mode): digits build one syllable; the candidates are the single
characters whose syllable maps to exactly those digits (every syllable that does), in
frequency order; nothing is shown until OK opens the list; 10 a page, # / * turn pages,
digit 1-9 / 0 picks the 1st-10th. No words, no prefixes, no association, no learning.
Punctuation only from the symbol picker (long-press 0). English, digits, the picker and
Ctrl+D are shared with InputSession unchanged.
"""

from __future__ import annotations

from parrot.ime.engine import Candidate, Kind
from parrot.ime.session import MOVE_KEYS, InputSession, ListKind, Outcome
from parrot.ime.symbols import PAGE_SIZE
from parrot.keys import Key


def single_characters(dictionary, digits: str) -> list[Candidate]:
    """Characters whose whole syllable is exactly these digits, most frequent first."""
    los, his = dictionary.exact_ranges([digits])
    found = []
    for i in range(int(los[0]), int(his[0])):
        if dictionary.nchars[i] == 1:
            found.append(Candidate(dictionary.word(i), len(digits), dictionary.reading(i), dictionary.reading(i),
                                   float(dictionary.logp[i]), Kind.WORD))
    found.sort(key=lambda c: -c.score)
    seen, unique = set(), []
    for c in found:  # one slot per character even when two readings share the digits
        if c.text not in seen:
            seen.add(c.text)
            unique.append(c)
    return unique


class BaselineSession(InputSession):
    def _pinyin_key(self, key: Key, now: float) -> Outcome:
        if self.ctrl_armed or key in (Key.B, Key.C):
            return super()._pinyin_key(key, now)
        if self._list_kind is ListKind.COMPOSE:
            return self._list_key(key)
        digit = key.digit
        if digit is not None and digit >= 2:
            self.digits += key.value
            return Outcome.CONSUMED
        if key is Key.D:
            if not self.digits:
                return Outcome.SUBMIT
            self._open_list()
            return Outcome.CONSUMED
        if key is Key.A:
            if self.digits:
                self.digits = self.digits[:-1]
                return Outcome.CONSUMED
            return self._delete()
        if key in MOVE_KEYS:
            self.editor.move(MOVE_KEYS[key])
        return Outcome.CONSUMED

    def _open_list(self) -> None:
        items = single_characters(self.engine.dict, self.digits)
        self._list_kind = ListKind.COMPOSE
        self._items = items
        self._pages = [list(range(i, min(i + PAGE_SIZE, len(items)))) for i in range(0, len(items), PAGE_SIZE)]
        self.page, self.candidate_index = 0, 0

    def _list_key(self, key: Key) -> Outcome:
        if key.digit is not None:
            slot = (key.digit - 1) % PAGE_SIZE
            if self._pages and slot < len(self._pages[self.page]):
                self.editor.insert(self.candidate_at(self.page, slot).text)
                self.digits = ""
                self._close_list()
        elif key in MOVE_KEYS and self._pages:
            self.page = (self.page + MOVE_KEYS[key]) % len(self._pages)
        elif key is Key.A:
            self._close_list()
        elif key is Key.D and self._pages:
            self.editor.insert(self.candidate_at(self.page, self.candidate_index or 0).text)
            self.digits = ""
            self._close_list()
        return Outcome.CONSUMED
