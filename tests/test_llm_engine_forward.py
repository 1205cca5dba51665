"""The forward pass against a float64 numpy implementation of the same tiny random models."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, reference_logits, write_tiny  # noqa: E402

from parrot.llm import Model, ModelError  # noqa: E402

CASES = [
    ("llama", QT.F32, {}),
    ("llama", QT.Q4_0, {"n_head_kv": 1}),
    ("qwen2", QT.F32, {"rope_base": 1e6}),
    ("qwen2", QT.Q8_0, {"tied": True}),
    ("qwen2", QT.F16, {}),
    ("qwen3", QT.F32, {"head_dim": 24, "tied": True}),
    ("qwen3", QT.Q5_0, {"head_dim": 32, "n_head_kv": 4}),
    ("qwen3", QT.Q4_1, {"head_dim": 24}),
]


@pytest.mark.parametrize("arch,wtype,extra", CASES, ids=[f"{a}-{w.name}" for a, w, _ in CASES])
def test_logits_match_numpy(tmp_path, arch, wtype, extra):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch=arch, wtype=wtype, **extra))
    ids = list(range(20, 60)) + [t.id("hello"), t.id("<|im_end|>")]
    with Model(t.path, threads=2, context=128) as m:
        assert (m.arch, m.n_vocab, m.n_layers) == (arch, t.n_vocab, t.spec.n_layers)
        got = m.eval(ids)
    # the same arithmetic as the engine: f16 KV cache, 8-bit activations into integer kernels
    ref = reference_logits(t, ids, kv_f16=True)
    assert got.shape == (len(ids), t.n_vocab)
    # most logits agree to float rounding; a rare f16 / 8-bit rounding tie that went the other
    # way moves a few (8-bit rounding of the reference's activations alone moves them ~2%)
    err, scale = np.abs(got - ref), np.abs(ref).max()
    assert np.median(err) < 1e-5 * scale
    assert err.max() < 1e-2 * scale
    assert (got.argmax(1) == ref.argmax(1)).mean() > 0.95


def test_incremental_eval_equals_batch(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2", n_ctx_train=512))
    ids = [int(i) for i in np.random.default_rng(1).integers(0, 256, 80)]  # crosses batch boundaries
    with Model(t.path, threads=2, context=512) as m:
        whole = m.eval(ids)
        m.reset()
        parts = np.concatenate([m.eval(ids[:1]), m.eval(ids[1:37]), m.eval(ids[37:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-5)


def test_thread_counts_agree(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen3", head_dim=24, n_head=6, n_head_kv=2))
    ids = list(range(30, 70))
    out = []
    for threads in (1, 2, 3):
        with Model(t.path, threads=threads, context=64) as m:
            out.append(m.eval(ids))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[0], out[2], rtol=1e-6, atol=1e-6)


def test_context_is_clamped(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="llama", n_ctx_train=100))
    with Model(t.path, threads=1, context=4096) as m:
        assert m.n_ctx == 100
    with Model(t.path, threads=1, context=40) as m:
        assert m.n_ctx == 40
        m.eval(list(range(40)))
        with pytest.raises(ModelError, match="context"):
            m.eval([1])


def test_bad_token_ids(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="llama"))
    with Model(t.path, threads=1, context=32) as m:
        with pytest.raises(ModelError, match="vocabulary"):
            m.eval([t.n_vocab])
        with pytest.raises(ModelError, match="vocabulary"):
            m.eval([-1])


def test_closed_model_raises(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="llama"))
    m = Model(t.path, threads=1, context=32)
    m.close()
    with pytest.raises(ModelError, match="closed"):
        m.eval([1])


def test_pinned_threads_and_no_spin_agree(tmp_path, monkeypatch):
    """$PARROT_CPUS pins the pool's threads (checked on a worker-free pool: the caller's own
    affinity), $PARROT_SPIN=0 makes workers sleep at once; the logits do not change."""
    import os
    import threading

    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2"))
    ids = list(range(30, 70))
    with Model(t.path, threads=2, context=64) as m:
        free_run = m.eval(ids)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    monkeypatch.setenv("PARROT_CPUS", str(cpu))
    monkeypatch.setenv("PARROT_SPIN", "0")
    seen = {}

    def run():
        with Model(t.path, threads=1, context=64) as m:
            seen["logits"] = m.eval(ids)
            seen["cpus"] = os.sched_getaffinity(0)

    th = threading.Thread(target=run)  # a thread of its own: pinning is for good
    th.start()
    th.join()
    assert seen["cpus"] == {cpu}
    np.testing.assert_allclose(seen["logits"], free_run, rtol=1e-6, atol=1e-6)
    with Model(t.path, threads=2, context=64) as m:
        np.testing.assert_allclose(m.eval(ids), free_run, rtol=1e-6, atol=1e-6)


def test_eval_last_only_returns_the_last_row(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2"))
    ids = list(range(30, 70))
    with Model(t.path, threads=2, context=64) as m:
        every = m.eval(ids)
        m.reset()
        last = m.eval(ids, last_only=True)
    assert last.shape == (1, every.shape[1])
    np.testing.assert_array_equal(last[0], every[-1])
