"""`parrot convert`: the GGUF it writes, read back with the `gguf` package and checked against
the checkpoint (read with `safetensors`) and the tokenizer (read with `transformers`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_tiny

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType


def _fields(path):
    reader = gguf.GGUFReader(path)
    return reader, {name: f.contents() for name, f in reader.fields.items() if not name.startswith("GGUF.")}


def _hf_weights(arch):
    from safetensors.numpy import load_file

    weights = {}
    for f in sorted(llm_tiny.tiny_model(arch).hf_dir.glob("*.safetensors")):
        weights.update(load_file(f))
    return weights


def _dequantized(tensor):
    shape = tuple(reversed([int(d) for d in tensor.shape]))
    return gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(shape)


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_architecture_metadata_matches_config(arch):
    cfg = llm_tiny.tiny_model(arch).config
    _, kv = _fields(llm_tiny.tiny_gguf(arch, "q8_0"))
    assert kv["general.architecture"] == arch
    assert kv["general.file_type"] == 7  # MOSTLY_Q8_0
    assert kv[f"{arch}.context_length"] == cfg["max_position_embeddings"]
    assert kv[f"{arch}.embedding_length"] == cfg["hidden_size"]
    assert kv[f"{arch}.block_count"] == cfg["num_hidden_layers"]
    assert kv[f"{arch}.feed_forward_length"] == cfg["intermediate_size"]
    assert kv[f"{arch}.attention.head_count"] == cfg["num_attention_heads"]
    assert kv[f"{arch}.attention.head_count_kv"] == cfg["num_key_value_heads"] == 2
    assert kv[f"{arch}.rope.freq_base"] == pytest.approx(cfg["rope_parameters"]["rope_theta"])
    assert kv[f"{arch}.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    if arch == "qwen3":  # head_dim 32 while hidden/heads = 16
        assert kv["qwen3.attention.key_length"] == kv["qwen3.attention.value_length"] == 32
    else:
        assert f"{arch}.attention.key_length" not in kv


def _expected_names(arch):
    per_layer = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
    if arch == "qwen3":
        per_layer += ["attn_q_norm", "attn_k_norm"]
    names = {f"blk.{i}.{n}.weight" for i in range(2) for n in per_layer}
    if arch == "qwen2":
        names |= {f"blk.{i}.attn_{p}.bias" for i in range(2) for p in "qkv"}
    names |= {"token_embd.weight", "output_norm.weight"}
    if arch != "qwen2":  # qwen2 ties its output projection to the embeddings
        names.add("output.weight")
    return names


@pytest.mark.parametrize("out_type,matrix_type", [("f32", Q.F32), ("f16", Q.F16), ("q8_0", Q.Q8_0)])
@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_tensor_names_and_types(arch, out_type, matrix_type):
    reader, _ = _fields(llm_tiny.tiny_gguf(arch, out_type))
    assert {t.name for t in reader.tensors} == _expected_names(arch)
    for t in reader.tensors:
        expected = Q.F32 if len(t.shape) == 1 else matrix_type  # norms and biases stay F32
        assert t.tensor_type == expected, t.name


def _rope_half_split(x, pos, theta):
    """HF's rotate_half RoPE on one head vector x (pairs i, i + d/2)."""
    d = x.shape[-1]
    freqs = pos / theta ** (np.arange(0, d, 2) / d)
    cos, sin = np.concatenate([np.cos(freqs)] * 2), np.concatenate([np.sin(freqs)] * 2)
    rotated = np.concatenate([-x[d // 2 :], x[: d // 2]])
    return x * cos + rotated * sin


def _rope_interleaved(x, pos, theta):
    """llama.cpp's "normal" RoPE (pairs 2i, 2i+1)."""
    d = x.shape[-1]
    freqs = pos / theta ** (np.arange(0, d, 2) / d)
    a, b = x[0::2], x[1::2]
    out = np.empty_like(x)
    out[0::2] = a * np.cos(freqs) - b * np.sin(freqs)
    out[1::2] = a * np.sin(freqs) + b * np.cos(freqs)
    return out


def test_llama_qk_permutation_is_equivalent_under_rope():
    """Q.K scores with HF weights + HF RoPE == GGUF weights + interleaved RoPE (any positions)."""
    cfg = llm_tiny.tiny_model("llama").config
    theta, n_head, n_kv = cfg["rope_parameters"]["rope_theta"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hf = _hf_weights("llama")
    reader, _ = _fields(llm_tiny.tiny_gguf("llama", "f32"))
    tensors = {t.name: _dequantized(t) for t in reader.tensors}
    x = np.random.default_rng(0).standard_normal(cfg["hidden_size"])
    hd = cfg["hidden_size"] // n_head
    for hf_q, hf_k, g_q, g_k in [
        (hf["model.layers.1.self_attn.q_proj.weight"], hf["model.layers.1.self_attn.k_proj.weight"],
         tensors["blk.1.attn_q.weight"], tensors["blk.1.attn_k.weight"]),
    ]:  # fmt: skip
        assert not np.allclose(hf_q, g_q)  # the permutation did something
        for head in range(n_head):
            kv_head = head // (n_head // n_kv)
            qs, ks = slice(head * hd, (head + 1) * hd), slice(kv_head * hd, (kv_head + 1) * hd)
            for pq, pk in [(5, 2), (17, 17), (40, 3)]:
                ref = _rope_half_split(hf_q[qs] @ x, pq, theta) @ _rope_half_split(hf_k[ks] @ x, pk, theta)
                got = _rope_interleaved(g_q[qs] @ x, pq, theta) @ _rope_interleaved(g_k[ks] @ x, pk, theta)
                assert got == pytest.approx(ref, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("arch", ["qwen2", "qwen3"])
@pytest.mark.parametrize("out_type", ["f32", "f16", "q8_0"])
def test_weights_match_checkpoint(arch, out_type):
    hf = _hf_weights(arch)
    reader, _ = _fields(llm_tiny.tiny_gguf(arch, out_type))
    by_name = {t.name: t for t in reader.tensors}
    pairs = {
        "token_embd.weight": "model.embed_tokens.weight",
        "blk.0.attn_q.weight": "model.layers.0.self_attn.q_proj.weight",
        "blk.1.ffn_down.weight": "model.layers.1.mlp.down_proj.weight",
        "blk.1.attn_norm.weight": "model.layers.1.input_layernorm.weight",
        "output_norm.weight": "model.norm.weight",
    }
    if arch == "qwen2":
        pairs["blk.0.attn_k.bias"] = "model.layers.0.self_attn.k_proj.bias"
    else:
        pairs["blk.1.attn_k_norm.weight"] = "model.layers.1.self_attn.k_norm.weight"
    for gname, hname in pairs.items():
        got, ref = _dequantized(by_name[gname]), hf[hname]
        assert got.shape == ref.shape, gname
        if out_type == "f32" or ref.ndim == 1:
            np.testing.assert_array_equal(got, ref, err_msg=gname)
        elif out_type == "f16":
            np.testing.assert_array_equal(got, ref.astype(np.float16).astype(np.float32), err_msg=gname)
        else:  # Q8_0: within half a step of its 32-block, plus the f16 rounding of the scale
            step = np.abs(ref.reshape(-1, 32)).max(axis=1, keepdims=True) / 127
            err = np.abs(got - ref).reshape(-1, 32)
            assert (err <= step * (0.5 + 127 * 2**-11) + 1e-7).all(), gname
            assert err.max() > 0  # it really is quantized


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_tokenizer_metadata(arch):
    hf_tok = llm_tiny.tiny_hf_tokenizer(arch)
    tok_json = json.loads((llm_tiny.tiny_model(arch).hf_dir / "tokenizer.json").read_text())
    _, kv = _fields(llm_tiny.tiny_gguf(arch, "q8_0"))
    assert kv["tokenizer.ggml.model"] == "gpt2"
    assert kv["tokenizer.ggml.pre"] == ("smollm" if arch == "llama" else "qwen2")
    tokens, types = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]
    assert len(tokens) == len(types) == llm_tiny.MODEL_VOCAB
    n_tok = len(hf_tok)
    assert tokens[:n_tok] == hf_tok.convert_ids_to_tokens(list(range(n_tok)))
    assert tokens[n_tok:] == [f"[PAD{i}]" for i in range(n_tok, llm_tiny.MODEL_VOCAB)]
    assert set(types[n_tok:]) == {gguf.TokenType.UNUSED}
    ids = hf_tok.convert_tokens_to_ids
    assert types[ids("<|im_end|>")] == gguf.TokenType.CONTROL
    assert types[ids("Ġ")] == gguf.TokenType.NORMAL
    if arch == "qwen3":
        assert types[ids("<think>")] == types[ids("</think>")] == gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    assert kv["tokenizer.ggml.merges"] == merges and len(merges) > 50
    assert kv["tokenizer.ggml.eos_token_id"] == hf_tok.eos_token_id == ids("<|im_end|>")
    assert kv["tokenizer.ggml.padding_token_id"] == hf_tok.pad_token_id
    if arch == "llama":
        assert kv["tokenizer.ggml.bos_token_id"] == hf_tok.bos_token_id
    else:
        assert "tokenizer.ggml.bos_token_id" not in kv
    assert kv["tokenizer.chat_template"] == llm_tiny.QWEN_CHAT_TEMPLATE


def test_cli_convert_writes_file(tmp_path, capsys):
    from parrot.cli import main

    out = tmp_path / "m.gguf"
    rc = main(["convert", str(llm_tiny.tiny_model("qwen2").hf_dir), str(out), "--type", "f16", "--quiet"])
    assert rc == 0
    assert "qwen2" in capsys.readouterr().out
    assert out.read_bytes() == llm_tiny.tiny_gguf("qwen2", "f16").read_bytes()  # deterministic
    assert [p.name for p in tmp_path.iterdir()] == ["m.gguf"]  # no temp files left
