"""Sentence conversion: the lattice search with its language model, the blocklist, learning
of corrected sentences, and `parrot ime eval --sentences` against pypinyin readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pypinyin import Style, lazy_pinyin

from parrot.cli import main
from parrot.ime.dictionary import UserDictionary, load_dictionary, text_hash
from parrot.ime.editor import Editor
from parrot.ime.engine import Engine, Kind
from parrot.ime.sentence_eval import SentenceFileError, edit_distance, evaluate_sentences, read_sentences, sentence_digits
from parrot.ime.session import InputSession
from parrot.ime.t9 import letters_to_digits

try:
    from test_ime_session import Pad
except ImportError:  # collected as a package
    from tests.test_ime_session import Pad

DATA = Path(__file__).parent / "data" / "ime"
TEST_SET = DATA / "sentences.txt"
DEV_SET = DATA / "sentences_dev.txt"
BLOCKLIST = Path(__file__).parent.parent / "tools" / "ime_blocklist.txt"


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary()


def digits_of(text: str) -> str:
    return letters_to_digits("".join(lazy_pinyin(text, style=Style.NORMAL, v_to_u=False)))


def first(engine: Engine, keys: str) -> str:
    return engine.candidates(keys)[0].text


def test_sentence_sets_are_apart_and_well_formed():
    test, dev = read_sentences(TEST_SET.read_text("utf-8")), read_sentences(DEV_SET.read_text("utf-8"))
    assert len(test) >= 200 and len(set(test)) == len(test)
    assert all(4 <= len(s) <= 14 for s in test + dev)
    assert not set(test) & set(dev)  # weights are tuned on dev only


def test_the_issue_example_comes_out_whole(dictionary):
    engine = Engine(dictionary)
    cands = engine.candidates("969426478234546458968")  # wo xiang qu bei jing lv you
    assert cands[0].text == "我想去北京旅游" and cands[0].kind is Kind.SENTENCE
    assert cands[0].words[-1] == "旅游" and "".join(cands[0].words) == cands[0].text


def test_word_bigrams_prefer_what_real_text_says(dictionary):
    lm = dictionary.words_lm
    idx = dictionary.text_index

    def logp(prev, word):
        h = np.array([text_hash(prev) if prev else 0], dtype=np.uint64)
        return float(lm.logp(h, np.array([text_hash(word)], dtype=np.uint64), dictionary.sentence_logp[[idx[word]]])[0])

    # Same keys, the context decides, even against the unigram (前 is more frequent than 钱).
    assert dictionary.logp[idx["前"]] > dictionary.logp[idx["钱"]]
    assert logp("多少", "钱") > logp("多少", "前") + 2
    assert logp("我", "想") > logp("我", "像") + 2
    assert logp("去", "北京") > logp("去", "背景") + 2
    assert logp("非常", "好") > logp("非常", "号") + 2
    # An unseen pair backs off to the unigram, times the context's back-off weight (< 1).
    assert logp("旅游", "鲸鱼") < float(dictionary.sentence_logp[idx["鲸鱼"]]) - 0.1
    # A sentence's first word: the unigram.
    assert logp("", "我") == pytest.approx(float(dictionary.sentence_logp[idx["我"]]))


def test_sentence_unigram_keeps_the_reading_share(dictionary):
    """行 read hang (银行) or xing (不行): the model knows the character once; each entry keeps
    its reading's share; a word the model lacks takes the dictionary's probability, lowered."""
    from parrot.ime.lm import OOV_PENALTY, find_sorted

    d = dictionary
    ids = [d.text_index["行"]]
    lo, hi = d.exact_ranges(["4264"])
    hang_ids = [i for i in range(int(lo[0]), int(hi[0])) if d.word(i) == "行"]
    lo, hi = d.exact_ranges(["9464"])
    xing_ids = [i for i in range(int(lo[0]), int(hi[0])) if d.word(i) == "行"]
    assert hang_ids and xing_ids and ids[0] in hang_ids + xing_ids
    h, x = hang_ids[0], xing_ids[0]
    assert d.sentence_logp[x] - d.sentence_logp[h] == pytest.approx(float(d.logp[x] - d.logp[h]), abs=1e-4)
    _, known = find_sorted(d.words_lm.unigram_hashes, d.hashes)
    unknown = np.nonzero(~known)[0][:50]
    assert len(unknown) and np.allclose(d.sentence_logp[unknown], d.logp[unknown] + OOV_PENALTY)


def test_partial_covers_are_still_offered(dictionary):
    engine = Engine(dictionary)
    keys = digits_of("我想去北京旅游")
    partial = [c for c in engine.candidates(keys) if c.consumed < len(keys)]
    assert any(c.text == "我" for c in partial)
    assert any(c.kind is Kind.SENTENCE and c.consumed < len(keys) for c in partial)


def test_keys_cli_prints_sentence_tags(dictionary, capsys):
    assert main(["ime", "keys", "969426478234546458968", "-n", "3"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()[:2].rstrip(".").isdigit()]
    assert lines[0].split(".", 1)[0].strip() == "1"
    assert "我想去北京旅游" in lines[0] and "[sentence]" in lines[0]


# -- blocklist ---------------------------------------------------------------------------
def blocked_words() -> list[str]:
    out = []
    for line in BLOCKLIST.read_text("utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            out.append(word)
    return out


def test_no_blocked_word_is_ever_proposed(dictionary):
    engine = Engine(dictionary)
    terms = [w.lstrip("=") for w in blocked_words()]
    anywhere = [w for w in blocked_words() if not w.startswith("=")]
    checked = 0
    for word in terms:
        reading = lazy_pinyin(word, style=Style.NORMAL, v_to_u=False)
        keys = letters_to_digits("".join(reading))
        for cand in engine.candidates(keys, limit=60):
            checked += 1
            assert word not in cand.text or (word not in anywhere and cand.kind is Kind.SENTENCE), (word, cand)
    assert checked > 500
    # Initials (94 -> 中国) and 联想 are built without them.
    for word in terms:
        for n in range(1, min(3, len(word) - 1) + 1):
            assert all(word not in word[:n] + rest for rest in dictionary.continuations(word[:n]))


def test_a_blocked_word_typed_before_is_offered(dictionary):
    user = UserDictionary(None)
    engine = Engine(dictionary, user)
    keys = digits_of("傻逼")
    assert "傻逼" not in [c.text for c in engine.candidates(keys, limit=60)]
    user.learn("傻逼", ("sha", "bi"))
    assert "傻逼" in [c.text for c in engine.candidates(keys, limit=60)][:3]


def test_sentences_never_spell_a_blocked_word_across_words(dictionary):
    engine = Engine(dictionary)
    assert dictionary.is_blocked_text("你是傻逼吗") and not dictionary.is_blocked_text("我妈的手机")
    keys = digits_of("你是傻逼吗")
    assert all("傻逼" not in c.text for c in engine.candidates(keys, limit=60))


# -- learning ------------------------------------------------------------------------------
def type_by_corrections(pad: Pad, target: str) -> int:
    """Type target's digits as one string, then on the first page (key 0 turns them) that
    shows the next piece of the target, pick the longest such piece; until all is typed.
    Returns the picks it took."""
    s = pad.session
    pad.tap(digits_of(target))
    picks = 0
    while s.digits:
        rest = target[len(s.editor.text):]
        for _ in range(40):
            pieces = [(len(t), n) for n, t in enumerate(s.candidates) if rest.startswith(t)]
            if pieces:
                break
            pad.tap("0")
        assert pieces, (target, s.editor.text)
        pad.tap("C" + str(max(pieces)[1] + 1))
        picks += 1
    assert s.editor.text == target
    return picks


def test_a_corrected_sentence_is_proposed_next_time(dictionary):
    # Sentences the shipped model gets wrong (from the dev set); the user corrects them once.
    user = UserDictionary(None)
    pad = Pad(InputSession(Editor(), dictionary, user))
    engine = pad.session.engine
    wrong = [t for t in ("我们下周再聊", "请稍等一下", "今天星期几", "猫咪不肯吃饭")
             if first(engine, digits_of(t)) != t]
    assert len(wrong) >= 2
    for target in wrong:
        assert type_by_corrections(pad, target) >= 2
        pad.hold("A")
    for target in wrong:
        assert first(engine, digits_of(target)) == target
    assert user.follows  # the order of the words is what was learned, not only the words


def test_picking_the_first_sentence_teaches_its_words_and_order(dictionary):
    user = UserDictionary(None)
    pad = Pad(InputSession(Editor(), dictionary, user))
    pad.tap("969426478234546458968D")
    assert pad.session.editor.text == "我想去北京旅游"
    assert user.count("旅游", ("lv", "you")) == 1
    assert ("北京", "旅游") in user.follows


# -- evaluation ------------------------------------------------------------------------------
def test_sentence_digits_come_from_pypinyin():
    assert sentence_digits("绿色") == letters_to_digits("lvse")
    assert sentence_digits("你好") == "64426"


def test_edit_distance():
    assert edit_distance("我想去北京", "我想去北京") == 0
    assert edit_distance("我像素北京", "我想去北京") == 2
    assert edit_distance("", "北京") == 2


def test_read_sentences_rejects_what_cannot_be_typed():
    with pytest.raises(SentenceFileError, match="line 2"):
        read_sentences("你好\n你好吗？\n")
    with pytest.raises(SentenceFileError):
        read_sentences("\n\n")


def test_evaluation_counts_exact_sentences_and_characters(dictionary):
    report = evaluate_sentences(Engine(dictionary), ["我想去北京旅游", "今天天气怎么样"])
    assert [r.digits for r in report.results] == [digits_of("我想去北京旅游"), digits_of("今天天气怎么样")]
    exact = sum(r.first == r.sentence for r in report.results)
    assert report.exact_rate == exact / 2
    errors = sum(edit_distance(r.first, r.sentence) for r in report.results)
    assert report.char_accuracy == pytest.approx(1 - errors / 14)


def test_eval_sentences_cli(tmp_path, capsys):
    f = tmp_path / "s.txt"
    f.write_text("我想去北京旅游\n今天天气怎么样\n", encoding="utf-8")
    assert main(["ime", "eval", "--sentences", str(f), "--show-errors"]) == 0
    out = capsys.readouterr().out
    assert "first candidate exact:" in out and "character accuracy:" in out
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\n", encoding="utf-8")
    assert main(["ime", "eval", "--sentences", str(bad)]) != 0
    assert "only hanzi" in capsys.readouterr().err


def test_an_evicted_beam_is_computed_again_not_skipped():
    """The beam cache is bounded: a sentence that shares its first keys with one typed long
    ago (their beams now the oldest) must keep the spans that start there while its own new
    beams push the old ones out. The wide search (96 wide, a small cache) over the dev
    sentences in order dropped them (你在哪里工作 became 腻歪吗离工作)."""
    from parrot.ime.rerank import wide_engine

    dictionary = load_dictionary()
    lines = read_sentences((Path(__file__).parent / "data" / "ime" / "sentences_dev.txt").read_text(encoding="utf-8"))
    engine, unbounded = wide_engine(Engine(dictionary), 8), wide_engine(Engine(dictionary), 8)
    assert engine.search.cache_beams < sum(len(sentence_digits(t)) for t in lines)  # it evicts
    unbounded.search.cache_beams = 10**6
    for text in lines:
        digits = sentence_digits(text)
        want = [c.text for c in unbounded.whole_input(digits)]
        assert [c.text for c in engine.whole_input(digits)] == want, text
