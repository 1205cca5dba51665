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


@pytest.fixture(scope="module")
def qwen_path():
    entry = models.REGISTRY["qwen2.5-coder-0.5b"]
    path = models.model_path(entry)
    if not path.exists():
        pytest.skip(f"{path} not pulled (run: parrot models pull {entry.name})")
    assert models.is_verified(path, entry), "the pulled file does not match the registry sha256"
    return path


@pytest.fixture(scope="module")
def engine():
    from parrot.llm import Model

    return Model


def test_greedy_chinese_answer(engine, qwen_path):
    from parrot.llm import GREEDY
    import dataclasses

    m = engine(str(qwen_path), threads=2, context=512)
    try:
        assert m.arch == "qwen2" and m.n_vocab == 151936
        answer = "".join(m.chat(PROMPT, sampling=dataclasses.replace(GREEDY, max_tokens=24)))
    finally:
        m.close()
    print("answer:", answer)
    assert answer.strip()
    assert re.search(r"[\u4e00-\u9fff]", answer), answer  # it answers in Chinese
    assert "\ufffd" not in answer  # no broken UTF-8 between streamed pieces


@pytest.mark.parametrize("q8", [False, True], ids=["q4_k_m", "q8_0"])
def test_first_prompt_logits_match_transformers(engine, qwen_path, q8):
    path = qwen_path
    if q8:
        path = qwen_path.parent / models.REGISTRY["qwen2.5-coder-0.5b"].q8_filename
        if not path.exists():
            pytest.skip("no Q8_0 copy (run: parrot models pull qwen2.5-coder-0.5b --convert-q8)")
    m = engine(str(path), threads=2, context=256)
    try:
        ids = m.tokenize("<|im_start|>user\n" + PROMPT, special=True)[:8]
        got = m.eval(ids)
    finally:
        m.close()
    reference = llm_tiny.hf_model_from_gguf(path)
    with torch.no_grad():
        ref = reference(torch.tensor([ids])).logits[0].numpy()
    del reference
    err = float(np.abs(got - ref).max() / np.abs(ref).max())
    print(f"{path.name}: max rel logit error over 8 tokens {err:.2e}")
    # The same weights; the engine's 8-bit activations and f16 KV cache cost up to a few %.
    assert err < 3e-2
    assert (got.argmax(axis=1) == ref.argmax(axis=1)).mean() >= 7 / 8
