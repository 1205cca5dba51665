"""The input method's state machine: key events in, editor changes and drawable state out.

See parrot/ime/README.md for the key map. Every handled key updates the read-only state
(`mode`, `digits`, `splits`, `candidates`, ...) synchronously; the only I/O is the user
dictionary's save, which the app performs off the key path when `pending_save` is set.
"""

from __future__ import annotations

import enum

from parrot.events import KeyEvent
from parrot.ime.dictionary import Dictionary, UserDictionary
from parrot.ime.editor import Editor
from parrot.ime.engine import RESULT_LIMIT, Candidate, Engine, Kind, parse_keys
from parrot.ime.symbols import QUICK_PUNCTUATION, SymbolPicker
from parrot.ime.t9 import SEPARATOR
from parrot.keys import Key, KeyAction


class Outcome(enum.Enum):
    CONSUMED = "consumed"
    SUBMIT = "submit"  # OK with nothing composing: the screen sends the text
    BACK = "back"  # delete with nothing composing and an empty editor: leave the screen
    IGNORED = "ignored"  # not ours: the screen may use it


class Mode(enum.Enum):
    PINYIN = "pinyin"
    ENGLISH = "english"
    DIGITS = "digits"


class Focus(enum.Enum):
    CANDIDATES = "candidates"  # * # move the highlight, OK picks
    SPLITS = "splits"  # * # choose the pinyin split that narrows the candidates
    TEXT = "text"  # nothing composing: * # move the cursor


class ListKind(enum.Enum):
    NONE = "none"
    COMPOSE = "compose"  # candidates for the pending digits
    ASSOCIATION = "association"  # 联想 after a commit


# Modes in the order B cycles through them: (mode, uppercase letters).
MODE_CYCLE = [(Mode.PINYIN, False), (Mode.ENGLISH, False), (Mode.ENGLISH, True), (Mode.DIGITS, False)]

MULTITAP_LETTERS = {
    "1": ".,?!'-@1",
    "2": "abc2", "3": "def3", "4": "ghi4", "5": "jkl5",
    "6": "mno6", "7": "pqrs7", "8": "tuv8", "9": "wxyz9",
    "0": " 0",
}
# Key 1 with nothing composing in pinyin mode cycles through punctuation the same way.
PUNCTUATION_TAP = QUICK_PUNCTUATION
PUNCTUATION_TAP_KEY = "1p"
MULTITAP_TIMEOUT_S = 1.0
MAX_PENDING_DIGITS = 24  # about 6-8 syllables; the candidate bar cannot show more anyway
# The candidate bar: a page is what fits in one row of the display. Each candidate is drawn
# as its number then its text ("1你好"), plus ITEM_PAD_PX of frame and gap. The screen can
# pass its font's measure; the default is a 12-px CJK font with 6-px digits on 128 px, where
# single characters fit 6 a page and two-character words 3. Ctrl+1..9 pick them.
BAR_WIDTH_PX = 128
WIDE_GLYPH_PX = 12
NARROW_GLYPH_PX = 6
ITEM_PAD_PX = 3
MAX_PAGE_ITEMS = 9
MAX_LEARNED_WORD = 8  # characters: longer compositions are sentences, not words
ASSOCIATION_CONTEXT = 3  # characters before the cursor that association looks at
NEWLINE = "\n"

# Keys whose short press acts on release because their long press means something else.
LONG_PRESS_KEYS = {Key.A, Key.K0}
MOVE_KEYS = {Key.STAR: -1, Key.HASH: +1}
QUIET_ACTIONS = {KeyAction.PRESS, KeyAction.RELEASE, KeyAction.LONG_RELEASE}


def default_measure(text: str) -> int:
    """Pixel width of text in a 12-px font: CJK and full-width glyphs 12, the rest 6."""
    return sum(WIDE_GLYPH_PX if ord(c) >= 0x2E80 else NARROW_GLYPH_PX for c in text)


def layout_pages(texts: list[str], measure=default_measure, bar_width_px: int = BAR_WIDTH_PX) -> list[list[int]]:
    """Split candidates into pages that fit the candidate bar (indices into texts)."""
    pages: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i, text in enumerate(texts):
        item = measure(f"{len(current) + 1}{text}") + ITEM_PAD_PX
        if current and (len(current) >= MAX_PAGE_ITEMS or width + item > bar_width_px):
            pages.append(current)
            current, width = [], 0
            item = measure(f"1{text}") + ITEM_PAD_PX
        current.append(i)
        width += item
    if current:
        pages.append(current)
    return pages


class InputSession:
    def __init__(self, editor: Editor, dictionary: Dictionary | Engine, user_dict: UserDictionary | None = None,
                 *, measure=default_measure, bar_width_px: int = BAR_WIDTH_PX):
        """measure(text) -> pixels and bar_width_px: how the screen draws the candidate row
        (a page holds what fits, so Ctrl+N always names a visible candidate)."""
        self.editor = editor
        self.measure = measure
        self.bar_width_px = bar_width_px
        self.engine = dictionary if isinstance(dictionary, Engine) else Engine(dictionary, user_dict)
        self.user_dict = self.engine.user
        self._mode_index = 0
        self.digits = ""
        self.ctrl_armed = False  # C was pressed: the next digit picks candidate N
        self.focus = Focus.TEXT
        self.symbol_picker: SymbolPicker | None = None
        self.multitap: tuple[str, float] | None = None
        self._multitap_key: str | None = None
        self._multitap_step = 0
        self._list_kind = ListKind.NONE
        self._items: list[Candidate] = []
        self._pages: list[list[int]] = []
        self._limit = RESULT_LIMIT
        self._exhausted = False
        self.page = 0
        self.candidate_index: int | None = None
        self._split_tuples: list[tuple[str, ...]] = []
        self.split_index: int | None = None
        self._composed: list[Candidate] = []  # picks since the composition began (for learning)
        self._last_word = ""  # the previous pick, for learned association
        self._last_pick: Candidate | None = None  # with its reading: context for ranking
        self.keys_handled = 0  # key events so far: a background re-rank applies only if none came since

    # -- drawable state ----------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return MODE_CYCLE[self._mode_index][0]

    @property
    def uppercase(self) -> bool:
        return MODE_CYCLE[self._mode_index][1]

    @property
    def association(self) -> bool:
        return self._list_kind is ListKind.ASSOCIATION

    @property
    def list_kind(self) -> ListKind:
        return self._list_kind

    @property
    def composing(self) -> bool:
        return bool(self.digits) or self.multitap is not None

    @property
    def splits(self) -> list[str]:
        return ["'".join(s) for s in self._split_tuples]

    @property
    def candidates(self) -> list[str]:
        return [self._items[i].text for i in self._pages[self.page]] if self._pages else []

    @property
    def page_count(self) -> int:
        return len(self._pages)

    @property
    def pending_save(self) -> bool:
        return self.user_dict.pending_save

    def save(self) -> None:
        """Persist the user dictionary (call from a worker, not the key path)."""
        self.user_dict.save()

    def layout(self, texts: list[str]) -> list[list[int]]:
        return layout_pages(texts, self.measure, self.bar_width_px)

    def all_pages(self) -> list[list[str]]:
        """Every page of the current list (what paging would show)."""
        return [[self._items[i].text for i in page] for page in self._pages]

    def candidate_at(self, page: int, index: int) -> Candidate:
        return self._items[self._pages[page][index]]

    # -- background re-ranking (rerank.py) ------------------------------------------------------
    def rerank_job(self) -> tuple[int, str, list[Candidate]] | None:
        """(keys handled, the digits, the candidates shown) for an idle re-ranker
        (rerank.Reranker) to work on in the background; None when nothing is composed or the
        user chose a pinyin split (the list is narrowed to it)."""
        if self._list_kind is not ListKind.COMPOSE or len(self._items) < 2 or self.split_index is not None:
            return None
        return self.keys_handled, self.digits, list(self._items)

    def apply_rerank(self, job_keys: int, items: list[Candidate]) -> bool:
        """Shows the list a rerank_job() became if no key came since (else the user is already
        looking at something else: dropped). True if shown."""
        if job_keys != self.keys_handled or self._list_kind is not ListKind.COMPOSE or not items:
            return False
        page, index = self.page, self.candidate_index
        self._show_list(ListKind.COMPOSE, items)
        self.page = min(page, len(self._pages) - 1)
        self.candidate_index = index if index is None or index < len(self._pages[self.page]) else 0
        return True

    # -- events ------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Commit a multi-tap letter once its timeout has passed."""
        if self.multitap is not None and now >= self.multitap[1]:
            self._commit_multitap()

    def handle(self, event: KeyEvent, now: float) -> Outcome:
        self.keys_handled += 1
        self.tick(now)
        press = self._classify(event)
        if press is None:
            # Releases and presses that act later (A, 0) are ours; other long presses and
            # repeats are left to the screen.
            return Outcome.CONSUMED if event.action in QUIET_ACTIONS else Outcome.IGNORED
        key, long = press
        if self.symbol_picker is not None:
            return self._picker_key(key, long)
        if self.multitap is not None and not self._continues_multitap(key, long):
            if key is Key.A and not long:
                self.multitap = None  # A takes back the letter still cycling
                return Outcome.CONSUMED
            self._commit_multitap()
        if long:
            return self._long_press(key)
        if self.mode is Mode.PINYIN:
            return self._pinyin_key(key, now)
        return self._typing_key(key, now)

    def _continues_multitap(self, key: Key, long: bool) -> bool:
        label = PUNCTUATION_TAP_KEY if self.mode is Mode.PINYIN and key is Key.K1 else key.value
        return not long and not self.ctrl_armed and label == self._multitap_key

    def _classify(self, event: KeyEvent) -> tuple[Key, bool] | None:
        """(key, is_long) when the event is a press to act on, else None."""
        key, action = event.key, event.action
        if key in LONG_PRESS_KEYS:
            if action is KeyAction.RELEASE:
                return key, False
            if action is KeyAction.LONG:
                return key, True
            return None
        if action is KeyAction.PRESS or (action is KeyAction.REPEAT and key in MOVE_KEYS):
            return key, False
        return None

    # -- keys common to all modes -------------------------------------------------------------
    def _long_press(self, key: Key) -> Outcome:
        if key is Key.K0:
            self._commit_multitap()
            self.symbol_picker = SymbolPicker()
            return Outcome.CONSUMED
        # Long A: clear what is composing, else the whole text.
        self.ctrl_armed = False
        if self.digits or self.multitap is not None:
            self.multitap = None
            self._set_digits("")
            return Outcome.CONSUMED
        self._close_list()
        if not self.editor.text:
            return Outcome.BACK
        self.editor.clear()
        return Outcome.CONSUMED

    def _picker_key(self, key: Key, long: bool) -> Outcome:
        picker = self.symbol_picker
        if key is Key.A or (long and key is Key.K0):
            self.symbol_picker = None
        elif key in MOVE_KEYS:
            picker.move(MOVE_KEYS[key])
        elif key is Key.C:
            picker.next_page()
        elif key is Key.D:
            self._insert_symbol(picker.highlighted())
        elif key.digit is not None:
            symbol = picker.item_for_digit(key.digit)
            if symbol is not None:
                self._insert_symbol(symbol)
        return Outcome.CONSUMED

    def _insert_symbol(self, symbol: str) -> None:
        self.symbol_picker = None
        self._insert(symbol)
        self._last_word = ""
        if not self.digits:
            self._close_list()

    def _cycle_mode(self) -> None:
        self._commit_multitap()
        self._set_digits("")
        self._close_list()
        self._mode_index = (self._mode_index + 1) % len(MODE_CYCLE)

    def _delete(self) -> Outcome:
        """Short A with nothing composing: delete left of the cursor, or leave if empty."""
        self._close_list()
        self._last_word = ""
        if not self.editor.text:
            return Outcome.BACK
        self.editor.backspace()
        return Outcome.CONSUMED

    def _insert(self, text: str) -> None:
        self.editor.insert(text)

    # -- pinyin mode --------------------------------------------------------------------------
    def _pinyin_key(self, key: Key, now: float) -> Outcome:
        if self.ctrl_armed:
            return self._ctrl_key(key)
        if self.focus is Focus.SPLITS:
            return self._split_key(key)
        digit = key.digit
        if digit is not None and digit >= 2:
            if len(parse_keys(self.digits)[0]) < MAX_PENDING_DIGITS:
                self._set_digits(self.digits + key.value)
            return Outcome.CONSUMED
        if key is Key.K1:
            if self.digits:
                if not self.digits.endswith(SEPARATOR):
                    self._set_digits(self.digits + SEPARATOR)
            else:
                self._close_list()
                self._last_word = ""
                self._multitap_press(PUNCTUATION_TAP_KEY, now)
            return Outcome.CONSUMED
        if key is Key.K0:
            if self._pages:
                self._turn_page(+1)
            return Outcome.CONSUMED
        if key in MOVE_KEYS:
            return self._move(MOVE_KEYS[key])
        if key is Key.D:
            if self._list_kind is ListKind.COMPOSE and self._pages:
                self._pick(self.page, self.candidate_index or 0)
                return Outcome.CONSUMED
            self._close_list()
            return Outcome.SUBMIT
        if key is Key.C:
            self.ctrl_armed = True
            return Outcome.CONSUMED
        if key is Key.B:
            self._cycle_mode()
            return Outcome.CONSUMED
        if key is Key.A:
            if self.digits:
                self._set_digits(self.digits[:-1])
                return Outcome.CONSUMED
            return self._delete()
        return Outcome.IGNORED

    def _ctrl_key(self, key: Key) -> Outcome:
        """C was pressed before this key."""
        self.ctrl_armed = False
        digit = key.digit
        if digit is not None and digit >= 1 and self._pages:
            slot = digit - 1
            if slot < len(self._pages[self.page]):
                self._pick(self.page, slot)
        elif key is Key.C and self.digits:
            self.focus = Focus.SPLITS
        elif key is Key.D:
            self._commit_multitap()
            self._insert(NEWLINE)
            self._close_list()
        return Outcome.CONSUMED

    def _split_key(self, key: Key) -> Outcome:
        """Focus on the pinyin row: * # choose a split (candidates narrow at once)."""
        if key in MOVE_KEYS and self._split_tuples:
            count = len(self._split_tuples)
            current = -1 if self.split_index is None else self.split_index
            self.split_index = (current + MOVE_KEYS[key]) % count
            self._refresh_compose(keep_splits=True)
            return Outcome.CONSUMED
        if key is Key.A:
            self.split_index = None
            self._refresh_compose()
        self.focus = Focus.CANDIDATES
        if key.digit is not None and key.digit >= 2:
            return self._pinyin_key(key, 0.0)  # typing goes on; the split resets with the new digits
        return Outcome.CONSUMED

    def _move(self, delta: int) -> Outcome:
        if self._list_kind is ListKind.COMPOSE and self._pages:
            self._move_highlight(delta)
            return Outcome.CONSUMED
        self._close_list()
        self._last_word = ""
        self.editor.move(delta)
        return Outcome.CONSUMED

    # -- candidate list -----------------------------------------------------------------------
    def _set_digits(self, digits: str) -> None:
        self.digits = digits.lstrip(SEPARATOR)
        self.split_index = None
        self._limit = RESULT_LIMIT
        if self.digits:
            self._refresh_compose()
        else:
            self._composed = []
            self._close_list()

    def _refresh_compose(self, keep_splits: bool = False) -> None:
        split = self._split_tuples[self.split_index] if self.split_index is not None else None
        found = self.engine.candidates(self.digits, split, self._limit, self._context())
        if not keep_splits:
            plain = parse_keys(self.digits)[0]
            self._split_tuples = self.engine.splits(found if split is None else self.engine.candidates(self.digits), len(plain))
        self._show_list(ListKind.COMPOSE, found)
        self._exhausted = len(found) < self._limit // 2
        self.candidate_index = 0
        self.focus = Focus.SPLITS if keep_splits else Focus.CANDIDATES

    def _show_list(self, kind: ListKind, items: list[Candidate]) -> None:
        self._list_kind = kind
        self._items = items
        self._pages = self.layout([c.text for c in items])
        self.page = 0
        self.candidate_index = None if kind is ListKind.ASSOCIATION else 0
        # Association candidates are picked with Ctrl+digit; * # still move the cursor.
        self.focus = Focus.CANDIDATES if items and kind is not ListKind.ASSOCIATION else Focus.TEXT
        if not items and kind is not ListKind.COMPOSE:
            self._list_kind = ListKind.NONE

    def _close_list(self) -> None:
        self._list_kind = ListKind.NONE
        self._items, self._pages = [], []
        self.page, self.candidate_index = 0, None
        self._split_tuples, self.split_index = [], None
        self.focus = Focus.TEXT

    def _turn_page(self, delta: int) -> None:
        if delta > 0 and self.page == len(self._pages) - 1 and self._more_available():
            self._extend()
        self.page = (self.page + delta) % len(self._pages)
        if self.candidate_index is not None:
            self.candidate_index = 0

    def _move_highlight(self, delta: int) -> None:
        index = (self.candidate_index or 0) + delta
        if index < 0:
            self._turn_page(-1)
            index = len(self._pages[self.page]) - 1
        elif index >= len(self._pages[self.page]):
            self._turn_page(+1)
            index = 0
        self.candidate_index = index

    def _more_available(self) -> bool:
        return self._list_kind is ListKind.COMPOSE and not self._exhausted

    def _extend(self) -> None:
        """Paging past what was computed: ask the engine for twice as many."""
        page = self.page
        self._limit *= 2
        split = self._split_tuples[self.split_index] if self.split_index is not None else None
        # Pages already seen stay as they were; only what was not shown yet is appended.
        shown = {(c.text, c.consumed) for c in self._items}
        more = [c for c in self.engine.candidates(self.digits, split, self._limit, self._context())
                if (c.text, c.consumed) not in shown]
        self._exhausted = not more
        offset = len(self._items)
        self._items = self._items + more
        self._pages = self._pages + [[offset + i for i in p] for p in self.layout([c.text for c in more])]
        self.page = min(page, len(self._pages) - 1)

    # -- committing ---------------------------------------------------------------------------
    def _pick(self, page: int, index: int) -> None:
        cand = self._items[self._pages[page][index]]
        kind = self._list_kind
        self._insert(cand.text)
        if kind is ListKind.ASSOCIATION:
            if self._last_word:
                self.user_dict.learn_follow(self._last_word, cand.text)
            self._last_word = cand.text
            self._show_association()
        else:
            self._commit_composed(cand)

    def _context(self) -> Candidate | None:
        """The previous pick, if it still ends the text left of the cursor."""
        pick = self._last_pick
        if pick is not None and pick.reading and self.editor.before_cursor(len(pick.text)) == pick.text:
            return pick
        return None

    def _commit_composed(self, cand: Candidate) -> None:
        self._last_pick = cand
        if len(cand.text) <= MAX_LEARNED_WORD:  # a long sentence pick is not a word to keep
            self.user_dict.learn(cand.text, cand.reading)
        if self._last_word:
            self.user_dict.learn_follow(self._last_word, cand.text)
        self._last_word = cand.text
        self._composed.append(cand)
        rest = _drop_plain_digits(self.digits, cand.consumed)
        if rest.strip(SEPARATOR):
            composed = self._composed
            self._set_digits(rest)
            self._composed = composed
            return
        self._learn_composition()
        self._set_digits("")
        self._show_association()

    def _learn_composition(self) -> None:
        """Several picks for one run of digits make a new word (造词). When a sentence was
        among them, its words and the order of all the words are learned too, so that
        sentence conversion proposes the same sentence next time (lattice.FOLLOW_BONUS)."""
        parts = self._composed
        text = "".join(c.text for c in parts)
        if len(parts) >= 2 and len(text) <= MAX_LEARNED_WORD and all(c.reading for c in parts):
            self.user_dict.learn(text, tuple(s for c in parts for s in c.reading))
        if any(c.kind is Kind.SENTENCE for c in parts) and all(c.reading for c in parts):
            words = [w for c in parts for w in _words_of(c)]
            picked = {(c.text, c.reading) for c in parts}  # learned when they were picked
            for word, reading in words:
                if (word, reading) not in picked:
                    self.user_dict.learn(word, reading)
            for (a, _), (b, _) in zip(words, words[1:]):
                self.user_dict.learn_follow(a, b)
        self._composed = []

    def _show_association(self) -> None:
        context = self.editor.before_cursor(ASSOCIATION_CONTEXT)
        texts = self.engine.associations(context, self._last_word)
        self._show_list(ListKind.ASSOCIATION, [Candidate(t, 0, (), (), 0.0, Kind.ASSOCIATION) for t in texts])

    # -- English and digit modes --------------------------------------------------------------
    def _typing_key(self, key: Key, now: float) -> Outcome:
        if self.ctrl_armed:
            self.ctrl_armed = False
            if key is Key.D:
                self._commit_multitap()
                self._insert(NEWLINE)
            return Outcome.CONSUMED
        if key.digit is not None:
            if self.mode is Mode.DIGITS:
                self._insert(key.value)
            else:
                self._multitap_press(key.value, now)
            return Outcome.CONSUMED
        if key is Key.A:
            return self._delete()
        if key in MOVE_KEYS:
            self.editor.move(MOVE_KEYS[key])
        elif key is Key.B:
            self._cycle_mode()
        elif key is Key.C:
            self.ctrl_armed = True
        elif key is Key.D:
            return Outcome.SUBMIT
        return Outcome.CONSUMED

    def _multitap_press(self, label: str, now: float) -> None:
        letters = PUNCTUATION_TAP if label == PUNCTUATION_TAP_KEY else MULTITAP_LETTERS[label]
        if self.multitap is not None and self._multitap_key == label:
            self._multitap_step = (self._multitap_step + 1) % len(letters)
        else:
            self._commit_multitap()
            self._multitap_key, self._multitap_step = label, 0
        char = letters[self._multitap_step]
        self.multitap = (char.upper() if self.uppercase else char, now + MULTITAP_TIMEOUT_S)

    def _commit_multitap(self) -> None:
        if self.multitap is not None:
            self._insert(self.multitap[0])
            self.multitap = None
            self._multitap_key = None


def _words_of(cand: Candidate) -> list[tuple[str, tuple[str, ...]]]:
    """A pick as (word, reading) pairs: a sentence's words, else the pick itself."""
    if not cand.words:
        return [(cand.text, cand.reading)]
    out, pos = [], 0
    for word in cand.words:
        out.append((word, cand.reading[pos : pos + len(word)]))
        pos += len(word)
    return out


def _drop_plain_digits(keys: str, count: int) -> str:
    """Remove the first `count` digits (and separators among them) from the key string."""
    seen = 0
    for pos, k in enumerate(keys):
        if seen == count:
            return keys[pos:].lstrip(SEPARATOR)
        if k != SEPARATOR:
            seen += 1
    return ""
