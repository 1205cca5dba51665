"""`parrot ime eval`: type a text through the real key handling and count the key presses.

The simulated user knows the text and its reading. Readings come from our dictionary: each
run of hanzi is segmented into dictionary words (most probable segmentation) and takes the
words' readings, so polyphones are read as in context (银行 yin'hang). The user then:

* Chinese (our IME): before each piece, lists what the screen would offer: for every
  number k of further pinyin digits (0..all digits left in the run of hanzi) the first
  LOOK_PAGES pages, and the candidates there that equal the next characters of the text
  (with the digits they consume matching the reading). Cost = k digits + page turns
  (key 0) + 1 (OK, first on the page) or 2 (C then its number). 联想 candidates shown
  after a commit are options too (page turns + C + number). Each option is scored by its
  cost plus the fewest keys to finish the run of hanzi from where it leaves off (a plan
  over later steps that types at most PLAN_LOOKAHEAD_CHARS characters ahead per step and
  ignores learning and context on the way); the cheapest wins (ties: the longer piece).
  Only the first step is taken: its keys are sent one event at a time, the screen is
  checked to show what was predicted, and the next step is chosen afresh.
  Nothing within reach: type the character's digits, narrow with the pinyin row
  (C C, #, D) if that brings it within LOOK_PAGES, else page until it shows.
* Chinese (baseline): types the digits of the character's syllable, OK, # to the right
  page, the digit of the slot. If the character is not in that list under the reading of
  the text it tries its other readings.
* Punctuation: ours takes the cheaper of the key-1 quick list and the symbol picker
  (long 0, C per page, digit); the baseline only has the picker.
* Digits / Latin letters: B to the digits or English mode, then the key (multi-tap: as many
  presses as the letter's place; waits out the timeout between two letters on one key).
  Newline: C then D.

Key presses are counted in four groups: digits (pinyin digits, separators, letters, digits),
navigation (page turns, * #, mode changes), selection (OK, C + number) and symbols (key 1,
long 0 and the picker's keys).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from parrot.events import KeyEvent
from parrot.ime.baseline import BaselineSession, single_characters
from parrot.ime.dictionary import Dictionary, UserDictionary
from parrot.ime.editor import Editor
from parrot.ime.engine import Engine, parse_keys
from parrot.ime.session import (ASSOCIATION_CONTEXT, MAX_PENDING_DIGITS, MODE_CYCLE, MULTITAP_LETTERS, MULTITAP_TIMEOUT_S,
                                InputSession, ListKind, Mode)
from parrot.ime.symbols import PAGE_SIZE, QUICK_PUNCTUATION, SYMBOLS, SymbolPicker
from parrot.ime.t9 import is_hanzi, letters_to_digits
from parrot.keys import Key, KeyAction

LOOK_PAGES = 3  # how far a user pages before typing more instead
PLAN_LOOKAHEAD_CHARS = 4  # a planned step types at most this many characters' digits ahead
UNREACHABLE_KEYS_PER_CHAR = 8.0  # what the plan assumes for characters it finds no way to
DEEP_PAGES = 300  # fallback when nothing fits: page until the character shows up
MAX_WORD_CHARS = 6
KEY_INTERVAL_S = 0.3  # simulated time between presses (well inside the multi-tap timeout)
CATEGORIES = ("digits", "navigation", "selection", "symbols")


class EvalError(Exception):
    """The text cannot be typed (a character outside the dictionary and the symbol list)."""


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    chars: int = 0

    @property
    def keys(self) -> int:
        return sum(self.counts.values())

    @property
    def kspc(self) -> float:
        return self.keys / self.chars if self.chars else 0.0

    def breakdown(self) -> dict[str, float]:
        return {c: n / self.chars for c, n in self.counts.items()} if self.chars else {}


def text_readings(dictionary: Dictionary, text: str) -> list[str | None]:
    """Per character: its syllable as read in context (None for non-hanzi)."""
    readings: list[str | None] = [None] * len(text)
    index = dictionary.text_index
    pos = 0
    while pos < len(text):
        if not is_hanzi(text[pos]):
            pos += 1
            continue
        end = pos
        while end < len(text) and is_hanzi(text[end]):
            end += 1
        for start, word in _segment(dictionary, index, text[pos:end], pos):
            for j, syllable in enumerate(dictionary.reading(index[word])):
                readings[start + j] = syllable
        pos = end
    return readings


def _segment(dictionary, index, run: str, offset: int) -> list[tuple[int, str]]:
    """Most probable segmentation of a run of hanzi into dictionary words."""
    n = len(run)
    best = [-math.inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0.0
    for j in range(1, n + 1):
        for i in range(max(0, j - MAX_WORD_CHARS), j):
            word = run[i:j]
            if word in index and best[i] + float(dictionary.logp[index[word]]) > best[j]:
                best[j] = best[i] + float(dictionary.logp[index[word]])
                back[j] = i
    if best[n] == -math.inf:
        missing = sorted({c for c in run if c not in index})
        raise EvalError(f"characters not in the dictionary: {''.join(missing)}")
    out, j = [], n
    while j > 0:
        out.append((offset + back[j], run[back[j] : j]))
        j = back[j]
    return out[::-1]


class Typist:
    """Sends key events to a session and keeps the tally."""

    def __init__(self, session: InputSession, text: str):
        self.session = session
        self.text = text
        self.now = 0.0
        self.tally = Tally(chars=len(text))
        self.last_multitap_key: str | None = None

    @property
    def shown(self) -> str:
        """The text as on screen: committed plus the multi-tap letter still cycling."""
        pending = self.session.multitap
        return self.session.editor.text + (pending[0] if pending else "")

    @property
    def pos(self) -> int:
        return len(self.shown)

    def press(self, label: str, category: str, long: bool = False) -> None:
        key = Key.from_label(label)
        self.now += KEY_INTERVAL_S
        if long:
            actions = (KeyAction.PRESS, KeyAction.LONG, KeyAction.LONG_RELEASE)
        else:
            actions = (KeyAction.PRESS, KeyAction.RELEASE)
        for action in actions:
            self.session.handle(KeyEvent(key, action), self.now)
        self.tally.counts[category] += 1

    def check(self) -> None:
        typed = self.shown
        if not self.text.startswith(typed):
            raise AssertionError(f"typed text diverged at {len(typed)}: {typed[-10:]!r}")

    # -- modes, letters, digits, symbols -------------------------------------------------------
    def ensure_mode(self, mode: Mode, uppercase: bool = False) -> None:
        wanted = (mode, uppercase)
        while MODE_CYCLE[self.session._mode_index] != wanted:
            self.press("B", "navigation")

    def type_plain(self, ch: str) -> None:
        """A Latin letter, an ASCII digit, a space or a newline."""
        if ch == "\n":
            self.press("C", "symbols")
            self.press("D", "symbols")
            return
        if ch.isdigit():
            self.ensure_mode(Mode.DIGITS)
            self.press(ch, "digits")
            return
        label, presses = _multitap_keys(ch.lower())
        self.ensure_mode(Mode.ENGLISH, ch.isupper())
        if self.session.multitap is not None and self.last_multitap_key == label:
            self.now += MULTITAP_TIMEOUT_S  # wait for the letter before to be committed
            self.session.tick(self.now)
        for _ in range(presses):
            self.press(label, "digits")
        self.last_multitap_key = label

    def finish_multitap(self) -> None:
        if self.session.multitap is not None:
            self.now += MULTITAP_TIMEOUT_S
            self.session.tick(self.now)

    def picker_cost(self, symbol: str) -> int | None:
        where = SymbolPicker().locate(symbol)
        return None if where is None else 1 + where[0] + 1

    def use_picker(self, symbol: str) -> None:
        page, slot = SymbolPicker().locate(symbol)
        self.press("0", "symbols", long=True)
        for _ in range(page):
            self.press("C", "symbols")
        self.press(str((slot + 1) % PAGE_SIZE), "symbols")


def _multitap_keys(ch: str) -> tuple[str, int]:
    for label, letters in MULTITAP_LETTERS.items():
        if ch in letters:
            return label, letters.index(ch) + 1
    raise EvalError(f"cannot type {ch!r}")


class _Shown:
    """A 联想 text as the planner sees it (consumes no digits)."""

    consumed = 0

    def __init__(self, text: str):
        self.text = text


class OurUser(Typist):
    def __init__(self, session: InputSession, text: str, readings: list[str | None]):
        super().__init__(session, text)
        self.readings = readings
        self.char_digits = [letters_to_digits(r) if r else "" for r in readings]
        self.engine: Engine = session.engine
        self._plan: dict[tuple[int, int, int], float] = {}
        self._plan_run = -1

    def type_all(self) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if is_hanzi(ch):
                self.finish_multitap()
                self.ensure_mode(Mode.PINYIN)
                self.hanzi_step()
            elif ch in SYMBOLS and ch != " ":
                self.punctuation(ch)
            else:
                self.type_plain(ch)
            self.check()
        self.finish_multitap()

    def punctuation(self, ch: str) -> None:
        options = []
        picker = self.picker_cost(ch)
        if picker is not None:
            options.append((picker, "picker"))
        if ch in QUICK_PUNCTUATION:
            switch = _mode_distance(self.session._mode_index, 0)
            options.append((switch + QUICK_PUNCTUATION.index(ch) + 1, "tap"))
        if not options:
            raise EvalError(f"cannot type {ch!r}")
        _cost, how = min(options)
        if how == "picker":
            self.use_picker(ch)
            return
        self.ensure_mode(Mode.PINYIN)
        if self.session.multitap is not None:
            self.finish_multitap()  # the mark before is still cycling: wait for it
        for _ in range(QUICK_PUNCTUATION.index(ch) + 1):
            self.press("1", "symbols")
        # The next key would commit the mark; settling it here keeps the bookkeeping simple
        # and costs no key.
        self.finish_multitap()

    def _pick(self, index: int, category: str) -> None:
        if index == 0 and self.session.list_kind is not ListKind.ASSOCIATION:
            self.press("D", category)
        else:
            self.press("C", category)
            self.press(str(index + 1), category)

    def hanzi_step(self) -> None:
        pos = self.pos
        run_end = pos
        while run_end < len(self.text) and is_hanzi(self.text[run_end]):
            run_end += 1
        char_digits = [letters_to_digits(self.readings[i]) for i in range(pos, run_end)]
        target = "".join(char_digits)
        pending = parse_keys(self.session.digits)[0]
        if not target.startswith(pending):
            raise AssertionError(f"pending digits {pending} do not start {target}")
        best = self._best_option(pos, char_digits, target, pending)
        if best is None:
            self._page_until_found(pos, char_digits, target, pending)
            return
        _total, neg_gain, extra, page, index, _association = best
        expected = self.text[pos : pos - neg_gain]
        for d in target[len(pending) : len(pending) + extra]:
            self.press(d, "digits")
        for _ in range(page):
            self.press("0", "navigation")
        if self.session.candidates[index] != expected:
            raise AssertionError(f"screen shows {self.session.candidates}, expected {expected!r} at {index}")
        self._pick(index, "selection")

    def _page_until_found(self, pos, char_digits, target, pending) -> None:
        """Nothing within LOOK_PAGES: type the first character's digits, then page on the
        real screen until a fitting candidate shows up."""
        for d in target[len(pending) : len(char_digits[0])]:
            self.press(d, "digits")
        typed = len(parse_keys(self.session.digits)[0])
        if self._narrow_with_split(pos, char_digits, typed):
            return
        for _ in range(DEEP_PAGES):
            page = [self.session.candidate_at(self.session.page, i) for i in range(len(self.session.candidates))]
            for _p, index, _gain, _rest in self._matches([page], pos, char_digits, typed):
                self._pick(index, "selection")
                return
            self.press("0", "navigation")
        raise EvalError(f"cannot find {self.text[pos]!r} ({self.readings[pos]}) at {pos}")

    def _matches(self, pages, pos: int, char_digits: list[str], typed: int = 0):
        """Yield (page, index, gain, pending after) for candidates that continue the text.

        A candidate fits when its text is the next characters and the digits it consumes
        leave the rest aligned with the reading: exactly those characters' digits (the
        typed digits beyond them stay pending), or all the typed digits when they do not
        reach past those characters (a prefix match). 联想 candidates consume none.
        """
        for p, page in enumerate(pages):
            for i, c in enumerate(page):
                gain = len(c.text)
                if gain > len(char_digits) or not self.text.startswith(c.text, pos):
                    continue
                needed = sum(len(d) for d in char_digits[:gain])
                if c.consumed == 0 or (c.consumed == typed and typed <= needed):
                    yield p, i, gain, 0
                elif c.consumed == needed:
                    yield p, i, gain, typed - needed

    def _step_options(self, pos, run_end, pending, context, association_pages, lookahead=None):
        """Every way to take the next piece from this state: (cost, gain, pending after,
        extra digits, page, index, is association)."""
        char_digits = self.char_digits[pos:run_end]
        target = "".join(char_digits)
        out = []
        if pending == 0 and association_pages:
            for p, i, gain, _rest in self._matches(association_pages[:LOOK_PAGES], pos, char_digits):
                out.append((p + 2, gain, 0, 0, p, i, True))
        room = min(len(target), MAX_PENDING_DIGITS)
        if lookahead is not None:
            room = min(room, max(pending, len("".join(char_digits[:lookahead]))))
        for extra in range(0 if pending else 1, room - pending + 1):
            keys = target[: pending + extra]
            cands = self.engine.candidates(keys, context=context)
            pages = [[cands[i] for i in page] for page in self.session.layout([c.text for c in cands])[:LOOK_PAGES]]
            for p, i, gain, rest in self._matches(pages, pos, char_digits, len(keys)):
                out.append((extra + p + (1 if i == 0 else 2), gain, rest, extra, p, i, False))
        return out

    def _future(self, pos, pending, run_end) -> float:
        """Fewest keys to finish the run of hanzi from this state (planning: no context
        boost, no learning on the way; 联想 from the text before pos)."""
        if pos >= run_end:
            return 0.0 if pending == 0 else math.inf
        key = (pos, pending, run_end)
        if key not in self._plan:
            self._plan[key] = UNREACHABLE_KEYS_PER_CHAR * (run_end - pos)  # guards re-entry
            association = None
            if pending == 0:
                texts = self.engine.associations(self.text[max(0, pos - ASSOCIATION_CONTEXT) : pos], "")
                items = [_Shown(t) for t in texts]
                association = [[items[i] for i in page] for page in self.session.layout(texts)]
            options = self._step_options(pos, run_end, pending, None, association, PLAN_LOOKAHEAD_CHARS)
            costs = [cost + self._future(pos + gain, rest, run_end) for cost, gain, rest, *_ in options]
            self._plan[key] = min(costs, default=UNREACHABLE_KEYS_PER_CHAR * (run_end - pos))
        return self._plan[key]

    def _best_option(self, pos, char_digits, target, pending):
        """The first step of the cheapest plan for the rest of this run of hanzi."""
        s = self.session
        run_end = pos + len(char_digits)
        if self._plan_run != run_end:
            self._plan, self._plan_run = {}, run_end
        association = None
        if not pending and s.association and s._pages:
            association = [[s._items[i] for i in page] for page in s._pages]
        options = self._step_options(pos, run_end, len(pending), s._context(), association)
        if not options:
            return None
        scored = [(cost + self._future(pos + gain, rest, run_end), -gain, extra, page, index, assoc)
                  for cost, gain, rest, extra, page, index, assoc in options]
        return min(scored)

    def _narrow_with_split(self, pos, char_digits, typed) -> bool:
        """Choose a pinyin split (C C, # to it, D) when that brings the character within
        LOOK_PAGES; returns whether it did."""
        s = self.session
        options = []
        for j, split in enumerate(s._split_tuples):
            cands = self.engine.candidates(s.digits, split, context=s._context())
            pages = [[cands[i] for i in page] for page in s.layout([c.text for c in cands])[:LOOK_PAGES]]
            for p, i, _gain, _rest in self._matches(pages, pos, char_digits, typed):
                options.append((2 + (j + 1) + 1 + p + (1 if i == 0 else 2), j, p, i))
                break
        if not options:
            return False
        _cost, j, page, index = min(options)
        self.press("C", "navigation")
        self.press("C", "navigation")
        for _ in range(j + 1):
            self.press("#", "navigation")
        self.press("D", "navigation")
        for _ in range(page):
            self.press("0", "navigation")
        self._pick(index, "selection")
        return True


class BaselineUser(Typist):
    def __init__(self, session: BaselineSession, text: str, readings: list[str | None], char_readings):
        super().__init__(session, text)
        self.readings = readings
        self.char_readings = char_readings

    def type_all(self) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if is_hanzi(ch):
                self.finish_multitap()
                self.ensure_mode(Mode.PINYIN)
                self.hanzi(ch, self.readings[self.pos])
            elif ch in SYMBOLS and ch != " ":
                self.finish_multitap()
                self.use_picker(ch)
            else:
                self.type_plain(ch)
            self.check()
        self.finish_multitap()

    def hanzi(self, ch: str, reading: str) -> None:
        dictionary = self.session.engine.dict
        options = []
        for r in [reading] + [r for r in self.char_readings.get(ch, ()) if r != reading]:
            digits = letters_to_digits(r)
            texts = [c.text for c in single_characters(dictionary, digits)]
            if ch in texts:
                page, slot = divmod(texts.index(ch), PAGE_SIZE)
                options.append((len(digits) + 1 + page + 1, digits, page, slot))
        if not options:
            raise EvalError(f"baseline cannot find {ch!r}")
        _cost, digits, page, slot = min(options)
        for d in digits:
            self.press(d, "digits")
        self.press("D", "selection")
        for _ in range(page):
            self.press("#", "navigation")
        self.press(str((slot + 1) % PAGE_SIZE), "selection")


def _mode_distance(current: int, wanted: int) -> int:
    return (wanted - current) % len(MODE_CYCLE)


def char_readings_of(dictionary: Dictionary) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i in range(len(dictionary)):
        if dictionary.nchars[i] == 1:
            out.setdefault(dictionary.word(i), []).append(dictionary.reading(i)[0])
    return out


@dataclass
class EvalResult:
    ours: Tally
    baseline: Tally | None
    text_ok: bool
    baseline_ok: bool

    @property
    def ratio(self) -> float | None:
        return self.ours.kspc / self.baseline.kspc if self.baseline and self.baseline.kspc else None


def evaluate(dictionary: Dictionary, text: str, baseline: bool = True,
             user_dict: UserDictionary | None = None) -> EvalResult:
    """Type text with our IME (fresh in-memory user dictionary unless given) and the baseline."""
    readings = text_readings(dictionary, text)
    engine = Engine(dictionary, user_dict if user_dict is not None else UserDictionary(None))
    ours = OurUser(InputSession(Editor(max_len=len(text)), engine), text, readings)
    ours.type_all()
    result = EvalResult(ours.tally, None, ours.session.editor.text == text, False)
    if baseline:
        base_session = BaselineSession(Editor(max_len=len(text)), Engine(dictionary, UserDictionary(None)))
        base = BaselineUser(base_session, text, readings, char_readings_of(dictionary))
        base.type_all()
        result.baseline = base.tally
        result.baseline_ok = base_session.editor.text == text
    return result
