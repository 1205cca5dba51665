"""The built dictionary checked against the outside references (pypinyin, jieba)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from pypinyin import Style, lazy_pinyin, pinyin

from parrot.ime.dictionary import default_path, load_dictionary, pad_key
from parrot.ime.engine import Engine
from parrot.ime.t9 import letters_to_digits


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary()


def toneless_readings(ch: str) -> set[str]:
    return {r.replace("ü", "v") for r in pinyin(ch, style=Style.NORMAL, heteronym=True, v_to_u=False)[0]}


def single_readings(dictionary, ch: str) -> set[str]:
    return {dictionary.reading(i)[0] for i in range(len(dictionary)) if dictionary.nchars[i] == 1 and dictionary.word(i) == ch}


def test_letters_to_digits_is_the_phone_keypad():
    assert letters_to_digits("nihao") == "64426"
    assert letters_to_digits("zhongguo") == "94664486"
    assert letters_to_digits("lv") == "58"  # u-umlaut on 8 with u, as on phones


@pytest.mark.parametrize("ch", list("绿女略中行重嗯呣了儿"))
def test_toneless_matches_pypinyin_normal_style(ch):
    from parrot.ime.t9 import toneless

    marked = pinyin(ch, style=Style.TONE, heteronym=True)[0]
    plain = lazy_pinyin(ch, style=Style.NORMAL, v_to_u=False)[0]
    assert toneless(marked[0]) == plain


def test_padded_keys_sort_like_strings():
    keys = ["2", "22", "29", "3", "9426", "94", "99999"]
    assert sorted(keys) == sorted(keys, key=pad_key)


@pytest.mark.parametrize("ch,expected", [("行", {"xing", "hang"}), ("重", {"zhong", "chong"}), ("了", {"le", "liao"}),
                                         ("长", {"chang", "zhang"}), ("乐", {"le", "yue"})])
def test_polyphones_have_all_their_readings(dictionary, ch, expected):
    found = single_readings(dictionary, ch)
    assert expected <= found
    assert found == toneless_readings(ch)  # every reading pypinyin knows, no others


def test_readings_of_random_common_characters_match_pypinyin(dictionary):
    rng = random.Random(7)
    singles = [i for i in range(len(dictionary)) if dictionary.nchars[i] == 1]
    for i in rng.sample(singles, 150):
        ch = dictionary.word(i)
        assert dictionary.reading(i)[0] in toneless_readings(ch), ch


def test_word_readings_follow_pypinyin_phrases(dictionary):
    engine = Engine(dictionary)
    for word in ["银行", "重要", "重新", "长大", "音乐", "快乐", "行走", "中国", "你好"]:
        digits = letters_to_digits("".join(lazy_pinyin(word, style=Style.NORMAL)))
        assert word in [c.text for c in engine.candidates(digits)[:10]], (word, digits)
    wrong = letters_to_digits("yinxing")  # 银行 is never yin'xing
    assert "银行" not in [c.text for c in engine.candidates(wrong)]


def test_frequencies_follow_jieba(dictionary):
    # jieba: 的 is far more frequent than 地 and 得, all on keys 3-4 ("de").
    engine = Engine(dictionary)
    top = [c.text for c in engine.candidates("33")[:5]]
    assert top[0] == "的"


def test_shipped_file_is_small_and_loads_fast():
    size = default_path().stat().st_size
    assert size < 8 * 2**20  # entries, tables and the sentence language model
    code = ("import time, sys; t = time.perf_counter(); from parrot.ime.dictionary import load_dictionary; "
            "d = load_dictionary(); print(time.perf_counter() - t, len(d)); "
            "print('jieba' in sys.modules, 'pypinyin' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 3.0 and int(out[1]) > 100_000  # a sanity bound (0.5 s idle; the bench measures it)
    assert out[2:] == ["False", "False"]


def test_runtime_never_imports_the_build_time_packages():
    code = """
import sys
from parrot.ime.dictionary import load_dictionary, UserDictionary
from parrot.ime.editor import Editor
from parrot.ime.session import InputSession
from parrot.ime import cli, bench, evaluate, baseline
from parrot.events import KeyEvent
from parrot.keys import Key, KeyAction
s = InputSession(Editor(), load_dictionary(), UserDictionary(None))
for label in "969426478234546458968D64426D":  # a sentence (the language model), then a word
    s.handle(KeyEvent(Key.from_label(label), KeyAction.PRESS), 0.0)
assert s.editor.text == "我想去北京旅游你好", s.editor.text
evaluate.evaluate(s.engine.dict, "你好。", baseline=True)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("jieba", "pypinyin", "wordfreq", "Pinyin2Hanzi")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_build_tool_records_source_hashes(dictionary):
    sources = dictionary.meta["sources_sha256"]
    assert any("dict.txt" in name for name in sources)
    assert all(len(digest) == 64 for digest in sources.values())
    import hashlib

    import jieba

    jieba_dict = Path(jieba.__file__).parent / "dict.txt"
    name = next(n for n in sources if "dict.txt" in n)
    assert sources[name] == hashlib.sha256(jieba_dict.read_bytes()).hexdigest()


def test_a_missing_or_damaged_sentence_model_is_a_clear_error(tmp_path):
    """The sentence model lives beside the dictionary: without it, truncated, or of another
    layout, loading says which file and why (the CLI prints it, no traceback)."""
    import shutil

    import numpy as np

    from parrot.cli import main
    from parrot.ime import dictfile

    shipped = default_path()
    dict_path = tmp_path / "pinyin.dict"
    shutil.copy(shipped, dict_path)
    lm_path = tmp_path / "sentence.lm"
    with pytest.raises(dictfile.DictFileError, match="sentence.lm: missing"):
        load_dictionary(dict_path)
    data = shipped.with_name("sentence.lm").read_bytes()
    lm_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(dictfile.DictFileError, match="truncated"):
        load_dictionary(dict_path)
    lm_path.write_bytes(dictfile.encode({"wb_scale": 0.1}, {"wb_key": np.zeros(3, np.uint64)}))
    with pytest.raises(dictfile.DictFileError, match="no 'wb_logp' section"):
        load_dictionary(dict_path)
    assert main(["ime", "keys", "64426", "--dict", str(dict_path)]) != 0
    shutil.copy(shipped.with_name("sentence.lm"), lm_path)
    assert Engine(load_dictionary(dict_path)).candidates("64426")[0].text == "你好"
