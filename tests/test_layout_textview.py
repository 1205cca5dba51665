"""TextView: incremental wrapping for streamed text, scrolling, pinning to the bottom."""

from __future__ import annotations

import random

import pytest

from parrot.ui.font import load_font
from parrot.ui.layout import TextView, wrap

FONT = load_font(12)

ANSWER = (
    "人工智能（Artificial Intelligence，简称AI）是计算机科学的一个分支。它企图了解智能的实质，"
    "并生产出一种新的能以人类智能相似的方式做出反应的智能机器。\n\n"
    "该领域的研究包括：机器人、语言识别、图像识别、自然语言处理和专家系统等。"
    "Supercalifragilisticexpialidocious words and https://example.com/long/url/path too!\n"
    "“引号”、《书名》……——完。\n"
)


def stream(view: TextView, text: str, rng: random.Random, max_chunk: int = 5) -> None:
    i = 0
    while i < len(text):
        n = rng.randint(1, max_chunk)
        view.append(text[i : i + n])
        i += n


@pytest.mark.parametrize("width", [12, 40, 64, 100, 128])
def test_streamed_answer_wraps_exactly_like_a_full_wrap(width):
    rng = random.Random(width)
    view = TextView(FONT, width, rows=5)
    stream(view, ANSWER, rng)
    assert view.lines == wrap(ANSWER, FONT, width)
    assert view.text == ANSWER


def test_streaming_random_texts_one_character_at_a_time_and_in_chunks():
    rng = random.Random(99)
    alphabet = list("你好世界。，、：？！（“”）《》…—") + list("abcdefghij") * 3 + [" ", " ", "\n"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 100)))
        width = rng.choice([20, 50, 128])
        view = TextView(FONT, width, rows=5)
        stream(view, text, rng, max_chunk=rng.choice([1, 3, 8]))
        assert view.lines == wrap(text, FONT, width), (text, width)


def test_append_rewraps_only_the_end():
    """Earlier lines are reused as they are, not recomputed."""
    view = TextView(FONT, 128, rows=5, text="第一段。\n" + "长" * 200)
    first_lines = view.lines[:-2]
    identities = [id(line) for line in first_lines]
    view.append("结尾。")
    assert [id(line) for line in view.lines[: len(first_lines)]] == identities


def lines_text(n: int) -> str:
    return "\n".join(f"line {i}" for i in range(n))


def test_pinned_view_follows_new_text():
    view = TextView(FONT, 128, rows=4)
    assert view.pinned_to_bottom and view.top == 0 and view.visible() == [""]
    view.append(lines_text(3))
    assert view.top == 0 and view.total_lines == 3
    view.append("\nline 3\nline 4\nline 5")
    assert view.total_lines == 6 and view.top == 2
    assert view.visible() == ["line 2", "line 3", "line 4", "line 5"]


def test_scrolling_up_unpins_and_scrolling_back_down_repins():
    view = TextView(FONT, 128, rows=4, text=lines_text(10))
    assert view.top == 6 and view.pinned_to_bottom
    view.scroll(-2)
    assert view.top == 4 and not view.pinned_to_bottom
    view.append("\nline 10\nline 11")
    assert view.top == 4 and view.visible() == ["line 4", "line 5", "line 6", "line 7"]  # reader undisturbed
    view.scroll(1)
    assert view.top == 5 and not view.pinned_to_bottom
    view.scroll(3)  # reaches the last line: follows again
    assert view.top == view.max_top == 8 and view.pinned_to_bottom
    view.append("\nline 12")
    assert view.top == 9 and view.visible()[-1] == "line 12"


def test_scroll_is_clamped():
    view = TextView(FONT, 128, rows=4, text=lines_text(10))
    view.scroll(-100)
    assert view.top == 0 and not view.pinned_to_bottom
    view.scroll(100)
    assert view.top == 6 and view.pinned_to_bottom
    short = TextView(FONT, 128, rows=4, text="one line")
    short.scroll(-1)
    assert short.top == 0 and short.pinned_to_bottom  # nothing to scroll: still at the end


def test_visible_with_a_different_height():
    view = TextView(FONT, 128, rows=4, text=lines_text(10))
    assert view.visible(5) == [f"line {i}" for i in range(5, 10)]
    assert view.rows == 5 and view.top == 5


def test_set_width_rewraps():
    view = TextView(FONT, 128, rows=5, text=ANSWER)
    view.set_width(64)
    assert view.lines == wrap(ANSWER, FONT, 64)
    assert view.top == view.max_top


def test_clear_resets():
    view = TextView(FONT, 128, rows=4, text=lines_text(10))
    view.scroll(-3)
    view.clear()
    assert view.lines == [""] and view.top == 0 and view.pinned_to_bottom


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError):
        TextView(FONT, 128, rows=0)
    with pytest.raises(ValueError):
        TextView(FONT, 0, rows=4)
