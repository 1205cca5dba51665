"""wrap(): pixel-width line breaking with CJK kinsoku rules, on the real 12 px font."""

from __future__ import annotations

import random

import pytest

from parrot.ui.font import load_font
from parrot.ui.layout import NO_LINE_END, NO_LINE_START, wrap, wrap_spans

FONT = load_font(12)  # hanzi and full-width punctuation 12 px, ASCII 6 px
HANZI10 = "人工智能是计算机科学"  # exactly 120 px


def widths(lines):
    return [FONT.text_width(line) for line in lines]


def test_font_metrics_assumed_here():
    assert FONT.text_width(HANZI10) == 120 and FONT.text_width("abc") == 18
    assert FONT.text_width("。") == FONT.text_width("（") == 12


def test_plain_hanzi_fill_lines_exactly():
    text = HANZI10 * 3 + "的"
    assert wrap(text, FONT, 120) == [HANZI10, HANZI10, HANZI10, "的"]
    assert wrap(text, FONT, 125) == [HANZI10, HANZI10, HANZI10, "的"]
    assert wrap(text, FONT, 119) == ["人工智能是计算机科", "学人工智能是计算机", "科学人工智能是计算", "机科学的"]


@pytest.mark.parametrize("closing", list("。，、；：？！）」』】》…—") + [",", ".", "!", ")"])
def test_closing_punctuation_never_starts_a_line(closing):
    # The punctuation would be the 11th character: the 10th comes down with it.
    lines = wrap(HANZI10 + closing + "好", FONT, 120)
    assert lines == [HANZI10[:9], HANZI10[9] + closing + "好"]


def test_runs_of_closing_punctuation_stay_with_the_character_before():
    lines = wrap(HANZI10[:9] + "好。」" + "对", FONT, 120)
    assert lines == [HANZI10[:9], "好。」对"]
    lines = wrap(HANZI10[:8] + "好……", FONT, 120)  # ellipsis pair would overflow by one
    assert lines == [HANZI10[:8], "好……"]


@pytest.mark.parametrize("opening", list("（「『【《“‘") + ["(", "["])
def test_opening_punctuation_never_ends_a_line(opening):
    # The bracket fits as the 10th character but would end the line: it moves down.
    lines = wrap(HANZI10[:9] + opening + "书名", FONT, 120)
    assert lines == [HANZI10[:9], opening + "书名"]


def test_quotes_and_colon_in_dialogue():
    lines = wrap("他说：“今天天气很好。”然后走了。", FONT, 120)
    assert lines == ["他说：“今天天气很", "好。”然后走了。"]
    for line in lines:
        assert line[0] not in NO_LINE_START and line[-1] not in NO_LINE_END


def test_latin_words_are_kept_together_and_spaces_are_break_points():
    assert wrap("hello world foo bar", FONT, 66) == ["hello world", "foo bar"]  # 11 chars = 66 px
    assert wrap("hello world foo bar", FONT, 65) == ["hello", "world foo", "bar"]


def test_mixed_half_and_full_width():
    text = "我用Python写了一个parser，很好用。"
    lines = wrap(text, FONT, 96)
    assert lines == ["我用Python写了一", "个parser，很好", "用。"]
    assert max(widths(lines)) <= 96
    assert "".join(lines) == text


def test_long_latin_word_is_cut_where_it_overflows():
    word = "a" * 30  # 180 px
    assert wrap(word, FONT, 60) == ["a" * 10, "a" * 10, "a" * 10]
    # It starts right after the text before it instead of leaving a short line behind.
    assert wrap("see " + word, FONT, 60) == ["see aaaaaa", "a" * 10, "a" * 10, "aaaa"]
    url = "https://example.com/a/very/long/path"
    lines = wrap(url, FONT, 128)
    assert "".join(lines) == url and all(w <= 128 for w in widths(lines))


def test_trailing_spaces_do_not_count_and_are_dropped():
    assert wrap("abcde     ", FONT, 30) == ["abcde"]
    assert wrap("abcde  x", FONT, 36) == ["abcde", "x"]
    assert wrap("hello     world", FONT, 30) == ["hello", "world"]
    assert wrap("你好 ", FONT, 24) == ["你好"]


def test_leading_indentation_is_kept():
    assert wrap("  ab", FONT, 128) == ["  ab"]


def test_newlines_and_empty_lines():
    assert wrap("", FONT, 128) == [""]
    assert wrap("\n", FONT, 128) == ["", ""]
    assert wrap("a\n\nb", FONT, 128) == ["a", "", "b"]
    assert wrap("a\n", FONT, 128) == ["a", ""]
    assert wrap(HANZI10 + "的\n第二段", FONT, 120) == [HANZI10, "的", "第二段"]


def test_characters_wider_than_the_line_still_make_progress():
    assert wrap("你好ab", FONT, 5) == ["你", "好", "a", "b"]


def test_missing_glyphs_take_their_box_width():
    assert wrap("\U00020000" * 11, FONT, 120) == ["\U00020000" * 10, "\U00020000"]


def test_invalid_width_is_rejected():
    with pytest.raises(ValueError, match="width"):
        wrap("abc", FONT, 0)


def test_spans_map_lines_back_to_text_offsets():
    text = "hello world\n你好，世界。abc def"
    spans = wrap_spans(text, FONT, 50)
    lines = wrap(text, FONT, 50)
    assert [text[s:e].rstrip() for s, e in spans] == lines
    # Spans tile the text; only the newlines are left out.
    covered = "".join(text[s:e] for s, e in spans)
    assert covered == text.replace("\n", "")
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


ALPHABET = (
    list("你好世界中文人工智能的了是")
    + list("。，、；：？！）」』】…—")
    + list("（「『【《“")
    + list("abcdefgxyz   ,.!?()0123456789")
    + ["\n"]
)


def test_random_texts_obey_every_rule():
    rng = random.Random(20261129)
    forced = 0
    for _ in range(400):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 120)))
        width = rng.choice([40, 64, 100, 128])
        spans = wrap_spans(text, FONT, width)
        lines = wrap(text, FONT, width)
        assert len(lines) == len(spans) >= text.count("\n") + 1
        for line in lines:
            assert FONT.text_width(line) <= width or len(line) == 1
        # Nothing but spaces at breaks (and the newlines) is dropped.
        assert "".join(lines).replace(" ", "") == text.replace("\n", "").replace(" ", "")
        for (start, end), (next_start, _) in zip(spans, spans[1:]):
            if next_start == end + 1 or text[next_start - 1] == " ":
                continue  # a newline or a space: always a fine place to break
            before, after = text[next_start - 1], text[next_start]
            if after in NO_LINE_START or before in NO_LINE_END:
                # Kinsoku may only give way inside a run too wide for any line: the cut is
                # then exactly where the next character would overflow.
                forced += 1
                assert FONT.text_width(text[start:next_start]) + FONT.text_width(after) > width
                assert FONT.text_width(_glued_run(text, next_start)) > width
    assert forced > 0  # the sample does exercise over-long glued runs


def _glued_run(text: str, pos: int) -> str:
    """The run of characters around pos that kinsoku glues together (no spaces)."""
    start = pos
    while start > 0 and text[start - 1] not in " \n" and (text[start] in NO_LINE_START or text[start - 1] in NO_LINE_END or not FONT.is_wide(text[start]) and not FONT.is_wide(text[start - 1])):
        start -= 1
    end = pos
    while end < len(text) and text[end] not in " \n" and (end == pos or text[end] in NO_LINE_START or text[end - 1] in NO_LINE_END or not FONT.is_wide(text[end]) and not FONT.is_wide(text[end - 1])):
        end += 1
    return text[start:end]


def test_cursor_position_follows_the_wrapped_lines():
    from parrot.ui.layout import cursor_position

    text = "hello world\n你好，世界"
    lines = wrap(text, FONT, 40)
    assert lines == ["hello", "world", "你好，", "世界"]
    assert cursor_position(text, FONT, 40, 0) == (0, 0)
    assert cursor_position(text, FONT, 40, 5) == (0, 30)  # after "hello"
    assert cursor_position(text, FONT, 40, 6) == (1, 0)  # soft break: start of "world"
    assert cursor_position(text, FONT, 40, 11) == (1, 30)  # before the newline
    assert cursor_position(text, FONT, 40, 12) == (2, 0)
    assert cursor_position(text, FONT, 40, len(text)) == (3, 24)
    assert cursor_position("abc\n", FONT, 40, 4) == (1, 0)
    assert cursor_position("", FONT, 40, 0) == (0, 0)
    # Kinsoku: "。" pulls "科" down, so a cursor before "科" is on the second line,
    # although text[:cursor] alone would fit on the first.
    text = "人工智能是计算机科。"
    assert wrap(text, FONT, 108) == ["人工智能是计算机", "科。"]
    assert cursor_position(text, FONT, 108, 8) == (1, 0)
    with pytest.raises(ValueError):
        cursor_position(text, FONT, 108, 99)
