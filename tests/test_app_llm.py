"""The appliance with the real LLM core: a tiny converted model answering in the chat screen,
aborting, and a corrupt model file reported on screen instead of crashing."""

from __future__ import annotations

import time

import pytest

import llm_tiny
from parrot.app import effects as fx
from parrot.app.core import ScreenName
from parrot.app.llm_backend import LlmBackend
from parrot.app.runtime import Runtime
from parrot.app.wiring import build_app
from parrot.config import Config, validate
from parrot.events import LlmToken

pytest.importorskip("torch")


class FrameSink:
    def __init__(self):
        self.frames = []

    def show(self, image):
        self.frames.append(image.copy())

    def close(self):
        pass


def make(tmp_path, model_path):
    app = build_app(Config(validate({})), tmp_path, now=0.0, wall_clock_base=0.0)
    backend = LlmBackend(lambda name: (model_path, None), threads=1, context=256)
    seen = []
    runtime = Runtime(app, FrameSink(), backend, tmp_path)
    runtime.listeners.append(seen.append)
    return app, runtime, seen


def run_until(runtime, done, timeout=60.0):
    t = 0.0
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)
        t += 0.02
        runtime.step(t)


def with_tiny_model(tmp_path):
    """An app whose runtime has loaded the tiny Qwen2 model (loaded like on the device)."""
    app, runtime, seen = make(tmp_path, llm_tiny.tiny_gguf("qwen2", "q8_0"))
    runtime.carry_out(fx.LoadModel("tiny"))
    run_until(runtime, lambda: app.status.model == "tiny")
    return app, runtime, seen


def test_question_answered_by_the_model(tmp_path):
    app, runtime, seen = with_tiny_model(tmp_path)
    try:
        chat = app.screens[ScreenName.CHAT]
        app.settings["max_tokens"] = 12
        chat.ask("你好")
        runtime.step(0.0)
        run_until(runtime, lambda: not chat.busy)
        turn = chat.turns[-1]
        tokens = [e.text for e in seen if isinstance(e, LlmToken)]
        assert tokens and turn.answer == "".join(tokens) and not turn.error
        assert turn.stats["decode_tokens"] >= 1 and turn.stats["prefill_tokens"] > 2
        assert turn.answer.replace("\n", "") in "".join(chat.view.lines) or chat.view.total_lines > 2
        # A follow-up only prefills its own tokens: the KV cache holds the first turn.
        first_prefill = turn.stats["prefill_tokens"]
        chat.ask("再说一遍")
        run_until(runtime, lambda: not chat.busy)
        second_prefill = chat.turns[-1].stats["prefill_tokens"]
        assert 0 < second_prefill < first_prefill + turn.stats["decode_tokens"], (first_prefill, second_prefill)
    finally:
        runtime.close()


def test_abort_stops_within_a_token(tmp_path):
    app, runtime, seen = with_tiny_model(tmp_path)
    try:
        chat = app.screens[ScreenName.CHAT]
        app.settings["max_tokens"] = 4000
        chat.ask("讲个很长的故事")
        run_until(runtime, lambda: len(chat.turns[-1].answer) > 0)
        runtime.carry_out(fx.AbortLlm(chat.request))
        run_until(runtime, lambda: not chat.busy, timeout=10)
        assert chat.turns[-1].aborted and chat.turns[-1].stats["decode_tokens"] < 200
    finally:
        runtime.close()


def test_corrupt_model_is_reported_not_fatal(tmp_path):
    good = llm_tiny.tiny_gguf("qwen2", "q8_0").read_bytes()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(good[: len(good) // 3])
    app, runtime, _ = make(tmp_path, bad)
    try:
        app.status.model_loading = "bad"
        runtime.carry_out(fx.LoadModel("bad"))
        run_until(runtime, lambda: app.status.model_loading is None)
        assert app.status.model is None and app.status.model_error
        chat = app.screens[ScreenName.CHAT]
        chat.ask("你好")
        run_until(runtime, lambda: not chat.busy)
        assert chat.turns[-1].error  # "no model" shown in the chat, the app goes on
        app.go(ScreenName.MODELS)
        app.render()
    finally:
        runtime.close()
