"""The appliance with the real LLM core: a tiny converted model answering in the chat screen,
aborting, and a corrupt model file reported on screen instead of crashing."""

from __future__ import annotations

import time

import pytest

import llm_tiny
from parrot.app import assemble
from parrot.app import effects as fx
from parrot.app.assemble import build_appliance
from parrot.app.state import ModelEntry, ScreenName
from parrot.boards.test import TestBoard
from parrot.config import Config, validate
from parrot.errors import UserError
from parrot.events import KeyEvent, LlmToken
from parrot.keys import Key, KeyAction

pytest.importorskip("torch")


def make(tmp_path, model_path, monkeypatch, threaded=False):
    """The appliance on the test board with the LLM backend resolving every name to model_path.
    threaded: on a real clock (the model in its worker thread, as on the device)."""
    monkeypatch.setattr(assemble, "resolve_with_family", lambda name: (model_path, None))
    board = TestBoard()
    if threaded:
        from parrot.clock import WallClock
        board.clock = WallClock()
    config = Config(validate({"llm": {"model": "tiny", "threads": 1, "context": 256}}))
    appliance = build_appliance(board, config, tmp_path, backend="llm")
    seen = []
    appliance.runtime.listeners.append(seen.append)
    return appliance, seen


def run_until(appliance, done, timeout=60.0):
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        if not appliance.clock.virtual:
            time.sleep(0.005)
            appliance.runtime.step(appliance.clock.now())
        else:
            appliance.tick()


def with_tiny_model(tmp_path, monkeypatch, threaded=False):
    """An appliance that has loaded the tiny Qwen2 model at boot, like the device."""
    appliance, seen = make(tmp_path, llm_tiny.tiny_gguf("qwen2", "q8_0"), monkeypatch, threaded)
    run_until(appliance, lambda: appliance.app.status.model == "tiny")
    return appliance.app, appliance, seen


def test_question_answered_by_the_model(tmp_path, monkeypatch):
    app, runtime, seen = with_tiny_model(tmp_path, monkeypatch)
    try:
        chat = app.screens[ScreenName.CHAT]
        app.settings["max_tokens"] = 12
        chat.ask("你好")
        run_until(runtime, lambda: not chat.busy)
        turn = chat.turns[-1]
        tokens = [e.text for e in seen if isinstance(e, LlmToken)]
        assert tokens and turn.answer == "".join(tokens) and not turn.error
        assert turn.stats["decode_tokens"] >= 1 and turn.stats["prefill_tokens"] > 2
        # What the chat shows is the question and the streamed answer, wrapped: nothing lost.
        assert "".join(chat.view.lines) == f"问：你好答：{turn.answer}".replace("\n", "")
        # A follow-up only prefills its own tokens: the KV cache holds the first turn.
        first_prefill = turn.stats["prefill_tokens"]
        chat.ask("再说一遍")
        run_until(runtime, lambda: not chat.busy)
        second_prefill = chat.turns[-1].stats["prefill_tokens"]
        assert 0 < second_prefill < first_prefill + turn.stats["decode_tokens"], (first_prefill, second_prefill)
    finally:
        runtime.close()


def test_abort_stops_within_a_token(tmp_path, monkeypatch):
    app, runtime, seen = with_tiny_model(tmp_path, monkeypatch)
    try:
        chat = app.screens[ScreenName.CHAT]
        app.settings["max_tokens"] = 4000
        chat.ask("讲个很长的故事")
        run_until(runtime, lambda: len(chat.turns[-1].answer) > 0)
        runtime.runtime.carry_out(fx.AbortLlm(chat.request))
        run_until(runtime, lambda: not chat.busy, timeout=10)
        assert chat.turns[-1].aborted and chat.turns[-1].stats["decode_tokens"] < 200
    finally:
        runtime.close()


def test_corrupt_model_is_reported_not_fatal(tmp_path, monkeypatch):
    good = llm_tiny.tiny_gguf("qwen2", "q8_0").read_bytes()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(good[: len(good) // 3])
    appliance, _ = make(tmp_path, bad, monkeypatch)
    app = appliance.app
    try:
        run_until(appliance, lambda: app.status.model_loading is None)
        assert app.status.model is None and app.status.model_error
        chat = app.screens[ScreenName.CHAT]
        chat.ask("你好")
        assert app.screen.name is ScreenName.NO_MODEL and not chat.turns, "no pretending to answer"
        app.go(ScreenName.MODELS)
        app.render()
    finally:
        appliance.close()


def switch_to(appliance, name):
    """Choose `name` on the models screen and wait for the load to end."""
    app = appliance.app
    app.go(ScreenName.MODELS)
    models = app.screen
    models.list.index = [e.name for e in models.entries].index(name)
    app.handle(KeyEvent(Key.D, KeyAction.PRESS))
    assert app.status.model_loading == name
    run_until(appliance, lambda: app.status.model_loading is None, timeout=600)
    return models


def failed_switch_goes_back(tmp_path, monkeypatch, good, bad, name):
    """Boot on `good` (called `name`), switch to the corrupt `bad`: the switch fails, says why,
    and `name` is loaded again and answers."""
    files = {name: good, "broken": bad}
    monkeypatch.setattr(assemble, "list_models", lambda: [ModelEntry(n, "") for n in files])
    monkeypatch.setattr(assemble, "resolve_with_family", lambda n: (files[n], None))
    config = Config(validate({"llm": {"model": name, "threads": 2, "context": 256}}))
    appliance = build_appliance(TestBoard(), config, tmp_path, backend="llm")
    app = appliance.app
    try:
        run_until(appliance, lambda: app.status.model == name, timeout=600)
        models = switch_to(appliance, "broken")
        backend = appliance.runtime.backend
        assert app.status.model == name and backend.name == name and backend.model is not None
        assert app.status.model_error.startswith("broken：")
        shown = "".join(models.error_page().lines).replace(" ", "")  # (wrapping drops spaces)
        assert shown.startswith("加载失败：broken：") and shown.endswith(f"（仍在使用{name}）"), shown
        app.settings["max_tokens"] = 4
        chat = app.screens[ScreenName.CHAT]
        chat.ask("你好")
        run_until(appliance, lambda: not chat.busy, timeout=600)
        assert chat.turns[-1].answer and not chat.turns[-1].error, "the model before answers"
    finally:
        appliance.close()


def test_a_failed_model_switch_loads_the_previous_model_again(tmp_path, monkeypatch):
    good = llm_tiny.tiny_gguf("qwen2", "q8_0")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # the tensor data cut off
    failed_switch_goes_back(tmp_path / "data", monkeypatch, good, bad, "tiny")


@pytest.mark.slow
def test_a_failed_switch_from_the_real_model_loads_it_again(tmp_path, monkeypatch):
    from parrot.llm.models import DEFAULT_MODEL, resolve_model

    try:
        real = resolve_model(DEFAULT_MODEL)
    except UserError as e:
        pytest.skip(str(e))
    bad = tmp_path / "corrupt.gguf"
    with open(real, "rb") as f:
        header = bytearray(f.read(16 << 20))  # the header and the first tensors, the rest cut off
    bad.write_bytes(bytes(header))
    failed_switch_goes_back(tmp_path / "data", monkeypatch, real, bad, DEFAULT_MODEL)


def test_threaded_runtime_answers_like_the_device(tmp_path, monkeypatch):
    """On a real clock the model runs in its worker thread; the answer is the same as stepped."""
    stepped_app, stepped, _ = with_tiny_model(tmp_path / "a", monkeypatch)
    threaded_app, threaded, _ = with_tiny_model(tmp_path / "b", monkeypatch, threaded=True)
    try:
        answers = []
        for app, appliance in ((stepped_app, stepped), (threaded_app, threaded)):
            app.settings["max_tokens"] = 10
            chat = app.screens[ScreenName.CHAT]
            chat.ask("你好")
            run_until(appliance, lambda: not chat.busy)
            answers.append(chat.turns[-1].answer)
        assert answers[0] and answers[0] == answers[1]
    finally:
        stepped.close()
        threaded.close()


def test_a_saved_conversation_is_the_models_context_again(tmp_path, monkeypatch):
    """History continued: restore() lays the saved turns out as chat() would have."""
    app, appliance, _ = with_tiny_model(tmp_path, monkeypatch)
    try:
        model = appliance.runtime.backend.model
        app.settings["max_tokens"] = 6
        chat = app.screens[ScreenName.CHAT]
        chat.ask("你好")
        run_until(appliance, lambda: not chat.busy)
        live_turns = [list(t) for t in model._turns]
        model.reset()
        model.restore([("你好", chat.turns[-1].answer)], system=appliance.runtime.backend.preset.system_prompt)
        restored = [list(t) for t in model._turns]
        assert len(restored) == 1 and model.history_tokens > 0
        # Same layout: the question part is identical, then the answer's text tokenized again,
        # then the template's end-of-answer.
        answer_ids = model._c.tokenize(chat.turns[-1].answer, False)
        end_ids = model._segments(model.template.end_of_answer())
        n = len(restored[0]) - len(answer_ids) - len(end_ids)
        assert n > 0 and restored[0][:n] == live_turns[0][:n]
        assert restored[0][n:] == answer_ids + end_ids
    finally:
        appliance.close()
