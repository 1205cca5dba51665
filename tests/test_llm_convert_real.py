"""Converter at real scale (slow): the registry's Qwen2.5 GGUF (made by llama.cpp's converter)
-> a Hugging Face checkpoint (bf16 weights, sharded; tokenizer rebuilt by transformers from the
GGUF) -> `parrot convert` -> must give back the original's metadata, vocabulary and weights.
"""

from __future__ import annotations

import numpy as np
import pytest

import llm_tiny
from parrot.llm import models

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")


def test_round_trip_through_hugging_face_format(tmp_path):
    import transformers

    from parrot.llm.convert import convert

    entry = models.REGISTRY["qwen2.5-coder-0.5b"]
    original = models.model_path(entry).parent / entry.q8_filename
    if not original.exists():
        pytest.skip(f"no Q8_0 copy (run: parrot models pull {entry.name} --convert-q8)")
    hf_dir = tmp_path / "hf"
    tok = transformers.AutoTokenizer.from_pretrained(original.parent, gguf_file=original.name)
    tok.save_pretrained(hf_dir)
    llm_tiny.hf_model_from_gguf(original).to(torch.bfloat16).save_pretrained(hf_dir, max_shard_size="400MB")
    assert len(list(hf_dir.glob("*.safetensors"))) > 1

    out = tmp_path / "round-trip.gguf"
    convert(hf_dir, out, "q8_0", progress=False)

    a, b = gguf.GGUFReader(original), gguf.GGUFReader(out)
    fa = {k: f.contents() for k, f in a.fields.items() if not k.startswith(("GGUF.", "general."))}
    fb = {k: f.contents() for k, f in b.fields.items() if not k.startswith(("GGUF.", "general."))}
    for key, value in fa.items():
        if key == "tokenizer.ggml.token_type":
            # transformers' GGUF tokenizer turns the unused [PADn] ids into real entries, so
            # only compare the ids the original actually uses.
            used = [i for i, t in enumerate(value) if t != gguf.TokenType.UNUSED]
            assert [fb[key][i] for i in used] == [value[i] for i in used]
        else:
            assert fb[key] == value, key
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    assert set(ta) == set(tb)
    for name, t in ta.items():
        x = gguf.quants.dequantize(t.data, t.tensor_type)
        y = gguf.quants.dequantize(tb[name].data, tb[name].tensor_type)
        assert tb[name].tensor_type == t.tensor_type, name
        assert np.abs(x - y).max() <= 1e-2 * np.abs(x).max(), name  # bf16 + Q8_0 re-rounding
