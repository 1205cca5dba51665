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


def _greedy_chat(engine, path, prompt, max_tokens=24):
    import dataclasses

    from parrot.llm import GREEDY

    m = engine(str(path), threads=2, context=512)
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
    m, answer = _greedy_chat(engine, _pulled("smollm2-135m"), "What is the capital of France?", 16)
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
    m = engine(str(path), threads=2, context=256)
    try:
        ids = m.tokenize("<|im_start|>user\n" + PROMPT, special=True)[:8]
        got = m.eval(ids)
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
    err_f16_kv = float(np.abs(got - f16_kv).max() / scale)
    err_exact = float(np.abs(got - exact).max() / scale)
    print(f"{path.name}: max rel logit error over 8 tokens {err_f16_kv:.2e} (f16 K/V reference), {err_exact:.2e} (float32)")
    assert err_f16_kv < 6e-3
    assert (got.argmax(axis=1) == f16_kv.argmax(axis=1)).all()
    assert err_exact < 3e-2
