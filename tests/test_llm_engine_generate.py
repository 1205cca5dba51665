"""Generation, chat turns with KV-cache reuse, context overflow, stop tokens and abort."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, reference_logits, write_tiny  # noqa: E402

from parrot.llm import GREEDY, Model, ModelError, Sampling  # noqa: E402
from parrot.llm.presets import preset_for  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("gen") / "qwen2.gguf", Spec(arch="qwen2", n_ctx_train=1024))


@pytest.fixture(scope="module")
def slow_tiny(tmp_path_factory):
    """Big enough that a token takes a noticeable time (for abort)."""
    spec = Spec(arch="llama", n_embd=256, n_ff=768, n_layers=6, n_head=8, n_head_kv=2, n_ctx_train=4096, seed=7)
    return write_tiny(tmp_path_factory.mktemp("gen") / "llama.gguf", spec)


def greedy(n):
    return Sampling(temperature=0, top_k=0, top_p=1, min_p=0, repeat_penalty=1.0, seed=0, max_tokens=n)


def run(it):
    return "".join(it)


def test_greedy_generation_follows_reference_argmax(tiny):
    prompt = [10, 20, 30, 40, 50]
    with Model(tiny.path, threads=2, context=256) as m:
        seen = []
        m_gen = m.generate(prompt, greedy(6))
        text = run(m_gen)
        # rebuild the ids the engine produced: the KV cache holds prompt + generated[:-1]
        ids = m._cached
        assert ids[: len(prompt)] == prompt
        gen = ids[len(prompt):]
        for i, tok in enumerate(gen):
            ref = reference_logits(tiny, prompt + gen[:i])[-1]
            seen.append(tok)
            assert tok == int(np.argmax(ref))
        assert m.stats["decode_tokens"] >= len(gen)
        assert isinstance(text, str)


def test_stats_and_prefill_progress(tiny):
    prog = []
    with Model(tiny.path, threads=2, context=256) as m:
        run(m.generate(list(range(70)), greedy(5), on_progress=lambda d, t: prog.append((d, t))))
        st = m.stats
    assert prog[0] == (0, 70) and prog[-1] == (70, 70)
    assert [d for d, _ in prog] == sorted(d for d, _ in prog)
    assert st["prefill_tokens"] == 70 and st["prefill_s"] > 0 and st["prefill_tps"] > 0
    assert 1 <= st["decode_tokens"] <= 5 and st["decode_tps"] > 0
    for key in ("prefill_tokens", "prefill_s", "prefill_tps", "decode_tokens", "decode_s", "decode_tps"):
        assert key in st


def test_seeded_sampling_reproduces(tiny):
    s = Sampling(temperature=1.0, top_k=40, top_p=0.95, seed=123, max_tokens=20)
    with Model(tiny.path, threads=2, context=256) as m:
        a = run(m.generate([1, 2, 3], s))
        ids_a = list(m._cached)
        m.reset()
        b = run(m.generate([1, 2, 3], s))
        assert a == b and ids_a == m._cached


def test_stop_token_ends_generation(tiny):
    with Model(tiny.path, threads=1, context=256) as m:
        stops = set(m.stop_ids)
        assert tiny.id("<|im_end|>") in stops and tiny.id("<|endoftext|>") in stops
        # greedy from a prompt, then check: the engine ended on a stop or at the limit, never past a stop
        for start in range(0, 60, 7):
            run(m.generate([start, start + 1], greedy(30)))
            gen = m._cached[2:]
            assert not (set(gen) & stops)
            assert m.last_stop in ("stop", "length")


def test_generate_rejects_overlong_prompt(tiny):
    with Model(tiny.path, threads=1, context=32) as m:
        with pytest.raises(ModelError):
            run(m.generate(list(range(40)), greedy(4)))


def test_decode_stops_at_context_end(tiny):
    with Model(tiny.path, threads=1, context=24) as m:
        run(m.generate(list(range(20)), Sampling(temperature=1.0, seed=1, max_tokens=100)))
        assert m.last_stop in ("context", "stop")
        assert len(m._cached) <= 24
        run(m.generate(list(range(5)), greedy(3)))  # still usable


def test_utf8_is_never_split(tiny):
    # byte tokens of "你好" (3 bytes each) fed as the prompt, then detokenized piecewise
    with Model(tiny.path, threads=1, context=64) as m:
        ids = m.tokenize("你好")
        assert m.detokenize(ids) == "你好"
        assert all(i < 256 + 5 for i in ids)
        pieces = list(m.generate([5, 6], Sampling(temperature=1.5, top_k=0, top_p=1, seed=9, max_tokens=60)))
        for p in pieces:
            assert p  # every piece is a complete string; invalid bytes become U+FFFD, never partial


def test_chat_reuses_cache_across_turns(tiny):
    with Model(tiny.path, threads=2, context=1024) as m:
        run(m.chat("hello", sampling=greedy(8)))
        first = m.stats["prefill_tokens"]
        cached_after_first = len(m._cached)
        run(m.chat("hello again", sampling=greedy(8)))
        second = m.stats["prefill_tokens"]
        user2 = m.tokenize("<|im_start|>user\n") + m.tokenize("hello again", False) + m.tokenize(
            "<|im_end|>\n<|im_start|>assistant\n")
        end = m.tokenize("<|im_end|>\n")
        # only the new turn (plus the previous answer's closing tokens, and its last token if
        # it was cut by max_tokens) is evaluated — not the system prompt or the first turn
        assert second <= len(user2) + len(end) + 1
        assert second < first + cached_after_first
        assert len(m._turns) == 2


def test_new_system_prompt_or_reset_starts_over(tiny):
    with Model(tiny.path, threads=2, context=1024) as m:
        run(m.chat("hello", sampling=greedy(4)))
        run(m.chat("hello", sampling=greedy(4), system="Be brief."))
        assert len(m._turns) == 1
        m.reset()
        assert m._turns == [] and m._cached == []
        run(m.chat("hello", sampling=greedy(4)))
        user = m.tokenize("<|im_start|>user\n") + m.tokenize("hello", False) + m.tokenize(
            "<|im_end|>\n<|im_start|>assistant\n")
        # everything was evaluated again: system prompt + the user turn
        assert m.stats["prefill_tokens"] == len(m._system) + len(user)
        assert m._turns[0][: len(user)] == user


def test_context_overflow_drops_old_turns(tiny):
    with Model(tiny.path, threads=2, context=96) as m:
        for i in range(12):
            out = run(m.chat(f"hello {i} " * 3, sampling=Sampling(temperature=1.0, seed=i, max_tokens=12), system="Hi."))
            assert isinstance(out, str)
            assert len(m._cached) <= m.n_ctx
        assert len(m._turns) < 12  # old turns were dropped
        # a single message longer than the whole context is cut, not a crash
        run(m.chat("hello " * 200, sampling=greedy(4), system="Hi."))
        assert len(m._cached) <= m.n_ctx


def test_busy_model_refuses_second_generation(tiny):
    with Model(tiny.path, threads=1, context=256) as m:
        g = m.generate([1, 2, 3], greedy(50))
        next(g, None)
        with pytest.raises(ModelError, match="busy"):
            m.eval([1])
        with pytest.raises(ModelError, match="busy"):
            next(m.generate([1, 2], greedy(2)))
        g.close()  # consumer gives up: the thread is stopped and joined
        m.eval([4])  # usable again


def test_abort_from_another_thread_within_a_token(slow_tiny):
    with Model(slow_tiny.path, threads=2, context=4096) as m:
        n_full = 250
        t0 = time.monotonic()
        full = list(m.generate([1, 2, 3], greedy(n_full)))
        t_full = time.monotonic() - t0
        assert m.last_stop == "length" and m.stats["decode_tokens"] == n_full  # deterministic: no stop token
        per_token = t_full / n_full

        pieces = []
        aborted_at = []

        def stopper():
            while not pieces:
                time.sleep(0.001)
            aborted_at.append(time.monotonic())
            m.abort()

        th = threading.Thread(target=stopper)
        th.start()
        for p in m.generate([1, 2, 3], greedy(n_full)):
            pieces.append(p)
        done = time.monotonic()
        th.join()
        assert m.last_stop == "abort"
        assert m.stats["decode_tokens"] < n_full
        assert done - aborted_at[0] < max(0.5, 20 * per_token)
        assert len(full) >= len(pieces)


def test_abort_during_prefill(slow_tiny):
    with Model(slow_tiny.path, threads=2, context=4096) as m:
        prompt = [int(i) for i in np.random.default_rng(0).integers(0, 256, 2000)]

        def on_progress(done, total):
            if done > 0:
                m.abort()

        out = list(m.generate(prompt, greedy(10), on_progress=on_progress))
        assert out == [] and m.last_stop == "abort"
        assert len(m._cached) < len(prompt)
        run(m.generate([1, 2, 3], greedy(2)))  # still usable
        assert m.last_stop in ("length", "stop")


def test_presets_by_family():
    assert preset_for("qwen3").sampling.temperature == 0.6 and preset_for("qwen3").sampling.top_p == 0.95
    assert preset_for("qwen3").sampling.top_k == 20
    q25 = preset_for("qwen2").sampling
    assert (q25.temperature, q25.top_p, q25.top_k, q25.repeat_penalty) == (0.7, 0.8, 20, 1.05)
    sm = preset_for("llama", "SmolLM2 135M").sampling
    assert (sm.temperature, sm.top_p) == (0.2, 0.9)
    g3 = preset_for("gemma3", "gemma-3-270m-it").sampling
    assert (g3.temperature, g3.top_k, g3.top_p) == (1.0, 64, 0.95)
    assert GREEDY.temperature == 0


def test_abort_before_iteration_starts(tiny):
    with Model(tiny.path, threads=1, context=256) as m:
        g = m.generate([1, 2, 3], greedy(50))
        m.abort()  # e.g. the user pressed A while the request was being queued
        assert list(g) == [] and m.last_stop == "abort"
        run(m.generate([1, 2, 3], greedy(3)))  # a new generation is not affected
        assert m.last_stop in ("length", "stop")


def test_qwen3_template_thinking_switch():
    from parrot.llm.chat import template_for

    t = template_for("qwen3", "Qwen3 0.6B", lambda s: True)
    pre, post = t.user("hi", thinking=False)
    assert "".join(x for x, _ in post).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    pre, post = t.user("hi", thinking=True)
    assert "".join(x for x, _ in post).endswith("<|im_start|>assistant\n")
    assert t.system(None) == []  # Qwen3 has no default system prompt
    q25 = template_for("qwen2", "Qwen2.5", lambda s: True)
    assert "Alibaba Cloud" in "".join(x for x, _ in q25.system(None))
    smol = template_for("llama", "SmolLM2 135M", lambda s: s == "<|im_start|>")
    assert "SmolLM" in "".join(x for x, _ in smol.system(None))
    # the user's own text is never parsed for special tokens
    assert all(special for _, special in pre)


def test_close_from_another_thread_while_streaming(slow_tiny):
    m = Model(slow_tiny.path, threads=2, context=4096)
    pieces = []
    closer = threading.Thread(target=lambda: (time.sleep(0.05), m.close()))
    closer.start()
    for p in m.generate([1, 2, 3], greedy(250)):
        pieces.append(p)
    closer.join()
    assert m.last_stop == "abort" and len(pieces) < 250
    with pytest.raises(ModelError, match="closed"):
        m.eval([1])


def test_eval_after_an_abort_still_computes(tiny):
    """An abort() with nothing running must not turn the next eval() into a no-op."""
    with Model(tiny.path, threads=1, context=256) as m:
        m.abort()
        logits = m.eval([1, 2, 3])
        assert logits.shape == (3, m.n_vocab) and np.isfinite(logits).all()
