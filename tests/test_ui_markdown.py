"""Markdown in answers, drawn for the 1-bit screen, streamed token by token without jumps."""
import random

import pytest

from parrot.app.assemble import build_appliance
from parrot.app.state import ScreenName
from parrot.boards.test import TestBoard
from parrot.config import Config, validate
from parrot.events import LlmDone, LlmToken
from parrot.ui.markdown import MarkdownStream, render_markdown

ANSWER = """# 鹦鹉简介
鹦鹉是**聪明**的鸟，能*模仿*人说话。__注意__：别喂巧克力！
## 特点
- 羽毛鲜艳
- 会说话
  - 能学 *几十个* 词
1. 喂食
2) 陪伴
用 `print("hi")` 打招呼，详见[百科](https://example.org/parrot)。
> 引用一句
---
```python
def talk():
    return "你好"  # **不是强调**
```
snake_case 与 2*3=6 与 a * b 与 约~5 与 \\*星号\\*
"""

SCREEN = """鹦鹉简介
鹦鹉是聪明的鸟，能模仿人说话。注意：别喂巧克力！
特点
▪ 羽毛鲜艳
▪ 会说话
  ▪ 能学 几十个 词
1. 喂食
2) 陪伴
用 ‹print("hi")› 打招呼，详见百科。
|引用一句
──────────
|def talk():
|    return "你好"  # **不是强调**
snake_case 与 2*3=6 与 a * b 与 约~5 与 *星号*
"""


def test_the_whole_answer():
    assert render_markdown(ANSWER) == SCREEN


@pytest.mark.parametrize("raw,shown", [
    ("**bold** and *it* and __u__ and _i_ and ~~s~~", "bold and it and u and i and s"),
    ("***both***", "both"),
    ("#hashtag", "#hashtag"),  # not a heading: no space
    ("###### six", "six"),
    ("* item", "▪ item"),
    ("*not a list*", "not a list"),
    ("    - deep", "    ▪ deep"),
    ("12. twelve", "12. twelve"),
    ("[a](b) [not a link] [x] (y)", "a [not a link] [x] (y)"),
    ("[**bold link**](u)", "bold link"),
    ("``a ` b``", "‹a ` b›"),
    ("open `code\nnext", "open ‹code›\nnext"),
    ("-- dash", "-- dash"),
    ("***\n", "──────────\n"),
    ("~~~\ncode\n~~~\nafter", "|code\nafter"),
    ("```\nunclosed", "|unclosed"),
    ("[unclosed", "[unclosed"),
    ("a\\", "a\\"),
    ("", ""),
])
def test_each_marker(raw, shown):
    assert render_markdown(raw) == shown


def test_any_split_gives_the_same_text_and_never_takes_text_back():
    final = render_markdown(ANSWER)
    rng = random.Random(7)
    splits = [[ANSWER[i] for i in range(len(ANSWER))]]  # one character at a time
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(ANSWER)), rng.randint(1, 60)))
        splits.append([ANSWER[a:b] for a, b in zip([0] + cuts, cuts + [len(ANSWER)])])
    for pieces in splits:
        md, shown = MarkdownStream(), ""
        for piece in pieces:
            shown += md.feed(piece)
            assert final.startswith(shown)  # what is drawn is already final: nothing jumps
        assert shown + md.finish() == final


def test_text_is_not_held_until_the_closing_marker():
    md = MarkdownStream()
    assert md.feed("前**粗") == "前粗"  # the ** is dropped when it comes, the word drawn at once
    assert md.feed("体") == "体"
    assert md.feed("**") == ""  # waits: "**" could still grow or be a literal "** "
    assert md.feed("后") == "后"
    assert md.feed("2*") == "2"  # "2*3" or "2*x*"? the next character decides
    assert md.feed("3") == "*3"
    assert md.feed("\n- ") == "\n"  # a list marker needs its first word
    assert md.feed("项") == "▪ 项"


def test_a_long_bracket_is_not_held_forever():
    md = MarkdownStream()
    shown = md.feed("[" + "很" * 100)
    assert shown.startswith("[很") and len(shown) > 80


# ---- on the screen -----------------------------------------------------------------------

@pytest.fixture
def chat_app(tmp_path):
    made = []

    def make(name):
        appliance = build_appliance(TestBoard(), Config(validate({"ui": {"splash_s": 0.0}})), tmp_path / name,
                                    backend="echo")
        made.append(appliance)
        appliance.tick()  # the echo engine "loads"
        app = appliance.app
        chat = app.screens[ScreenName.CHAT]
        chat.ask("鹦鹉？")
        return app, chat

    yield make
    for appliance in made:
        appliance.close()


def _stream(app, chat, pieces):
    for piece in pieces:
        app.handle(LlmToken(chat.request, piece))
        yield chat.view.text


@pytest.mark.parametrize("raw,plain", [
    ("**你好**，我是*鹦鹉*。", "你好，我是鹦鹉。"),
    ("# 标题\n- 一\n- 二", "标题\n▪ 一\n▪ 二"),
])
def test_answer_frame_shows_no_markup(chat_app, raw, plain):
    app, chat = chat_app("md")
    tokens = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    drawn = list(_stream(app, chat, tokens))
    app.handle(LlmDone(chat.request))
    frame = app.render().image.tobytes()
    assert chat.turns[-1].answer == raw  # the history keeps what the model said
    assert all(chat.view.text.startswith(d) for d in drawn)  # streamed text never jumped
    # the same frame as an answer that was plain text all along
    app2, chat2 = chat_app("plain")
    list(_stream(app2, chat2, [plain]))
    app2.handle(LlmDone(chat2.request))
    assert app2.render().image.tobytes() == frame
    # and not the frame of the raw markup
    app3, chat3 = chat_app("raw")
    chat3.view.append(raw)
    assert app3.render().image.tobytes() != frame


def test_markdown_after_a_folded_thought(chat_app):
    app, chat = chat_app("think")
    raw = "<think>\n嗯，打招呼。\n</think>\n\n**你好**！\n- 我是鹦鹉"
    list(_stream(app, chat, [raw[i:i + 3] for i in range(0, len(raw), 3)]))
    assert chat.view.text.endswith("答：〔思考6字 C〕\n你好！\n▪ 我是鹦鹉")
    app.handle(LlmDone(chat.request))
    assert chat.view.text.endswith("答：〔思考6字 C〕\n你好！\n▪ 我是鹦鹉")
