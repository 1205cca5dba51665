"""Tiny random GGUF models written with the `gguf` package, and a numpy forward pass to check
the engine against (helpers for tests/test_llm_engine_*.py and test_llm_gguf_*.py).

The numpy reference computes with exactly the dequantized weights the file holds (via
gguf.quants.dequantize), so differences come from the engine, not from quantization.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHARS = _bytes_to_unicode()
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w")]


@dataclass
class Spec:
    arch: str = "qwen2"
    n_embd: int = 64
    n_ff: int = 96
    n_layers: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int | None = None  # qwen3: != n_embd / n_head
    n_ctx_train: int = 256
    rope_base: float = 10000.0
    eps: float = 1e-6
    wtype: QT = QT.F32  # type of the big matrices
    tied: bool = False
    extra_vocab: int = 8  # embedding rows past the tokenizer's
    seed: int = 0
    scale: float = 0.15
    chat_template: str | None = None  # tokenizer.chat_template (Jinja)


@dataclass
class Tiny:
    path: Path
    spec: Spec
    w: dict = field(default_factory=dict)  # name -> float32 numpy (what the engine reads)
    n_vocab: int = 0
    tokens: list = field(default_factory=list)

    def id(self, token: str) -> int:
        return self.tokens.index(token)


def vocab() -> list[str]:
    toks = [BYTE_CHARS[b] for b in range(256)]
    toks += ["".join(m) for m in MERGES]
    toks += SPECIALS
    return toks


def write_tiny(path: Path, spec: Spec) -> Tiny:
    rng = np.random.default_rng(spec.seed)
    hd = spec.head_dim or spec.n_embd // spec.n_head
    toks = vocab()
    nv = len(toks) + spec.extra_vocab
    d, ff = spec.n_embd, spec.n_ff
    qd, kvd = spec.n_head * hd, spec.n_head_kv * hd

    wr = gguf.GGUFWriter(str(path), spec.arch)
    a = spec.arch
    wr.add_name(f"tiny-{a}")
    wr.add_uint32(f"{a}.block_count", spec.n_layers)
    wr.add_uint32(f"{a}.context_length", spec.n_ctx_train)
    wr.add_uint32(f"{a}.embedding_length", d)
    wr.add_uint32(f"{a}.feed_forward_length", ff)
    wr.add_uint32(f"{a}.attention.head_count", spec.n_head)
    wr.add_uint32(f"{a}.attention.head_count_kv", spec.n_head_kv)
    if spec.head_dim:
        wr.add_uint32(f"{a}.attention.key_length", hd)
        wr.add_uint32(f"{a}.attention.value_length", hd)
    wr.add_float32(f"{a}.rope.freq_base", spec.rope_base)
    wr.add_float32(f"{a}.attention.layer_norm_rms_epsilon", spec.eps)
    wr.add_string("tokenizer.ggml.model", "gpt2")
    wr.add_string("tokenizer.ggml.pre", "qwen2")
    wr.add_array("tokenizer.ggml.tokens", toks)
    wr.add_array("tokenizer.ggml.token_type", [1] * (len(toks) - len(SPECIALS)) + [3] * len(SPECIALS))
    wr.add_array("tokenizer.ggml.merges", [f"{x} {y}" for x, y in MERGES])
    wr.add_uint32("tokenizer.ggml.eos_token_id", toks.index("<|im_end|>"))
    wr.add_uint32("tokenizer.ggml.bos_token_id", toks.index("<|endoftext|>"))
    if spec.chat_template is not None:
        wr.add_chat_template(spec.chat_template)

    t = Tiny(path, spec, n_vocab=nv, tokens=toks)

    def add(name, arr, qtype=QT.F32):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if qtype == QT.F32:
            wr.add_tensor(name, arr)
            t.w[name] = arr
        elif qtype == QT.F16:
            wr.add_tensor(name, arr.astype(np.float16))
            t.w[name] = arr.astype(np.float16).astype(np.float32)
        else:
            q = gguf.quants.quantize(arr, qtype)
            wr.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
            t.w[name] = gguf.quants.dequantize(q, qtype).reshape(arr.shape)

    def mat(rows, cols):
        return rng.standard_normal((rows, cols)).astype(np.float32) * spec.scale

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    add("token_embd.weight", mat(nv, d) * 4, spec.wtype)
    if not spec.tied:
        add("output.weight", mat(nv, d), spec.wtype)
    add("output_norm.weight", norm(d))
    for i in range(spec.n_layers):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", norm(d))
        add(p + "attn_q.weight", mat(qd, d), spec.wtype)
        add(p + "attn_k.weight", mat(kvd, d), spec.wtype)
        add(p + "attn_v.weight", mat(kvd, d), spec.wtype)
        if a == "qwen2":
            add(p + "attn_q.bias", rng.standard_normal(qd) * 0.1)
            add(p + "attn_k.bias", rng.standard_normal(kvd) * 0.1)
            add(p + "attn_v.bias", rng.standard_normal(kvd) * 0.1)
        if a == "qwen3":
            add(p + "attn_q_norm.weight", norm(hd))
            add(p + "attn_k_norm.weight", norm(hd))
        add(p + "attn_output.weight", mat(d, qd), spec.wtype)
        add(p + "ffn_norm.weight", norm(d))
        add(p + "ffn_gate.weight", mat(ff, d), spec.wtype)
        add(p + "ffn_up.weight", mat(ff, d), spec.wtype)
        add(p + "ffn_down.weight", mat(d, ff), spec.wtype)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return t


def _rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _rope(x, pos, base, neox):
    """x [T, heads, hd]; pos [T]."""
    hd = x.shape[-1]
    half = hd // 2
    inv = base ** (-np.arange(half, dtype=np.float64) * 2 / hd)
    ang = pos[:, None].astype(np.float64) * inv[None, :]  # [T, half]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    out = x.astype(np.float64).copy()
    if neox:
        a, b = x[..., :half], x[..., half:]
        out[..., :half] = a * c - b * s
        out[..., half:] = a * s + b * c
    else:
        a, b = x[..., 0::2], x[..., 1::2]
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
    return out


# Weight types the engine multiplies with integer kernels: their matmul inputs are first
# rounded to 8 bits per block of 32 (parrot/llm/core/kernels.c, pl_quantize_q8a).
INT8_KERNEL_TYPES = frozenset({QT.Q8_0, QT.Q4_0, QT.Q5_0, QT.Q4_K, QT.Q6_K})


def q8_activations(x: np.ndarray) -> np.ndarray:
    """x rounded like the engine's activation blocks: d = max|x| / 127, q = round(x / d)."""
    if x.shape[-1] % 32:
        return x  # the engine uses its f32 path for such rows
    b = x.reshape(-1, 32)
    amax = np.abs(b).max(axis=1, keepdims=True)
    d = amax / 127
    q = np.round(b * np.where(amax > 0, 127 / np.where(amax > 0, amax, 1), 0))
    return (q * d).reshape(x.shape)


def reference_logits(t: Tiny, ids: list[int], kv_f16: bool = False, act_q8: bool | None = None) -> np.ndarray:
    """float64 numpy forward pass over ids (positions 0..len-1) -> logits [len, n_vocab].
    kv_f16: round K and V to half precision like the engine's KV cache. act_q8: round every
    matmul input like the engine's integer kernels (default: when the weight type has them)."""
    s, w = t.spec, t.w
    if act_q8 is None:
        act_q8 = s.wtype in INT8_KERNEL_TYPES
    qa = q8_activations if act_q8 else (lambda a: a)
    hd = s.head_dim or s.n_embd // s.n_head
    T = len(ids)
    pos = np.arange(T)
    x = w["token_embd.weight"][ids].astype(np.float64)
    neox = s.arch != "llama"
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(s.n_layers):
        p = f"blk.{i}."
        h = _rms(x, w[p + "attn_norm.weight"], s.eps)
        q = qa(h) @ w[p + "attn_q.weight"].T
        k = qa(h) @ w[p + "attn_k.weight"].T
        v = qa(h) @ w[p + "attn_v.weight"].T
        if p + "attn_q.bias" in w:
            q, k, v = q + w[p + "attn_q.bias"], k + w[p + "attn_k.bias"], v + w[p + "attn_v.bias"]
        q = q.reshape(T, s.n_head, hd)
        k = k.reshape(T, s.n_head_kv, hd)
        v = v.reshape(T, s.n_head_kv, hd)
        if p + "attn_q_norm.weight" in w:
            q = _rms(q, w[p + "attn_q_norm.weight"], s.eps)
            k = _rms(k, w[p + "attn_k_norm.weight"], s.eps)
        q, k = _rope(q, pos, s.rope_base, neox), _rope(k, pos, s.rope_base, neox)
        if kv_f16:
            k = k.astype(np.float16).astype(np.float64)
            v = v.astype(np.float16).astype(np.float64)
        group = s.n_head // s.n_head_kv
        att = np.zeros((T, s.n_head, hd))
        for hh in range(s.n_head):
            kv = hh // group
            sc = q[:, hh, :] @ k[:, kv, :].T / np.sqrt(hd) + mask
            sc = np.exp(sc - sc.max(axis=1, keepdims=True))
            sc /= sc.sum(axis=1, keepdims=True)
            att[:, hh, :] = sc @ v[:, kv, :]
        x = x + qa(att.reshape(T, -1)) @ w[p + "attn_output.weight"].T
        h = _rms(x, w[p + "ffn_norm.weight"], s.eps)
        g = qa(h) @ w[p + "ffn_gate.weight"].T
        u = qa(h) @ w[p + "ffn_up.weight"].T
        x = x + qa(g / (1 + np.exp(-g)) * u) @ w[p + "ffn_down.weight"].T
    x = _rms(x, w["output_norm.weight"], s.eps)
    out = w.get("output.weight", w["token_embd.weight"])
    return qa(x) @ out.T
