"""Every weight type the engine computes with, against the gguf package's numpy dequantizer."""
from __future__ import annotations

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from parrot.llm import _core

SIMPLE = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0]
KQUANTS = [QT.Q4_K, QT.Q5_K, QT.Q6_K]


def engine_dequant(qtype: QT, raw: bytes, n: int) -> np.ndarray:
    return np.frombuffer(_core.dequantize(int(qtype), raw, n), dtype=np.float32)


def random_kquant_blocks(qtype: QT, n_blocks: int, rng) -> np.ndarray:
    """Random valid K-quant blocks: random bits everywhere, finite f16 scales where they live."""
    bsize = gguf.GGML_QUANT_SIZES[qtype][1]
    raw = rng.integers(0, 256, size=(n_blocks, bsize), dtype=np.uint8)
    scales = (rng.standard_normal((n_blocks, 2)) * 0.05).astype(np.float16).view(np.uint8).reshape(n_blocks, 4)
    if qtype == QT.Q6_K:
        raw[:, 208:210] = scales[:, :2]  # d at the end
    else:
        raw[:, 0:4] = scales  # d, dmin at the start
    return raw


@pytest.mark.parametrize("qtype", SIMPLE, ids=lambda t: t.name)
def test_simple_quants_match_gguf(qtype):
    rng = np.random.default_rng(int(qtype))
    x = (rng.standard_normal((4, 256)) * rng.uniform(0.01, 3, size=(4, 1))).astype(np.float32)
    q = gguf.quants.quantize(x, qtype)
    ref = gguf.quants.dequantize(q, qtype).reshape(-1)
    got = engine_dequant(qtype, q.tobytes(), x.size)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    # and the round trip is close to the input (sanity of the reference itself)
    assert np.abs(got - x.reshape(-1)).max() < 0.25 * np.abs(x).max()


@pytest.mark.parametrize("qtype", KQUANTS, ids=lambda t: t.name)
def test_k_quants_match_gguf(qtype):
    rng = np.random.default_rng(100 + int(qtype))
    raw = random_kquant_blocks(qtype, 16, rng)
    ref = gguf.quants.dequantize(raw, qtype).reshape(-1)
    got = engine_dequant(qtype, raw.tobytes(), 16 * 256)
    assert np.isfinite(ref).all()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("qtype", [QT.F32, QT.F16, QT.BF16], ids=lambda t: t.name)
def test_float_types_match_gguf(qtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(96).astype(np.float32) * 10
    if qtype == QT.F32:
        raw, ref = x.tobytes(), x
    elif qtype == QT.F16:
        raw, ref = x.astype(np.float16).tobytes(), x.astype(np.float16).astype(np.float32)
    else:
        q = gguf.quants.quantize(x.reshape(1, -1), QT.BF16)
        raw, ref = q.tobytes(), gguf.quants.dequantize(q, QT.BF16).reshape(-1)
    np.testing.assert_array_equal(engine_dequant(qtype, raw, x.size), ref)


def test_f16_special_values():
    vals = np.array([0.0, -0.0, 1.0, -2.5, 65504, 6e-8, -6e-5, np.inf, -np.inf], dtype=np.float16)
    got = engine_dequant(QT.F16, vals.tobytes(), len(vals))
    np.testing.assert_array_equal(got, vals.astype(np.float32))
    assert np.isnan(engine_dequant(QT.F16, np.array([np.nan], np.float16).tobytes(), 1)[0])


@pytest.mark.parametrize("qtype", [QT.F32, QT.F16, QT.Q8_0, QT.Q4_0, QT.Q5_0, QT.Q4_K, QT.Q6_K], ids=lambda t: t.name)
def test_matmul_scalar_path_vs_numpy(qtype):
    rng = np.random.default_rng(3)
    rows, cols, n_tok = 24, 512, 3
    if qtype in (QT.Q4_K, QT.Q6_K):
        raw = random_kquant_blocks(qtype, rows * cols // 256, rng).reshape(rows, -1)
    elif qtype == QT.F32:
        raw = rng.standard_normal((rows, cols)).astype(np.float32)
    elif qtype == QT.F16:
        raw = rng.standard_normal((rows, cols)).astype(np.float16)
    else:
        raw = gguf.quants.quantize(rng.standard_normal((rows, cols)).astype(np.float32), qtype)
    w = gguf.quants.dequantize(raw, qtype).reshape(rows, cols).astype(np.float64)
    x = rng.standard_normal((n_tok, cols)).astype(np.float32)
    y = np.frombuffer(_core.matmul(int(qtype), raw.tobytes(), rows, cols, x.tobytes(), 1), np.float32)
    ref = x.astype(np.float64) @ w.T
    np.testing.assert_allclose(y.reshape(n_tok, rows), ref, rtol=1e-4, atol=1e-3 * np.abs(ref).max())


def test_dequantize_rejects_short_buffers():
    with pytest.raises(ValueError):
        _core.dequantize(int(QT.Q8_0), b"\0" * 33, 32)
    with pytest.raises(ValueError):
        _core.dequantize(int(QT.IQ2_XXS), b"\0" * 66, 256)  # not computed by the engine
