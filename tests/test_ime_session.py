"""InputSession driven key event by key event, as the input screen does."""

from __future__ import annotations

import pytest
from pypinyin import Style, pinyin

from parrot.events import KeyEvent
from parrot.ime.dictionary import UserDictionary, load_dictionary
from parrot.ime.editor import Editor
from parrot.ime.session import Focus, InputSession, Mode, Outcome
from parrot.keys import Key, KeyAction


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary()


class Pad:
    """Presses keys on a session like the keypad driver would (press + release)."""

    def __init__(self, session):
        self.session = session
        self.now = 0.0

    def tap(self, labels: str) -> Outcome:
        outcome = Outcome.IGNORED
        for label in labels:
            key = Key.from_label(label)
            self.now += 0.2
            first = self.session.handle(KeyEvent(key, KeyAction.PRESS), self.now)
            second = self.session.handle(KeyEvent(key, KeyAction.RELEASE), self.now)
            outcome = second if key in (Key.A, Key.K0) else first
        return outcome

    def hold(self, label: str) -> Outcome:
        key = Key.from_label(label)
        self.now += 0.2
        self.session.handle(KeyEvent(key, KeyAction.PRESS), self.now)
        outcome = self.session.handle(KeyEvent(key, KeyAction.LONG), self.now)
        self.session.handle(KeyEvent(key, KeyAction.LONG_RELEASE), self.now)
        return outcome


@pytest.fixture
def pad(dictionary):
    return Pad(InputSession(Editor(), dictionary, UserDictionary(None)))


def test_typing_nihao_and_ok_commits_the_first_candidate(pad):
    pad.tap("64426")
    s = pad.session
    assert s.digits == "64426"
    assert s.candidates[0] == "你好"
    assert "ni'hao" in s.splits
    assert s.focus is Focus.CANDIDATES
    assert pad.tap("D") is Outcome.CONSUMED
    assert s.editor.text == "你好" and s.digits == ""
    assert s.association and s.candidates  # 联想 follows a commit
    assert pad.tap("D") is Outcome.SUBMIT  # nothing composing: OK sends


def test_every_key_press_updates_candidates(pad):
    seen = []
    for label in "64426":
        pad.tap(label)
        seen.append(tuple(pad.session.candidates))
    assert len(set(seen)) == 5
    assert all(seen)


def test_partial_pick_keeps_the_rest_of_the_digits(pad):
    s = pad.session
    pad.tap("64426")
    pages = s.all_pages()
    flat = [c for page in pages for c in page]
    assert "你" in flat
    page = next(p for p, items in enumerate(pages) if "你" in items)
    for _ in range(page):
        pad.tap("0")
    slot = s.candidates.index("你")
    pad.tap("C" + str(slot + 1))
    assert s.editor.text == "你"
    assert s.digits == "426"
    assert "好" in s.candidates


def test_a_deletes_digit_then_character_then_leaves(pad):
    s = pad.session
    pad.tap("64426D")
    pad.tap("64")
    assert pad.tap("A") is Outcome.CONSUMED and s.digits == "6"
    pad.tap("A")
    assert s.digits == "" and s.editor.text == "你好"
    pad.tap("A")
    assert s.editor.text == "你"
    pad.hold("A")
    assert s.editor.text == ""
    assert pad.tap("A") is Outcome.BACK


def test_long_a_clears_pending_digits_only(pad):
    s = pad.session
    pad.tap("64426D9466")
    pad.hold("A")
    assert s.digits == "" and s.editor.text == "你好"


def test_separator_forces_a_syllable_boundary(pad):
    s = pad.session
    pad.tap("9426")
    assert "先" in [c for page in s.all_pages()[:2] for c in page]
    pad.tap("A" * 4)
    pad.tap("94126")  # xi'an
    assert "西安" in s.candidates[:3]
    assert "先" not in [c for page in s.all_pages() for c in page]  # xian is one syllable
    for split in s.splits:
        pieces = split.split("'")
        if sum(map(len, pieces)) > 2:  # splits covering the separator put a boundary there
            assert 2 in {sum(map(len, pieces[:n])) for n in range(1, len(pieces))}, split


def test_split_row_narrows_candidates(pad):
    s = pad.session
    pad.tap("64")
    assert {"ni", "mi"} <= set(s.splits[:4])
    pad.tap("CC")  # Ctrl, Ctrl: focus on the pinyin row
    assert s.focus is Focus.SPLITS
    target = s.splits.index("mi")
    for _ in range(target + 1):
        pad.tap("#")
    assert s.split_index == target
    # Outside reference: every candidate's first character can be read mi... (pypinyin).
    assert s.candidates
    for cand in s.candidates:
        readings = pinyin(cand[0], style=Style.NORMAL, heteronym=True)[0]
        assert any(r.startswith("mi") for r in readings), (cand, readings)
    pad.tap("D")
    assert s.focus is Focus.CANDIDATES and s.split_index == target


def test_ctrl_digit_picks_and_star_hash_move(pad):
    s = pad.session
    pad.tap("64")
    second = s.candidates[1]
    pad.tap("#")
    assert s.candidate_index == 1
    pad.tap("D")
    assert s.editor.text == second


def test_modes_cycle_with_b_and_multitap_times_out(pad):
    s = pad.session
    assert s.mode is Mode.PINYIN
    pad.tap("B")
    assert s.mode is Mode.ENGLISH and not s.uppercase
    pad.tap("44")
    assert s.multitap[0] == "h"
    s.tick(pad.now + 5)
    assert s.multitap is None and s.editor.text == "h"
    pad.tap("444")
    pad.tap("B")  # another key commits the letter at once
    assert s.editor.text == "hi" and s.mode is Mode.ENGLISH and s.uppercase
    pad.tap("2")
    assert s.multitap[0] == "A"
    pad.tap("B")
    assert s.mode is Mode.DIGITS and s.editor.text == "hiA"
    pad.tap("2")
    pad.tap("0")
    assert s.editor.text == "hiA20"
    pad.tap("B")
    assert s.mode is Mode.PINYIN


def test_key_one_cycles_chinese_punctuation(pad):
    s = pad.session
    pad.tap("11")
    assert s.multitap[0] == "。"
    pad.tap("64426D")
    assert s.editor.text == "。你好"


def test_long_zero_opens_paged_symbol_picker(pad):
    s = pad.session
    pad.hold("0")
    picker = s.symbol_picker
    assert picker is not None and picker.page_count >= 5
    assert "，" in picker.page_items
    pad.tap("C")
    assert picker.page == 1
    pad.tap("1")
    assert s.symbol_picker is None and len(s.editor.text) == 1
    assert s.editor.text not in "，。"


def test_star_hash_move_cursor_when_not_composing(pad):
    s = pad.session
    pad.tap("64426D")
    pad.tap("*")
    assert s.editor.cursor == 1 and not s.association
    pad.tap("9466D")
    assert s.editor.text == "你中好"


def test_association_pick_with_ctrl_digit(pad):
    s = pad.session
    pad.tap("9466448")  # zhong gu(o)
    assert s.candidates[0] == "中国"
    pad.tap("D")
    assert s.association
    first = s.candidates[0]
    pad.tap("C1")
    assert s.editor.text == "中国" + first


def test_ctrl_d_inserts_a_newline_and_long_d_is_the_screens(pad):
    s = pad.session
    pad.tap("64426D")
    pad.tap("CD")
    assert s.editor.text == "你好\n"
    assert s.handle(KeyEvent(Key.D, KeyAction.LONG), pad.now) is Outcome.IGNORED


def test_a_takes_back_a_cycling_letter(pad):
    s = pad.session
    pad.tap("B")
    pad.tap("22")
    assert s.multitap[0] == "b"
    pad.tap("A")
    assert s.multitap is None and s.editor.text == ""
    pad.tap("1")
    assert s.multitap[0] == "."  # key 1 is punctuation in English


def test_random_key_storm_keeps_the_state_consistent(dictionary):
    import random

    rng = random.Random(5)
    session = InputSession(Editor(max_len=40), dictionary, UserDictionary(None, capacity=50))
    keys = list(Key)
    actions = list(KeyAction)
    now = 0.0
    for _ in range(3000):
        now += rng.choice([0.05, 0.3, 1.5])
        outcome = session.handle(KeyEvent(rng.choice(keys), rng.choice(actions)), now)
        assert isinstance(outcome, Outcome)
        s = session
        assert len(s.editor.text) <= 40 and 0 <= s.editor.cursor <= len(s.editor.text)
        if s.page_count:
            assert 0 <= s.page < s.page_count and s.candidates
            assert s.candidate_index is None or 0 <= s.candidate_index < len(s.candidates)
        if s.split_index is not None:
            assert 0 <= s.split_index < len(s.splits)
        if s.symbol_picker is not None:
            assert 0 <= s.symbol_picker.index < len(s.symbol_picker.page_items)
        assert all(d in "123456789" for d in s.digits)
        if outcome is Outcome.SUBMIT:
            session.editor.clear()
    assert len(session.user_dict.words) <= 50
