"""Our engine's logits against transformers', step by step, on converted tiny models.

References:
  - F32 and F16 files: the original transformers model (for F16 with its matrices rounded to
    float16 the way the file stores them), tight tolerance.
  - Q8_0 files: transformers running the file's own weights (dequantized by the `gguf`
    package) for a tight-ish check and identical greedy tokens; the original float32 model
    for the end-to-end quantization error, with a stated bound.
The first tests need no engine: the converted file, dequantized and run by transformers,
must reproduce the checkpoint's logits exactly (F32).
"""

from __future__ import annotations

import numpy as np
import pytest

import llm_tiny

torch = pytest.importorskip("torch")

PROMPT = "你好，电子鹦鹉! The parrot says 42."
N_STEPS = 16

# Max |engine - reference| / max |reference| over all compared logits. The engine keeps its KV
# cache in float16, which alone gives ~5e-4 here; measured on the tiny models: F32 2-5e-4,
# F16 2-6e-4, Q8_0 vs its own weights 3-6e-4, Q8_0 vs float32 1.3-2.5e-2.
TOLERANCE = {
    "f32": 1e-3,
    "f16": 1.5e-3,  # against transformers on the same float16-rounded matrices
    "q8_0": 2e-3,  # against transformers on the same Q8_0 weights (f32 activations)
}
# The integer kernels round matmul inputs to 8 bits per block of 32 (as llama.cpp does):
# measured 1.5-2.5e-2 on these tiny models against the same weights.
INT8_ACTIVATIONS_TOLERANCE = 4e-2
Q8_VS_F32_TOLERANCE = 5e-2  # the whole Q8_0 error against the float32 checkpoint


def _prompt_ids(arch):
    ids = llm_tiny.tiny_hf_tokenizer(arch).encode(PROMPT)
    assert 8 <= len(ids) <= 40
    return ids


def _hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def _rel_err(got, ref):
    return float(np.abs(got - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_converted_f32_file_reproduces_checkpoint_in_transformers(arch):
    ids = _prompt_ids(arch)
    ref = _hf_logits(llm_tiny.tiny_reference(arch), ids)
    got = _hf_logits(llm_tiny.hf_model_from_gguf(llm_tiny.tiny_gguf(arch, "f32")), ids)
    assert np.abs(ref).max() > 1.0  # logits with a real spread, not a near-uniform model
    assert _rel_err(got, ref) < 1e-6


@pytest.fixture(scope="module")
def engine():
    from parrot.llm import Model  # the engine is built: failing to import it is a failure

    return Model


def _f16_rounded_reference(arch):
    """The original model with every matrix rounded to float16, as the F16 file stores it."""
    import copy

    model = copy.deepcopy(llm_tiny.tiny_reference(arch))
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.copy_(p.half().float())
    return model


def _greedy_compare(Model, path, reference, ids, tolerance, kernels=None):
    """Prefill, then N_STEPS greedy steps; every step's logits must match the reference."""
    m = Model(str(path), threads=2, context=128, kernels=kernels)
    worst = 0.0
    tokens = []
    try:
        m.reset()
        got = m.eval(ids)
        ref = _hf_logits(reference, ids)
        assert got.shape == ref.shape and got.dtype == np.float32
        worst = _rel_err(got, ref)
        assert worst < tolerance, f"prefill: {worst}"
        seq = list(ids)
        for step in range(N_STEPS):
            token = int(np.argmax(got[-1]))
            assert token == int(np.argmax(ref[-1])), f"greedy token differs at step {step}"
            tokens.append(token)
            seq.append(token)
            got = m.eval([token])
            ref = _hf_logits(reference, seq)[-1:]
            err = _rel_err(got, ref)
            assert err < tolerance, f"step {step}: {err}"
            worst = max(worst, err)
    finally:
        m.close()
    return worst, tokens


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_engine_f32_matches_transformers(engine, arch):
    worst, _ = _greedy_compare(
        engine, llm_tiny.tiny_gguf(arch, "f32"), llm_tiny.tiny_reference(arch), _prompt_ids(arch), TOLERANCE["f32"]
    )
    print(f"{arch} f32: max rel logit error {worst:.2e}")


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_engine_f16_matches_transformers(engine, arch):
    worst, _ = _greedy_compare(
        engine, llm_tiny.tiny_gguf(arch, "f16"), _f16_rounded_reference(arch), _prompt_ids(arch), TOLERANCE["f16"]
    )
    print(f"{arch} f16: max rel logit error {worst:.2e}")


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_engine_q8_0_matches_transformers(engine, arch):
    path = llm_tiny.tiny_gguf(arch, "q8_0")
    ids = _prompt_ids(arch)
    same_weights = llm_tiny.hf_model_from_gguf(path)
    worst, tokens = _greedy_compare(engine, path, same_weights, ids, TOLERANCE["q8_0"], kernels="f32")
    print(f"{arch} q8_0 vs same weights: max rel logit error {worst:.2e}")
    # the default path (integer kernels, 8-bit activations) on the same token sequence
    m = engine(str(path), threads=2, context=128)
    try:
        seq = ids + tokens
        got, ref = m.eval(seq), _hf_logits(same_weights, seq)
    finally:
        m.close()
    err8 = _rel_err(got, ref)
    print(f"{arch} q8_0 with 8-bit activations vs same weights: max rel logit error {err8:.2e}")
    assert err8 < INT8_ACTIVATIONS_TOLERANCE
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.9

    # End to end against the float32 original, on the same token sequence.
    m = engine(str(path), threads=2, context=128)
    try:
        seq = ids + tokens
        m.reset()
        err = _rel_err(m.eval(seq), _hf_logits(llm_tiny.tiny_reference(arch), seq))
    finally:
        m.close()
    print(f"{arch} q8_0 vs f32 transformers: max rel logit error {err:.2e}")
    assert err < Q8_VS_F32_TOLERANCE


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_engine_tokenizer_matches_transformers(engine, arch):
    """The tokenizer metadata we write makes the engine tokenize like the HF tokenizer."""
    hf_tok = llm_tiny.tiny_hf_tokenizer(arch)
    m = engine(str(llm_tiny.tiny_gguf(arch, "q8_0")), threads=1, context=64)
    try:
        texts = [PROMPT, "def f(x):\n    return x*2  # 12345", "北京 上海 2024年10月1日<|im_end|>"]
        if arch == "qwen3":
            texts.append("<think>嗯</think>你好")
        for text in texts:
            assert m.tokenize(text, special=True) == hf_tok.encode(text), text
            assert m.detokenize(hf_tok.encode(text)) == text
    finally:
        m.close()
