"""Cutting a streamed answer into speakable pieces; numbers and markdown made speakable."""

from __future__ import annotations

import random

import pytest

from parrot.speech.sentences import SentenceCutter, cut_text
from parrot.speech.speakable import numbers_to_zh, read_integer, read_number, speakable, strip_markdown

ANSWER = """## 答案

**注意**：圆周率约为3.14159，比3大一点。你好！Python is great. It was released in 1991.
- 第一点：价格是1,000元，涨了50%。
- 第二点：会议在10:30开始。
1. 先安装
2. 再运行
```python
print("代码不读")
```
好。这是最后一句话"""

EXPECTED = [
    "答案，注意：圆周率约为三点一四一五九",
    "比三大一点。",
    "你好！Python is great.",
    "It was released in 1991.",
    "第一点：价格是一千元",
    "涨了百分之五十。",
    "第二点：会议在十点三十分开始。",
    "先安装，再运行",
    "好。这是最后一句话",
]


def stream(text: str, sizes) -> list[str]:
    cutter = SentenceCutter()
    out, i = [], 0
    while i < len(text):
        n = next(sizes)
        out += cutter.feed(text[i : i + n])
        i += n
    return out + cutter.finish()


def test_whole_text_cut_into_speakable_pieces():
    assert cut_text(ANSWER) == EXPECTED


@pytest.mark.parametrize("seed", range(5))
def test_streaming_in_any_token_sizes_gives_the_same_pieces(seed):
    rng = random.Random(seed)
    sizes = iter(lambda: rng.randint(1, 6), None)
    assert stream(ANSWER, sizes) == EXPECTED


def test_character_by_character():
    assert stream(ANSWER, iter(lambda: 1, None)) == EXPECTED


def test_first_piece_comes_before_the_answer_ends():
    cutter = SentenceCutter()
    assert cutter.feed("今天天气很好") == []
    assert cutter.feed("，我们出去走走吧") == ["今天天气很好"]  # cut at the first comma once long enough


def test_decimal_point_waits_for_the_next_token():
    cutter = SentenceCutter()
    assert cutter.feed("圆周率大约是3.") == []
    assert cutter.feed("14。") == ["圆周率大约是三点一四。"]


def test_short_pieces_merged_and_flushed_at_the_end():
    cutter = SentenceCutter()
    assert cutter.feed("好。") == []  # too short alone
    assert cutter.feed("对。") == []
    assert cutter.feed("我们开始吧。") == ["好。对。我们开始吧。"]
    assert cutter.feed("嗯") == []
    assert cutter.finish() == ["嗯"]
    assert cutter.finish() == []


def test_overlong_run_without_punctuation_is_cut():
    text = "这是一个没有任何标点符号的非常长的句子" * 6
    pieces = SentenceCutter(max_chars=40).feed(text)
    assert pieces and all(len(p) <= 41 for p in pieces)


def test_english_sentences_and_abbreviations():
    assert cut_text("I like e.g. apples. Version 3.5 is out! Really?") == [
        "I like e.g. apples.",
        "Version 3.5 is out!",
        "Really?",
    ]


def test_unclosed_code_block_is_not_read():
    assert cut_text("看代码：\n```\nx = 1\n") == ["看代码"]


def test_closing_quotes_stay_with_their_sentence():
    assert cut_text("他说：“今天很好。”然后离开了房间。") == ["他说：“今天很好。”", "然后离开了房间。"]


@pytest.mark.parametrize(
    "n, said",
    [(0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"), (110, "一百一十"),
     (1010, "一千零一十"), (10000, "一万"), (10086, "一万零八十六"), (250000, "二十五万"),
     (100000000, "一亿"), (100010000, "一亿零一万"), (-5, "负五")],
)  # fmt: skip
def test_integers_read_in_chinese(n, said):
    assert read_integer(n) == said


def test_numbers_in_context():
    assert read_number("3.5") == "三点五"
    assert read_number("007") == "零零七"
    assert numbers_to_zh("2024年增长了12.5%，温度-3度") == "二零二四年增长了百分之十二点五，温度负三度"
    assert numbers_to_zh("1/3的人") == "三分之一的人"


def test_markdown_stripped():
    assert strip_markdown("# 标题\n- **粗体** 和 `代码`\n[链接](http://x.y)") == "标题\n粗体 和 代码\n链接"
    assert speakable("| 名称 | 价格 |\n|---|---|\n| 苹果 | 5 |") == "名称，价格 苹果，五"
    assert speakable("Use `pip install x` now") == "Use pip install x now"
