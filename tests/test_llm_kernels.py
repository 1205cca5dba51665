"""The integer kernels (parrot/llm/core/kernels*.c): every set this CPU runs, against the
gguf package's dequantizer and the 8-bit activation rounding, and the C driver
tests/c/kernels_test.c (each SIMD set against the portable one, exact where integer)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, q8_activations, write_tiny  # noqa: E402

from parrot.llm import Model, ModelError, Sampling, _core  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "parrot" / "llm" / "core"
SETS = [s for s in _core.kernel_sets() if s != "f32"]
TYPES = [QT.Q8_0, QT.Q4_0, QT.Q5_0, QT.Q4_K, QT.Q6_K]


def random_rows(qt: QT, rows: int, cols: int, rng) -> bytes:
    """Random quantized rows: any bit pattern is a valid block once its f16 scales are sane."""
    size, nbytes = gguf.GGML_QUANT_SIZES[qt]
    blocks = rng.integers(0, 256, (rows * cols // size, nbytes), dtype=np.uint8)
    scale = rng.uniform(0.001, 0.02, len(blocks)).astype(np.float16).view(np.uint8).reshape(-1, 2)
    if qt == QT.Q6_K:
        blocks[:, 208:210] = scale
    else:
        blocks[:, 0:2] = scale
        if qt == QT.Q4_K:
            blocks[:, 2:4] = scale
    return blocks.tobytes()


@pytest.mark.parametrize("qt", TYPES, ids=[t.name for t in TYPES])
@pytest.mark.parametrize("kset", SETS)
def test_matmul_int8_matches_gguf_dequantization(qt, kset):
    rng = np.random.default_rng(int(qt))
    rows, cols = 6, 512 if qt in (QT.Q4_K, QT.Q6_K) else 96
    data = random_rows(qt, rows, cols, rng)
    w = gguf.quants.dequantize(np.frombuffer(data, np.uint8).reshape(rows, -1), qt).astype(np.float64)
    x = (rng.standard_normal((3, cols)) * rng.uniform(0.1, 10, (3, 1))).astype(np.float32)
    got = np.frombuffer(_core.matmul_int8(int(qt), data, rows, cols, x.tobytes(), kset), np.float32).reshape(3, rows)
    ref = q8_activations(x.astype(np.float64)) @ w.T
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    # and the 8-bit rounding is what makes it differ from the float product
    assert np.abs(x @ w.T - ref).max() > 1e-4 * np.abs(ref).max()


def test_f32_set_has_no_integer_kernels():
    assert _core.kernel_sets()[-2:] == ["portable", "f32"]
    with pytest.raises(ValueError, match="no integer kernel"):
        _core.matmul_int8(int(QT.Q8_0), bytes(34), 1, 32, bytes(128), "f32")


def test_unknown_kernel_set_is_a_clear_error(tmp_path):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2"))
    with pytest.raises(ModelError, match="kernel set 'sse9' is unknown.*available:.*portable"):
        Model(t.path, kernels="sse9")


@pytest.mark.parametrize("qt", [QT.Q8_0, QT.Q4_0, QT.Q5_0], ids=["Q8_0", "Q4_0", "Q5_0"])
def test_integer_path_keeps_greedy_tokens(tmp_path, qt):
    """End to end against the f32 path the integer kernels replaced: on the f32 path's greedy
    continuation, every position whose top token leads clearly (a random tiny model has near
    ties, which 8-bit rounding may flip) picks the same token through the integer kernels."""
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2", wtype=qt, n_embd=128, n_ff=256))
    prompt = list(range(20, 40))
    with Model(t.path, threads=2, context=128, kernels="f32") as m:
        "".join(m.generate(prompt, Sampling(temperature=0, top_k=0, top_p=1, max_tokens=24)))
        seq = m._cached[:]
        m.reset()
        lf = m.eval(seq)
    assert len(seq) > len(prompt) + 8
    top2 = np.sort(lf, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.05 * np.abs(lf).max()
    assert clear.mean() > 0.5
    for kset in (SETS[0], "portable"):
        with Model(t.path, threads=2, context=128, kernels=kset) as m:
            li = m.eval(seq)
        assert np.abs(li - lf).max() < 0.05 * np.abs(lf).max()
        assert (li.argmax(1) == lf.argmax(1))[clear].all(), kset


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
def test_c_kernel_driver(tmp_path):
    exe = tmp_path / "kernels_test"
    srcs = [ROOT / "tests/c/kernels_test.c"] + sorted(CORE.glob("kernels*.c")) + [CORE / "quant.c"]
    subprocess.run(["cc", "-O2", "-std=c11", f"-I{CORE}", *map(str, srcs), "-lm", "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "all passed" in r.stdout, r.stdout + r.stderr
    for s in SETS:
        assert s in r.stdout.splitlines()[0]
