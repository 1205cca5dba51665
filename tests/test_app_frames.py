"""Screen defects seen when the appliance was tried, each checked on the drawn frame."""

from __future__ import annotations

import numpy as np
import pytest

from parrot.app.assemble import build_appliance
from parrot.app.screens.base import BODY_TOP
from parrot.app.state import ModelEntry, SavedConversation, ScreenName
from parrot.boards.test import TestBoard
from parrot.config import Config, validate
from parrot.events import KeyEvent, LlmProgress
from parrot.keys import Key, KeyAction
from parrot.ui.font import load_font
from test_sim_e2e import find_text, text_at, text_bitmap


@pytest.fixture
def app(tmp_path):
    appliance = build_appliance(TestBoard(), Config(validate({"ui": {"splash_s": 0.02}})), tmp_path, backend="echo")
    appliance.advance(0.05)
    yield appliance.app
    appliance.close()


def frame(app) -> np.ndarray:
    return np.asarray(app.render().image).copy()


def tap(app, *labels):
    for label in labels:
        key = Key.from_label(label)
        app.handle(KeyEvent(key, KeyAction.PRESS))
        app.handle(KeyEvent(key, KeyAction.RELEASE))


def test_ellipsis_is_three_dots_not_dashes():
    ink = text_bitmap("…")
    ys, xs = np.nonzero(ink)
    assert len(xs) == 3 and len(set(ys)) == 1, "three single dots on one row"
    assert np.all(np.diff(sorted(xs)) > 1), "apart, not a dash"


def test_cursor_never_covers_a_glyph(app):
    app.go(ScreenName.INPUT)
    screen = app.screen
    screen.session.editor.insert("你好ab")
    for cursor in range(0, 5):
        screen.session.editor.cursor = cursor
        screen.blink_epoch = app.now  # the cursor is drawn (blink on)
        shown = frame(app)
        text = text_bitmap("你好ab")
        rows = slice(BODY_TOP, BODY_TOP + text.shape[0])
        got = shown[rows, 1:1 + text.shape[1]]
        assert np.array_equal(got & text, text), f"ink of a character beside the cursor is lost at {cursor}"
        font = load_font(12)
        x = font.text_width("你好ab"[:cursor])
        assert shown[rows, x].sum() >= font.line_height - 2, "the cursor is drawn"


def test_prefill_bar_does_not_cover_the_answer_line(app):
    from parrot.events import LlmDone, LlmToken

    chat = app.screens[ScreenName.CHAT]
    lh = load_font(12).line_height
    for question, answer in (("你好", "你好！"), ("再问", "")):  # the second 答 line ends up at the bottom
        chat.ask(question)
        app.handle(LlmProgress(chat.request, 3, 10))
        if answer:
            app.handle(LlmToken(chat.request, answer))
            app.handle(LlmDone(chat.request))
    shown = frame(app)
    bottom = BODY_TOP + (len(chat.view.visible()) - 1) * lh
    assert chat.view.visible()[-1] == "答：" and bottom + lh > 64 - 8, "the 答 line is where the old bar was"
    assert text_at(shown, "答：", 1, bottom), "the 答 line is drawn whole"


def test_long_model_names_scroll_so_q4_and_q8_differ(app):
    names = ["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct-q8"]
    app.deps.list_models = lambda: [ModelEntry(n, "491MB", True) for n in names]
    app.go(ScreenName.MODELS)
    tap(app, "#")  # the q8 one
    ink = ~text_bitmap("-q8")[:-1]  # inverse; a list row's bar covers all but the glyph box's last row
    ends = set()
    for step in range(40):
        app.now = step * 0.3
        shown = frame(app)
        windows = np.lib.stride_tricks.sliding_window_view(shown, ink.shape)
        ends.add(bool((windows == ink).all(axis=(2, 3)).any()))
    assert ends == {True, False}, "the selected name scrolls: its end comes into view, then its start again"


def test_english_load_error_is_wrapped_not_cut(app):
    app.deps.list_models = lambda: [ModelEntry("m", "1MB", True)]
    app.status.model_error = "model 'qwen3-0.6b' is not pulled yet (run: parrot models pull qwen3-0.6b)"
    app.go(ScreenName.MODELS)
    assert not find_text(frame(app), "qwen3-0.6b)")
    tap(app, "#")  # scrolls the message
    assert find_text(frame(app), "qwen3-0.6b)"), "the last word of the message is on screen"
    page = app.screen.error_page()
    assert " ".join(page.lines).replace("：", "： ") .split() == ("加载失败： " + app.status.model_error).split()
    tap(app, "D")  # any other key puts the list back
    assert not find_text(frame(app), "qwen3-0.6b)") and app.screen.dismissed_error


def test_editor_refills_when_the_candidate_bar_closes(app):
    app.go(ScreenName.INPUT)
    screen = app.screen
    screen.session.editor.insert("一二三四五六七八九十" * 4)  # four lines of text
    tap(app, "6", "4")  # composing: the bar takes two rows
    frame(app)
    assert screen.top > 0
    app.handle(KeyEvent(Key.A, KeyAction.LONG))  # drop the digits: the bar closes
    tap(app, "A")
    screen.session.editor.insert("")
    shown = frame(app)
    lh = load_font(12).line_height
    rows = (64 - BODY_TOP) // lh
    lines_with_ink = sum(bool(shown[BODY_TOP + i * lh:BODY_TOP + (i + 1) * lh, 2:120].any()) for i in range(rows))
    assert lines_with_ink == rows, "no blank rows under the text while earlier lines are hidden"


def test_pinyin_row_is_never_blank_while_composing(app):
    app.go(ScreenName.INPUT)
    screen = app.screen
    lh = load_font(12).line_height
    for keys in (("6", "4", "4", "2", "6"), ("D",)):  # composing, then the association list after a pick
        tap(app, *keys)
        if not screen.composing():
            continue
        shown = frame(app)
        pinyin_row = shown[64 - 2 * lh:64 - lh, :]
        assert pinyin_row.any(), keys


def test_long_list_labels_end_in_an_ellipsis_before_the_scrollbar(app):
    from parrot.app.screens.base import fit

    font = load_font(12)
    for i in range(6):
        app.history[f"c{i}"] = SavedConversation(f"c{i}", i, "一个很长很长很长的问题" * 2)
    app.go(ScreenName.HISTORY)
    shown = frame(app)
    label = fit("01-01 08:00 " + "一个很长很长很长的问题" * 2, font, 120)
    assert label.endswith("…") and font.text_width(label) <= 120 and fit("短", font, 120) == "短"
    assert not shown[BODY_TOP + 12:BODY_TOP + 23, 121:124].any(), "nothing drawn into the scrollbar's gap"


def test_chosen_split_is_always_drawn(app):
    """Ctrl+C focuses the pinyin row; moving along it must keep the chosen split in view."""
    app.go(ScreenName.INPUT)
    session = app.screen.session
    tap(app, *"94264", "C", "C")
    lh = load_font(12).line_height
    for _ in range(len(session.splits)):
        tap(app, "#")
        row = frame(app)[64 - 2 * lh:64 - lh, :]
        chosen = session.splits[session.split_index]
        assert find_text(row, chosen, inverse=True) or find_text(np.pad(row, ((0, 0), (1, 1))), chosen, inverse=True), chosen



def test_a_sentence_wider_than_the_row_scrolls_to_its_end(app):
    """The first candidate of a long sentence was cut at the right edge: it rests at its start,
    scrolls until its end shows, and starts over (app clock: the same frames every run)."""
    from parrot.app.screens.input import MARQUEE_HOLD_S, MARQUEE_PX_S
    from parrot.events import Tick
    from parrot.ime.sentence_eval import sentence_digits

    app.go(ScreenName.INPUT)
    session = app.screen.session
    tap(app, *sentence_digits("他是我的哥哥也是你的哥"))  # 24 keys, 11 characters
    font, lh = load_font(12), load_font(12).line_height
    first = session.candidates[0]
    overflow = font.text_width(f"1{first}") + 3 - 128
    assert len(session.candidates) == 1 and overflow > 0, first
    head, tail = first[:3], first[-3:]
    start = app.now

    def row_at(t):
        app.handle(Tick(start + t))
        return frame(app)[64 - lh:64, :]

    row = row_at(0.5)
    assert find_text(row, "1", inverse=True) and find_text(row, head, inverse=True) and not find_text(row, tail, inverse=True)
    end = MARQUEE_HOLD_S + overflow / MARQUEE_PX_S
    row = row_at(end + 0.5)
    assert find_text(row, tail, inverse=True), "the end of the sentence is on screen"
    assert find_text(row, "1", inverse=True) == [(1, 0)], "its number stays put"
    row = row_at(end + MARQUEE_HOLD_S + 0.5)
    assert find_text(row, head, inverse=True) and not find_text(row, tail, inverse=True), "and it starts over"
