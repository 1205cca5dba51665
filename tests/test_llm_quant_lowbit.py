"""Q2_K, Q3_K, IQ4_NL and IQ4_XS (parrot/llm/core/kernels_lowbit.c): the dequantizer element for
element against the gguf package's numpy dequantizer, and every kernel set's integer dot against
dequantize-then-dot, on random blocks (the gguf package cannot quantize to these types; any bit
pattern is a valid block once its f16 scales are finite)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from llm_engine_util import Spec, q8_activations, random_blocks, reference_logits, write_tiny
from parrot.llm import Model, _core

LOWBIT = [QT.Q2_K, QT.Q3_K, QT.IQ4_NL, QT.IQ4_XS]
SETS = [s for s in _core.kernel_sets() if s != "f32"]
@pytest.mark.parametrize("qt", LOWBIT, ids=lambda t: t.name)
def test_dequantize_matches_gguf(qt):
    rng = np.random.default_rng(1000 + int(qt))
    n_blocks = 64 if gguf.GGML_QUANT_SIZES[qt][0] == 32 else 16
    raw = random_blocks(qt, n_blocks, rng)
    ref = gguf.quants.dequantize(raw, qt).reshape(-1)
    got = np.frombuffer(_core.dequantize(int(qt), raw.tobytes(), ref.size), np.float32)
    assert np.isfinite(ref).all() and np.abs(ref).max() > 0
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7 * np.abs(ref).max())


@pytest.mark.parametrize("qt", LOWBIT, ids=lambda t: t.name)
@pytest.mark.parametrize("kset", SETS)
def test_integer_dot_matches_dequantize_then_dot(qt, kset):
    rng = np.random.default_rng(2000 + int(qt))
    rows, cols = 5, 512
    raw = random_blocks(qt, rows * cols // gguf.GGML_QUANT_SIZES[qt][0], rng)
    w = gguf.quants.dequantize(raw.reshape(rows, -1), qt).astype(np.float64)
    x = (rng.standard_normal((3, cols)) * rng.uniform(0.1, 10, (3, 1))).astype(np.float32)
    got = np.frombuffer(_core.matmul_int8(int(qt), raw.tobytes(), rows, cols, x.tobytes(), kset), np.float32)
    ref = q8_activations(x.astype(np.float64)) @ w.T
    np.testing.assert_allclose(got.reshape(3, rows), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("qt", LOWBIT, ids=lambda t: t.name)
def test_scalar_matmul_path_matches_numpy(qt):
    """The f32 path (dequantize a row, dot in float) the engine falls back to."""
    rng = np.random.default_rng(3000 + int(qt))
    rows, cols = 7, 256
    raw = random_blocks(qt, rows * cols // gguf.GGML_QUANT_SIZES[qt][0], rng)
    w = gguf.quants.dequantize(raw.reshape(rows, -1), qt).astype(np.float64)
    x = rng.standard_normal((2, cols)).astype(np.float32)
    got = np.frombuffer(_core.matmul(int(qt), raw.tobytes(), rows, cols, x.tobytes(), 1), np.float32)
    ref = x.astype(np.float64) @ w.T
    np.testing.assert_allclose(got.reshape(2, rows), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("qt", LOWBIT, ids=lambda t: t.name)
def test_tiny_model_forward_matches_numpy(tmp_path, qt):
    """A whole forward pass with every big matrix in the format, against the numpy reference
    computed from the gguf package's dequantization of the same file: exactly on the f32 path;
    through the integer kernels within the 8-bit activation rounding (the reference rounds too,
    but a float32 rounding difference can flip one activation's rounding and the random model
    amplifies it; Q2_K's subtracted minimums cancel most, so it differs most)."""
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2", wtype=qt, n_embd=256, n_ff=512, n_head=4, n_head_kv=2))
    ids = list(range(30, 42))
    ref = reference_logits(t, ids, kv_f16=True, act_q8=False)
    with Model(t.path, threads=2, context=64, kernels="f32") as m:
        got = m.eval(ids)
    assert np.abs(got - ref).max() < 1e-4 * np.abs(ref).max()
    ref = reference_logits(t, ids, kv_f16=True, act_q8=True)
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.05 * np.abs(ref).max()
    for kset in SETS:
        with Model(t.path, threads=2, context=64, kernels=kset) as m:
            got = m.eval(ids)
        assert np.abs(got - ref).max() < 2e-2 * np.abs(ref).max(), kset
        assert (got.argmax(1) == ref.argmax(1))[clear].all(), kset


ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "parrot" / "llm" / "core"


def _build_driver(cc: str, out: Path) -> None:
    srcs = [ROOT / "tests/c/lowbit_test.c"] + sorted(CORE.glob("kernels*.c")) + [CORE / "quant.c"]
    subprocess.run([cc, "-O2", "-std=c11", "-Wall", "-Werror", f"-I{CORE}", *map(str, srcs), "-lm", "-o", str(out)],
                   check=True, timeout=300)


@pytest.mark.skipif(not shutil.which("cc"), reason="no C compiler")
def test_c_driver_every_set_of_this_cpu(tmp_path):
    exe = tmp_path / "lowbit_test"
    _build_driver("cc", exe)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "lowbit: all passed" in r.stdout, r.stdout + r.stderr
    assert r.stdout.splitlines()[0].split()[1:] == _core.kernel_sets()


ARM_CC, QEMU = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")


@pytest.mark.skipif(not (ARM_CC and QEMU), reason="no aarch64 cross compiler / qemu-aarch64 (make test-arm-kernels installs them)")
def test_c_driver_on_aarch64_under_qemu(tmp_path):
    """The NEON and dot-product bodies (kernels_lowbit_arm.inc) on an emulated Cortex-A76 (has
    sdot) and Cortex-A53 (has not), against the portable reference."""
    exe = tmp_path / "lowbit_test_arm"
    _build_driver(ARM_CC, exe)
    for cpu, sets in (("cortex-a76", "dotprod neon portable f32"), ("cortex-a53", "neon portable f32")):
        r = subprocess.run([QEMU, "-cpu", cpu, "-L", "/usr/aarch64-linux-gnu", str(exe)], capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0 and "lowbit: all passed" in r.stdout, cpu + r.stdout + r.stderr
        assert r.stdout.splitlines()[0] == f"sets: {sets}", cpu
