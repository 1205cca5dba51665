"""Learning, the bounded user dictionary, and its persistence (atomic, kill-safe, corrupt-tolerant)."""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import sys
import time

import pytest

from parrot.ime.dictionary import UserDictionary, load_dictionary
from parrot.ime.editor import Editor
from parrot.ime.session import InputSession
from parrot.storage import release_data_dir
try:
    from test_ime_session import Pad
except ImportError:  # collected as a package
    from tests.test_ime_session import Pad


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary()


def texts(engine, keys, n=30):
    return [c.text for c in engine.candidates(keys)[:n]]


def test_picked_word_rises_in_rank(dictionary):
    user = UserDictionary(None)
    pad = Pad(InputSession(Editor(), dictionary, user))
    engine = pad.session.engine
    before = texts(engine, "64426")
    pad.tap("64426")
    slot = len(pad.session.candidates)  # the last one on the first page: not the first choice
    target = pad.session.candidates[-1]
    assert slot > 1 and before.index(target) == slot - 1
    pad.tap(f"C{slot}")
    assert pad.session.editor.text == target
    after = texts(engine, "64426")
    assert after.index(target) < before.index(target)
    pad.tap("A" * 2)
    pad.tap("64426")
    pad.tap("C" + str(pad.session.candidates.index(target) + 1))
    assert pad.session.editor.text == target
    assert texts(engine, "64426").index(target) <= min(1, after.index(target))  # picked twice: at the top


def test_a_new_combination_becomes_a_word(dictionary):
    user = UserDictionary(None)
    pad = Pad(InputSession(Editor(), dictionary, user))
    s = pad.session
    engine = s.engine
    assert "米好" not in texts(engine, "64426", 200)
    pad.tap("64426")
    pages = s.all_pages()
    page = next(p for p, items in enumerate(pages) if "米" in items)
    pad.tap("0" * page)
    pad.tap("C" + str(s.candidates.index("米") + 1))
    assert s.digits == "426"
    pad.tap("C" + str(s.candidates.index("好") + 1) if "好" in s.candidates else "D")
    assert s.editor.text == "米好"
    assert user.count("米好", ("mi", "hao")) == 1
    assert "米好" in texts(engine, "64426", 5)
    assert "米好" in texts(engine, "6442", 10)  # also with the last syllable unfinished


def test_association_learns_what_follows(dictionary):
    user = UserDictionary(None)
    pad = Pad(InputSession(Editor(), dictionary, user))
    s = pad.session
    pad.tap("64426D")  # 你好
    pad.tap("9466448D")  # 中国
    assert s.association
    pad.hold("A")
    pad.tap("64426D")
    assert s.candidates[0] == "中国"  # learned follower comes first


def test_user_dictionary_is_bounded():
    user = UserDictionary(None, capacity=20, follow_capacity=10)
    rng = random.Random(3)
    for n in range(200):
        user.learn(f"字{n}"[-2:] + "字", ("zi", "zi", "zi"))
        user.learn_follow(str(rng.random()), "x")
    assert len(user.words) <= 20 and len(user.follows) <= 10


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "user.json"
    user = UserDictionary(path)
    user.learn("米好", ("mi", "hao"))
    user.learn("米好", ("mi", "hao"))
    user.learn_follow("你好", "中国")
    assert user.pending_save
    user.save()
    assert not user.pending_save
    again = UserDictionary(path)
    assert again.count("米好", ("mi", "hao")) == 2
    assert again.followers("你好") == ["中国"]


def test_corrupt_file_is_moved_aside_with_a_warning(tmp_path, caplog):
    path = tmp_path / "user.json"
    path.write_text('{"version": 1, "words": [["米好", ["mi"', encoding="utf-8")  # truncated
    with caplog.at_level(logging.WARNING):
        user = UserDictionary(path)
    assert not user.words
    assert not path.exists()
    aside = list(tmp_path.glob("user.json.corrupt-*"))
    assert len(aside) == 1 and "米好" in aside[0].read_text(encoding="utf-8")
    assert any("corrupt" in r.message for r in caplog.records)
    user.learn("米好", ("mi", "hao"))
    user.save()
    assert UserDictionary(path).count("米好", ("mi", "hao")) == 1


def test_one_bad_record_sets_aside_only_itself(tmp_path, caplog):
    """A damaged record (a bit flip, an old bug) used to set every learned word aside."""
    path = tmp_path / "user.json"
    original = json.dumps({"version": 1, "uses": 9, "words": [
        ["米好", ["mi", "hao"], 3, 5],
        ["坏", ["huai", "le"], 1, 6],  # two syllables for one character
        ["你们", ["ni", "men"], 2, 7],
        ["数", ["shu"], "many", 8],
        ["好", ["hao"], 1, 9],
        ["大", ["DA"], 1, 2],  # not a reading the keypad can type
    ], "follows": [["你好", "中国", 2, 4], [None, "世界", 1, 3]]}, ensure_ascii=False).encode("utf-8")
    path.write_bytes(original)
    with caplog.at_level(logging.WARNING):
        user = UserDictionary(path)
    assert sorted(w.word for w in user.words.values()) == ["你们", "好", "米好"]
    assert user.count("米好", ("mi", "hao")) == 3 and user.followers("你好") == ["中国"] and user.uses == 9
    (aside,) = tmp_path.glob("user.json.corrupt-*")
    assert aside.read_bytes() == original, "the original is kept whole"
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "4 damaged record(s) set aside" in line and "kept 3 words and 1 pairs" in line and aside.name in line
    release_data_dir(tmp_path)
    caplog.clear()
    again = UserDictionary(path)  # the file was rewritten with the good records: clean now
    assert again.count("你们", ("ni", "men")) == 2 and not caplog.records
    assert len(list(tmp_path.glob("user.json.corrupt-*"))) == 1


def test_crash_before_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "user.json"
    user = UserDictionary(path)
    user.learn("米好", ("mi", "hao"))
    user.save()
    old = path.read_bytes()
    user.learn("你好", ("ni", "hao"))

    def power_cut(*_args):
        raise OSError("simulated power cut before rename")

    monkeypatch.setattr("parrot.storage.os.replace", power_cut)
    with pytest.raises(OSError):
        user.save()
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "user.json"]  # no temp file left
    assert UserDictionary(path).count("你好", ("ni", "hao")) == 0


WRITER = """
import sys
from parrot.ime.dictionary import UserDictionary
user = UserDictionary(sys.argv[1], capacity=3000)
n = 0
while True:
    for _ in range(50):
        n += 1
        user.learn("米" * (1 + n % 4), ("mi",) * (1 + n % 4))
        user.learn_follow(str(n), "好")
    user.save()
    print(n, flush=True)
"""


def test_killed_mid_save_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "user.json"
    rng = random.Random(11)
    for _round in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # at least one save done
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = json.loads(path.read_text(encoding="utf-8"))  # complete JSON, never half a file
        assert data["version"] == 1
        user = UserDictionary(path, capacity=3000)
        release_data_dir(tmp_path)  # the loader claimed the folder: let the next writer have it
        assert user.words
        assert not list(tmp_path.glob("*.corrupt-*"))
    leftovers = [p for p in tmp_path.iterdir() if p.name not in ("user.json", ".lock")]
    assert all(p.name.endswith(".tmp") for p in leftovers)  # a kill may orphan a temp file only
