"""`parrot ime eval` / `ime keys` / `bench ime`, the simulated user and the seed-style baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypinyin import Style, lazy_pinyin

from parrot.cli import main
from parrot.ime.baseline import BaselineSession
from parrot.ime.dictionary import UserDictionary, load_dictionary
from parrot.ime.editor import Editor
from parrot.ime.evaluate import CATEGORIES, evaluate, text_readings
from parrot.ime.t9 import letters_to_digits

try:
    from test_ime_session import Pad
except ImportError:  # collected as a package
    from tests.test_ime_session import Pad

SAMPLE = Path(__file__).parent / "data" / "ime" / "sample_prose.txt"
MIXED = "今天天气很好，我们去银行吧！重要的会议在3月5日。\nHello World, ok?“长大”以后……"


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary()


def test_readings_in_context_match_pypinyin(dictionary):
    text = "我们去银行办理重要的业务，行人很多。"
    ours = [r for r in text_readings(dictionary, text) if r]
    reference = [r for r, ch in zip(lazy_pinyin(text, style=Style.NORMAL), text) if ch not in "，。"]
    assert ours == reference


def test_eval_reproduces_mixed_text_exactly(dictionary):
    result = evaluate(dictionary, MIXED)
    assert result.text_ok and result.baseline_ok
    for tally in (result.ours, result.baseline):
        assert tally.chars == len(MIXED)
        assert sum(tally.counts[c] for c in CATEGORIES) == tally.keys
    assert result.ours.kspc < result.baseline.kspc


def test_eval_on_prose_beats_the_baseline(dictionary):
    text = SAMPLE.read_text(encoding="utf-8")
    head = text[: text.index("\n") + 1]  # the first paragraph keeps the test fast
    result = evaluate(dictionary, head)
    assert result.text_ok and result.baseline_ok
    assert result.ratio < 0.7
    # The baseline cannot cost less than typing every syllable's digits plus OK and a pick.
    hanzi = [r for r in text_readings(dictionary, head) if r]
    assert result.baseline.keys >= sum(len(letters_to_digits(r)) + 2 for r in hanzi)


def test_baseline_is_single_characters_by_frequency(dictionary):
    pad = Pad(BaselineSession(Editor(), dictionary, UserDictionary(None)))
    s = pad.session
    pad.tap("64")
    assert s.candidates == [] and s.digits == "64"  # nothing until OK
    pad.tap("D")
    assert len(s.candidates) == 10 and all(len(c) == 1 for c in s.candidates)
    assert s.candidates[0] == "你"
    pad.tap("#")
    assert s.page == 1
    second_page = list(s.candidates)
    pad.tap("3")
    assert s.editor.text == second_page[2]


def test_cli_eval_prints_both_figures(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text(MIXED, encoding="utf-8")
    assert main(["ime", "eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "baseline" in out and "ratio ours/baseline" in out
    for category in CATEGORIES:
        assert category in out


def test_cli_keys_prints_splits_and_candidates(capsys):
    assert main(["ime", "keys", "64426", "-n", "5"]) == 0
    out = capsys.readouterr().out
    assert "ni'hao" in out and "你好" in out
    assert main(["ime", "keys", "64a"]) == 1


def test_bench_prints_latency_load_and_memory(capsys):
    assert main(["bench", "ime", "--keys", "300"]) == 0
    out = capsys.readouterr().out
    assert "p99" in out and "load" in out and "RSS" in out
