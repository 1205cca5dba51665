"""Slow: the C tokenizer on the real registry vocabularies against Hugging Face.

Qwen2.5-Coder (pre "qwen2"): the reference is transformers loading the GGUF's tokenizer
(AutoTokenizer.from_pretrained(dir, gguf_file=...)).
SmolLM2 (pre "smollm"): transformers' GGUF loader does not know SmolLM2's digit split, so the
reference is the same HF tokenizer with the pre-tokenizer of SmolLM2's tokenizer.json
(Digits(individual_digits) then ByteLevel with the GPT-2 regex).

The vocabularies are read with the `gguf` package's GGUFReader. Paths: $PARROT_QWEN_GGUF /
$PARROT_SMOLLM_GGUF, else the pulled registry models (`parrot models pull NAME`).
Run with: pytest -m slow tests/test_llm_tokenizer_gguf.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from parrot.llm import _core
from test_llm_tokenizer_bpe import EDGE_CASES, corpus_texts, hf_pre_tokenizer, random_strings

pytestmark = pytest.mark.slow


def gguf_path(env: str, registry_name: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    from parrot.llm.models import REGISTRY, model_path

    return model_path(REGISTRY[registry_name])


def read_vocab(path: Path):
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]) for i in field.data]

    field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(field.parts[i][0]) for i in field.data]
    pre_field = reader.fields["tokenizer.ggml.pre"]
    pre = bytes(pre_field.parts[pre_field.data[0]]).decode()
    return strings("tokenizer.ggml.tokens"), types, strings("tokenizer.ggml.merges"), pre


def load(env: str, registry_name: str):
    path = gguf_path(env, registry_name)
    if not path.is_file():
        pytest.skip(f"{path} missing (set ${env} or run: parrot models pull {registry_name})")
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name).backend_tokenizer
    tokens, types, merges, pre = read_vocab(path)
    return hf, tokens, types, merges, pre


CHAT = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n用Python写一个快速排序，并解释时间复杂度。<|im_end|>\n<|im_start|>assistant\n"
    "```python\ndef quicksort(arr):\n    if len(arr) <= 1:\n        return arr\n    pivot = arr[len(arr) // 2]\n"
    "    return quicksort([x for x in arr if x < pivot]) + [pivot] + quicksort([x for x in arr if x > pivot])\n```\n"
    "平均时间复杂度为 O(n log n)，最坏 O(n²)。<|im_end|><|endoftext|>"
)


def check_against(hf, tk, texts):
    bad = [t for t in texts if tk.encode(t) != hf.encode(t, add_special_tokens=False).ids]
    assert not bad, (len(bad), bad[:5])


@pytest.fixture(scope="module")
def qwen():
    hf, tokens, types, merges, pre = load("PARROT_QWEN_GGUF", "qwen2.5-coder-0.5b")
    assert pre == "qwen2" and len(tokens) == 151936
    return hf, _core.Tokenizer(tokens, types, merges, pre)


def test_qwen_same_ids_as_transformers(qwen):
    hf, tk = qwen
    check_against(hf, tk, EDGE_CASES + corpus_texts() + [CHAT] + random_strings(seed=1234, count=5000))
    ids = tk.encode(CHAT)
    assert ids[0] == 151644 and ids[-2:] == [151645, 151643]  # <|im_start|> ... <|im_end|><|endoftext|>
    assert tk.encode("你好") == hf.encode("你好").ids and len(tk.encode("你好")) == 1


def test_qwen_decode_and_special_false(qwen):
    hf, tk = qwen
    for text in EDGE_CASES + corpus_texts() + [CHAT] + random_strings(seed=77, count=1000):
        ids = tk.encode(text)
        assert tk.decode(ids) == text == hf.decode(ids, skip_special_tokens=False)
    hf.encode_special_tokens = True
    try:
        for text in [CHAT] + EDGE_CASES:
            assert tk.encode(text, special=False) == hf.encode(text, add_special_tokens=False).ids
    finally:
        hf.encode_special_tokens = False


def test_qwen_speed(qwen):
    hf, tk = qwen
    text = "\n".join(corpus_texts()) * 40
    t0 = time.perf_counter()
    ids = tk.encode(text)
    dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = hf.encode(text, add_special_tokens=False).ids
    dh = time.perf_counter() - t0
    assert ids == ref
    print(f"\nQwen2.5 vocab: {len(ids)} tokens, C {len(ids) / dt / 1e3:.0f} k tok/s, HF {len(ids) / dh / 1e3:.0f} k tok/s")


def test_smollm2_same_ids_as_hf_tokenizer_json():
    hf, tokens, types, merges, pre = load("PARROT_SMOLLM_GGUF", "smollm2-135m")
    assert pre == "smollm"
    hf.pre_tokenizer = hf_pre_tokenizer("smollm")  # what SmolLM2's tokenizer.json says
    tk = _core.Tokenizer(tokens, types, merges, pre)
    extra = ["digits 0123456789 ١٢٣ \U00011de0\U00016ff4x", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"]
    check_against(hf, tk, EDGE_CASES + corpus_texts() + extra + random_strings(seed=4321, count=3000))
