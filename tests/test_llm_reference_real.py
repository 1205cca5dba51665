"""The real registry model (slow: needs `parrot models pull qwen2.5-coder-0.5b`, ~491 MB).

Outside reference: transformers running the file's own weights, dequantized by the `gguf`
package (llm_tiny.hf_model_from_gguf), on the first prompt tokens.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import llm_tiny
from parrot.llm import models

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")

PROMPT = "你好！请用一句话介绍一下北京。"
INTEGER_TOLERANCE = 5e-2


def _pulled(name: str, q8: bool = False):
    entry = models.REGISTRY[name]
    path = models.model_path(entry)
    if not path.exists():
        pytest.skip(f"{path} not pulled (run: parrot models pull {entry.name})")
    if q8:
        path = path.parent / entry.q8_filename
        if not path.exists():
            pytest.skip(f"no Q8_0 copy (run: parrot models pull {entry.name} --convert-q8)")
    else:
        assert models.is_verified(path, entry), "the pulled file does not match the registry sha256"
    return path


@pytest.fixture(scope="module")
def engine():
    from parrot.llm import Model

    return Model


def _greedy_chat(engine, path, prompt, max_tokens=24, kernels=None):
    import dataclasses

    from parrot.llm import GREEDY

    m = engine(str(path), threads=2, context=512, kernels=kernels)
    try:
        answer = "".join(m.chat(prompt, sampling=dataclasses.replace(GREEDY, max_tokens=max_tokens)))
        return m, answer
    finally:
        m.close()


def test_qwen_greedy_chinese_answer(engine):
    m, answer = _greedy_chat(engine, _pulled("qwen2.5-coder-0.5b"), PROMPT)
    assert m.arch == "qwen2" and m.n_vocab == 151936
    print("answer:", answer)
    assert answer.strip()
    assert re.search(r"[\u4e00-\u9fff]", answer), answer  # it answers in Chinese
    assert "\ufffd" not in answer  # no broken UTF-8 between streamed pieces


def test_smollm_greedy_english_answer(engine):
    # Through the float path (the weights' own values): 8-bit activations, as in the integer
    # kernels and in llama.cpp, tip this 135M Q4_1 model to "L'Étoile, la Marseillaise, la
    # femme" (llama.cpp 0.94.0's llama-completion writes the same on this file, 2026-12-01)
    m, answer = _greedy_chat(engine, _pulled("smollm2-135m"), "What is the capital of France?", 16, kernels="f32")
    assert m.arch == "llama"
    print("answer:", answer)
    assert "Paris" in answer


@pytest.mark.parametrize(
    "name,q8",
    [("qwen2.5-coder-0.5b", False), ("qwen2.5-coder-0.5b", True), ("smollm2-135m", False), ("smollm2-135m", True)],
    ids=["qwen-q4_k_m", "qwen-q8_0", "smollm-q4_1", "smollm-q8_0"],
)
def test_first_prompt_logits_match_transformers(engine, name, q8):
    path = _pulled(name, q8)
    got = {}
    for kernels in ("f32", None):  # the float path, and the integer kernels (8-bit activations)
        m = engine(str(path), threads=2, context=256, kernels=kernels)
        try:
            ids = m.tokenize("<|im_start|>user\n" + PROMPT, special=True)[:8]
            got[kernels] = m.eval(ids)
        finally:
            m.close()
    reference = llm_tiny.hf_model_from_gguf(path)
    with torch.no_grad():
        exact = reference(torch.tensor([ids])).logits[0].numpy()
    # The engine keeps K and V in float16. Qwen2.5's large K biases make that rounding visible
    # (~2 % of the logit range, enough to flip a near-tie), so the tight comparison is against
    # transformers with its K/V projections rounded to float16 the same way.
    for layer in reference.model.layers:
        for proj in (layer.self_attn.k_proj, layer.self_attn.v_proj):
            proj.register_forward_hook(lambda module, inputs, out: out.half().float())
    with torch.no_grad():
        f16_kv = reference(torch.tensor([ids])).logits[0].numpy()
    del reference
    scale = np.abs(exact).max()
    for kernels, logits in got.items():
        err_f16_kv = float(np.abs(logits - f16_kv).max() / scale)
        err_exact = float(np.abs(logits - exact).max() / scale)
        agree = int((logits.argmax(axis=1) == f16_kv.argmax(axis=1)).sum())
        print(f"{path.name} kernels {kernels or 'integer'}: max rel logit error over 8 tokens {err_f16_kv:.2e} "
              f"(f16 K/V reference), {err_exact:.2e} (float32), {agree}/8 argmax equal")
    err = float(np.abs(got["f32"] - f16_kv).max() / scale)
    assert err < 6e-3
    assert (got["f32"].argmax(axis=1) == f16_kv.argmax(axis=1)).all()
    assert float(np.abs(got["f32"] - exact).max() / scale) < 3e-2
    # 8-bit activations (llama.cpp quantizes them the same way) add their own rounding
    assert float(np.abs(got[None] - f16_kv).max() / scale) < INTEGER_TOLERANCE
