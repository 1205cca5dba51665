"""The LLM re-ranks the T9 sentence candidates while the keypad rests (llm.rerank): on the test
board with the tiny converted model, on the virtual clock. The order shown is the re-ranker's;
a key before the answer drops it; the echo backend and llm.rerank = false leave the lattice's."""

from __future__ import annotations

import pytest

import llm_tiny
from parrot.app import assemble
from parrot.app import effects as fx
from parrot.app.assemble import build_appliance
from parrot.app.screens.input import RERANK_IDLE_S
from parrot.app.state import ScreenName
from parrot.boards.test import TestBoard
from parrot.config import Config, validate
from parrot.events import CandidatesReranked
from parrot.ime.dictionary import load_dictionary
from parrot.ime.engine import Engine
from parrot.ime.rerank import LlmScorer, Reranker
from parrot.ime.sentence_eval import evaluate_sentences, sentence_digits
from parrot.keys import Key
from parrot.llm import Model

pytest.importorskip("torch")

DIGITS = "94264"  # 今天 / 金田 ...: sentences and whole-input words the tiny model orders its own way


def make(tmp_path, monkeypatch, backend="llm", rerank=True):
    model = llm_tiny.tiny_gguf("qwen2", "q8_0")
    monkeypatch.setattr(assemble, "resolve_with_family", lambda name: (model, None))
    config = Config(validate({"ui": {"splash_s": 0.02},
                              "llm": {"model": "tiny", "threads": 1, "context": 256, "rerank": rerank}}))
    appliance = build_appliance(TestBoard(), config, tmp_path, backend=backend)
    seen = []
    appliance.runtime.listeners.append(seen.append)
    while not appliance.app.status.model:
        appliance.tick()
    appliance.app.go(ScreenName.INPUT)
    return appliance, seen, model


def type_keys(appliance, digits):
    for label in digits:
        appliance.hold(Key.from_label(label), 0.05)
        appliance.advance(0.1)  # shorter than the idle time: no re-rank between keys


def shown(appliance):
    return [t for page in appliance.app.screens[ScreenName.INPUT].session.all_pages() for t in page]


def expected_order(model_path, session):
    """What the re-ranker makes of the lattice's list, with a model of its own."""
    _, digits, items = session.rerank_job()
    with Model(str(model_path), threads=1, context=256) as m:
        return [c.text for c in Reranker(LlmScorer(m), session.engine)(digits, items)]


def test_resting_keypad_shows_the_models_order(tmp_path, monkeypatch):
    appliance, seen, model = make(tmp_path, monkeypatch)
    try:
        type_keys(appliance, DIGITS)
        session = appliance.app.screens[ScreenName.INPUT].session
        lattice = shown(appliance)
        want = expected_order(model, session)
        assert want != lattice, "pick digits the tiny model re-orders: else this test cannot fail"
        appliance.advance(RERANK_IDLE_S + 0.2)
        assert [e for e in seen if isinstance(e, CandidatesReranked)]
        assert shown(appliance) == want
        # asked once per key state: resting longer asks nothing more
        n = len(seen)
        appliance.advance(1.0)
        assert not [e for e in seen[n:] if isinstance(e, CandidatesReranked)]
        # the scorer replaced the conversation in the KV cache: the next question still answers
        chat = appliance.app.screens[ScreenName.CHAT]
        appliance.app.settings["max_tokens"] = 4
        chat.ask("你好")
        while chat.busy:
            appliance.tick()
        assert chat.turns[-1].answer and not chat.turns[-1].error
    finally:
        appliance.close()


def test_a_key_before_the_answer_drops_it(tmp_path, monkeypatch):
    appliance, seen, model = make(tmp_path, monkeypatch)
    try:
        runtime = appliance.runtime
        held, carry_out = [], runtime.carry_out

        def busy_worker(effect):  # the model worker is still busy: the re-rank waits
            (held.append if isinstance(effect, fx.RerankCandidates) else carry_out)(effect)

        monkeypatch.setattr(runtime, "carry_out", busy_worker)
        type_keys(appliance, DIGITS)
        while not held:
            appliance.tick()
        screen = appliance.app.screens[ScreenName.INPUT]
        lattice = shown(appliance)
        assert held[0].keys == screen.session.keys_handled and [c.text for c in held[0].candidates] == lattice
        appliance.hold(Key.STAR, 0.05)  # the user moves the highlight meanwhile
        appliance.advance(0.1)
        assert screen.session.keys_handled > held[0].keys
        before = shown(appliance)
        carry_out(held.pop())  # the worker gets to it now
        while not (answers := [e for e in seen if isinstance(e, CandidatesReranked)]):
            appliance.tick()
        assert [c.text for c in answers[0].items] != lattice, "the answer would have changed the order"
        assert shown(appliance) == before == lattice
        # the next rest asks again for what is on screen now
        appliance.advance(RERANK_IDLE_S + 0.1)
        assert held and held[0].keys == screen.session.keys_handled
    finally:
        appliance.close()


def test_the_apps_first_candidate_is_what_the_eval_measures(tmp_path, monkeypatch):
    """`parrot ime eval --sentences F --llm` computes the first candidate the app shows once the
    keypad rests: same search (the default one shown, the wider one re-ranked), same scoring."""
    sentence = "我们下周再聊"
    appliance, seen, model = make(tmp_path, monkeypatch)
    try:
        type_keys(appliance, sentence_digits(sentence))
        before = shown(appliance)
        appliance.advance(RERANK_IDLE_S + 0.2)
        while not [e for e in seen if isinstance(e, CandidatesReranked)]:
            appliance.tick()
        after = shown(appliance)
    finally:
        appliance.close()
    engine = Engine(load_dictionary())
    with Model(str(model), threads=1, context=256) as m:
        result = evaluate_sentences(engine, [sentence], Reranker(LlmScorer(m), engine)).results[0]
    assert (result.lattice_first, result.first) == (before[0], after[0])
    assert after[:3] != before[:3], "the tiny model re-orders these: else this test cannot fail"


@pytest.mark.parametrize("backend, rerank", [("echo", True), ("llm", False)])
def test_echo_backend_or_the_setting_off_keeps_the_lattice_order(tmp_path, monkeypatch, backend, rerank):
    appliance, seen, model = make(tmp_path, monkeypatch, backend, rerank)
    try:
        type_keys(appliance, DIGITS)
        lattice = shown(appliance)
        appliance.advance(RERANK_IDLE_S + 1.0)
        assert shown(appliance) == lattice
        assert not [e for e in seen if isinstance(e, CandidatesReranked)]
    finally:
        appliance.close()
