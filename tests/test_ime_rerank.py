"""Re-ranking sentence candidates with the LLM (parrot/ime/rerank.py): the scores against a
numpy forward pass of a tiny GGUF, the ordering plumbing, a failing model, and (slow) the
real registry model on sentences the lattice gets wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, reference_logits, write_tiny  # noqa: E402

from parrot.cli import main  # noqa: E402
from parrot.ime.dictionary import load_dictionary  # noqa: E402
from parrot.ime.editor import Editor  # noqa: E402
from parrot.ime.engine import Candidate, Engine, Kind  # noqa: E402
from parrot.ime.rerank import PREFIX, SUFFIX, LEAD, LlmScorer, Reranker, rerank, wide_engine  # noqa: E402
from parrot.ime.sentence_eval import evaluate_sentences, sentence_digits  # noqa: E402
from parrot.ime.session import InputSession  # noqa: E402
from parrot.llm import Model  # noqa: E402
from test_ime_session import Pad  # noqa: E402

TEXTS = ["今天晚上吃什么", "今天早上吃什么", "今天晚上吃深么", "金天晚上", "明天见"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    t = write_tiny(tmp_path_factory.mktemp("rerank") / "m.gguf", Spec(arch="qwen2", n_ctx_train=512))
    with Model(t.path, threads=2, context=512) as m:
        yield t, m


def reference_score(t, m, text: str) -> float:
    """log P(text + SUFFIX | PREFIX) from the numpy forward pass over the whole sequence."""
    prefix = m.tokenize(PREFIX, True)
    ids = prefix + m.tokenize(text, False) + m.tokenize(SUFFIX, True)
    logits = reference_logits(t, ids, kv_f16=True)
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - logits.max(1, keepdims=True)
    return float(sum(logp[i - 1, ids[i]] for i in range(len(prefix), len(ids))))


def cand(text: str, score: float, consumed: int = 10) -> Candidate:
    return Candidate(text, consumed, (), (), score, Kind.SENTENCE)


class FixedScorer:
    """Fixed log-probabilities; a text is as many tokens as it has characters."""

    def __init__(self, scores):
        self.scores, self.calls, self.lengths = scores, 0, []

    def score(self, texts):
        self.calls += 1
        self.lengths = [len(t) for t in texts]
        return [self.scores[t] for t in texts]


def test_scores_match_a_whole_forward_pass_while_sharing_prefixes(tiny):
    t, m = tiny
    m.reset()
    scorer = LlmScorer(m)
    got = scorer.score(TEXTS)
    want = [reference_score(t, m, x) for x in TEXTS]
    assert np.allclose(got, want, rtol=1e-3, atol=1e-2)
    assert scorer.lengths == [len(m.tokenize(x, False)) for x in TEXTS]  # for the token bonus
    seqs = [m.tokenize(PREFIX, True) + m.tokenize(x, False) + m.tokenize(SUFFIX, True) for x in TEXTS]
    trie = {tuple(ids[:i]) for ids in seqs for i in range(1, len(ids) + 1)}
    assert scorer.evaluated == len(trie) < sum(map(len, seqs))  # each shared beginning once
    # scoring again (cache as left) and after someone else used the model: same numbers
    assert np.allclose(scorer.score(TEXTS[::-1])[::-1], got, atol=1e-3)
    m.reset()
    m.eval(m.tokenize("hello world", True))
    assert np.allclose(scorer.score(TEXTS), got, atol=1e-3)


def test_between_calls_the_scorer_keeps_one_row_of_scores(tiny):
    """A row is the vocabulary's size (0.6 MB for Qwen2.5): the rows of the last candidate
    kept until the next call were megabytes of resting memory that varied with its length."""
    t, m = tiny
    m.reset()
    scorer = LlmScorer(m)
    got = scorer.score(TEXTS)
    held = {id(r.base if r.base is not None else r): (r.base if r.base is not None else r) for r in scorer._rows if r is not None}
    assert sum(a.nbytes for a in held.values()) <= m.n_vocab * 4
    before = scorer.evaluated
    assert np.allclose(scorer.score(TEXTS[:1]), got[:1], atol=1e-3)
    prefix_len = len(m.tokenize(PREFIX, True))
    assert scorer.evaluated - before == len(m.tokenize(TEXTS[0], False) + m.tokenize(SUFFIX, True)), \
        f"the prefix ({prefix_len} tokens) is not evaluated again"


def test_order_follows_the_scores_and_partials_keep_their_places():
    cands = [cand("甲", 0.0), cand("半", 5.0, consumed=4), cand("乙", -1.0), cand("丙", -2.0)]
    scorer = FixedScorer({"甲": -9.0, "乙": -3.0, "丙": -1.0})
    out = rerank(cands, scorer, k=8, weight=1.0, token_bonus=0.0)  # combined: 甲 -9, 乙 -4, 丙 -3
    assert [c.text for c in out] == ["丙", "半", "乙", "甲"]
    assert out[0].score == -3.0
    # weight 0: the LLM alone; k=2 leaves the third whole candidate alone
    assert [c.text for c in rerank(cands, scorer, k=2, weight=0.0, token_bonus=0.0)] == ["乙", "半", "甲", "丙"]
    # Each token adds token_bonus: a longer text's lower total log P is made up for.
    longer = [cand("甲", 0.0), cand("乙乙乙", 0.0)]
    scorer = FixedScorer({"甲": -5.0, "乙乙乙": -6.5})
    assert [c.text for c in rerank(longer, scorer, k=8, weight=0.0, token_bonus=0.0)] == ["甲", "乙乙乙"]
    out = rerank(longer, scorer, k=8, weight=0.0, token_bonus=1.0)  # -4 against -3.5
    assert [c.text for c in out] == ["乙乙乙", "甲"] and out[0].score == -3.5


def test_ties_keep_the_lattice_order():
    cands = [cand(x, 0.0) for x in "甲乙丙丁"]
    out = rerank(cands, FixedScorer(dict.fromkeys("甲乙丙丁", -2.0)), k=8)
    assert [c.text for c in out] == list("甲乙丙丁")


def test_a_failing_model_leaves_the_lattice_order(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2"))
    m = Model(t.path, threads=1, context=128)
    scorer = LlmScorer(m)
    m.close()
    cands = [cand(x, -i) for i, x in enumerate(TEXTS)]
    assert rerank(cands, scorer) == cands
    nan = FixedScorer({x: float("nan") for x in TEXTS})
    assert rerank(cands, nan) == cands


def test_the_eval_reports_the_reranked_first_candidate(tiny):
    """With the LLM alone (weight 0), the first candidate is the tiny model's favourite among
    the wider search's first k, as the numpy reference computes it; the first candidate
    before is the default search's (what the app shows until the keypad rests)."""
    t, m = tiny
    engine = Engine(load_dictionary())
    reranker = Reranker(LlmScorer(m), engine, k=6, weight=0.0, token_bonus=0.0)
    wide = wide_engine(engine, 6)  # what the re-ranker searches
    sentences = ["今天晚上吃什么", "我们下周再聊", "明天早上几点出发"]
    report = evaluate_sentences(engine, sentences, reranker)
    changed = 0
    for r in report.results:
        whole = [c for c in wide.candidates(r.digits) if c.consumed == len(r.digits)][:6]
        best = max(whole, key=lambda c: reference_score(t, m, c.text))
        assert r.first == best.text and r.lattice_first == engine.candidates(r.digits)[0].text
        changed += r.first != r.lattice_first
        assert r.rerank_s > 0 and r.rerank_tokens > 0
    assert changed >= 1


def test_the_reranker_leads_with_the_wider_searchs_best_then_what_was_shown():
    engine = Engine(load_dictionary())
    digits = sentence_digits("今天晚上吃什么")
    shown = engine.candidates(digits)
    reranker = Reranker(None, engine, k=12)
    wide = [c.text for c in reranker.engine.candidates(digits) if c.consumed == len(digits)][:12]
    assert len(wide) == 12 and len({c.text for c in shown if c.consumed == len(digits)} - set(wide)) < 3
    favourites = wide[::-1]  # the LLM likes the wider search's last sentences best
    reranker.scorer = FixedScorer({t: -100.0 * favourites.index(t) for t in wide})
    out = reranker(digits, shown)
    assert [c.text for c in out[:LEAD]] == favourites[:LEAD]
    rest = [(c.text, c.consumed) for c in out[LEAD:]]
    assert rest == [(c.text, c.consumed) for c in shown if c.text not in favourites[:LEAD]]
    # a model that fails leaves the list shown as it was
    reranker.scorer = FixedScorer({})
    assert reranker(digits, shown) == shown


def test_an_idle_rerank_shows_only_if_no_key_came_since():
    session = InputSession(Editor(), Engine(load_dictionary(), sentences=6, beam=16, per_state=2))
    pad = Pad(session)
    pad.tap(sentence_digits("今天晚上吃什么"))
    keys, _, items = session.rerank_job()
    whole = [c.text for c in items if c.consumed == items[0].consumed]
    assert len(whole) >= 2
    favourite = whole[-1]  # a scorer that prefers the lattice's last whole candidate
    scorer = FixedScorer({t: (0.0 if t == favourite else -50.0) for t in whole})
    reordered = rerank(items, scorer, k=8, weight=0.0, token_bonus=0.0)
    assert session.apply_rerank(keys, reordered)
    assert session.candidates[0] == favourite
    pad.tap("D")  # OK commits what the re-ranker put first
    assert session.editor.text == favourite
    # a key pressed while the model was busy: the late result is dropped
    pad.tap("64426")
    keys, _, items = session.rerank_job()
    before = list(session.candidates)
    pad.tap("6")
    assert not session.apply_rerank(keys, items[::-1])
    assert session.candidates != before[::-1] and session.digits == "644266"


def test_eval_llm_prints_before_after_and_latency(tiny, tmp_path, capsys):
    t, _ = tiny
    sentences = tmp_path / "s.txt"
    sentences.write_text("今天晚上吃什么\n我们下周再聊\n", encoding="utf-8")
    assert main(["ime", "eval", "--sentences", str(sentences), "--llm", str(t.path), "--top-k", "4", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "first candidate exact:" in out and "before re-ranking:     exact" in out
    assert "re-rank latency:       median" in out and "(top 4, 1 threads, load average" in out
    assert "re-rank CPU time:      median" in out and "re-rank LLM tokens:    median" in out


def test_eval_llm_bad_input_is_one_line(tmp_path, capsys):
    prose = tmp_path / "p.txt"
    prose.write_text("你好", encoding="utf-8")
    assert main(["ime", "eval", str(prose), "--llm"]) != 0
    assert main(["ime", "eval", "--sentences", str(prose), "--llm", str(tmp_path / "none.gguf")]) != 0
    err = capsys.readouterr().err
    assert "--llm and --top-k go with --sentences FILE" in err and "none.gguf: no such model file" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_the_real_model_fixes_what_the_lattice_misses():
    from parrot.llm.models import DEFAULT_MODEL, resolve_model

    engine = Engine(load_dictionary())
    with Model(str(resolve_model(DEFAULT_MODEL)), threads=2, context=512) as m:
        reranker = Reranker(LlmScorer(m), engine)
        for sentence in ["超市几点关门", "明天要交报告", "我想预约医生"]:
            digits = sentence_digits(sentence)
            cands = engine.candidates(digits)
            assert cands[0].text != sentence  # the lattice alone gets these wrong
            assert reranker(digits, cands)[0].text == sentence
