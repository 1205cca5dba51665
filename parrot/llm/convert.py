"""Hugging Face checkpoint -> GGUF v3 (`parrot convert HF_DIR OUT.gguf --type q8_0|f16|f32`).

Reads config.json, the *.safetensors shards (parsed here: no torch needed) and tokenizer.json /
tokenizer_config.json (Gemma 3: tokenizer.model, SentencePiece) of a Llama, Qwen2, Qwen3,
Gemma 3 (text) or MiniCPM causal LM and writes one GGUF file with
llama.cpp's tensor names and metadata keys, so both our engine and llama.cpp can load it.
The `gguf` package does the file layout and the Q8_0 quantization.

Also here: `requantize_q8_0`, which turns an existing GGUF (e.g. the registry's Q4_K_M) into
Q8_0, and the small stderr progress bar the model commands share.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from parrot.errors import UserError
from parrot.storage import fsync_dir

# HF `architectures[0]` -> GGUF `general.architecture`
SUPPORTED_ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "Gemma3ForCausalLM": "gemma3",
    "MiniCPMForCausalLM": "minicpm",
}

OUTPUT_TYPES = ("q8_0", "f16", "f32")

# Per-layer HF name suffix -> GGUF name suffix (after "model.layers.N." / "blk.N.").
_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
# Gemma 3's four per-layer norms: llama.cpp calls the pre-FFN one ffn_norm, the two on the
# branch outputs post_attention_norm and post_ffw_norm.
_GEMMA3_LAYER_TENSORS = {
    **_LAYER_TENSORS,
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
}
_GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
# Buffers some checkpoints carry that are recomputed at load time.
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)

# The Qwen2 pre-tokenizer split regex (as in Qwen's tokenizer.json).
_QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


# --------------------------------------------------------------------------- progress


class ProgressBar:
    """A one-line progress bar on stderr (redrawn on a terminal, a few lines otherwise)."""

    def __init__(self, total: int, label: str, *, unit: str = "MB", enabled: bool = True, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.unit = unit
        self.done = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self._start = time.monotonic()

    def _fmt(self, n: int) -> str:
        return f"{n / 1e6:.1f}" if self.unit == "MB" else str(n)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        fraction = min(self.done / self.total, 1.0)
        now = time.monotonic()
        if self.is_tty:
            if now - self._last_draw < 0.1 and self.done < self.total:
                return
            self._last_draw = now
            filled = int(fraction * 30)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(
                f"\r{self.label} [{bar}] {fraction * 100:5.1f}% "
                f"{self._fmt(self.done)}/{self._fmt(self.total)} {self.unit}"
            )
            self.stream.flush()
        else:
            # Logs and pipes get one line per 10 %, not a wall of carriage returns.
            decile = int(fraction * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {fraction * 100:3.0f}%\n")
                self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.is_tty:
            elapsed = time.monotonic() - self._start
            self.stream.write(f"  ({elapsed:.1f} s)\n")
            self.stream.flush()


# --------------------------------------------------------------------------- safetensors

_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64}


@dataclass
class _StoredTensor:
    file: Path
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute byte offset in the file
    end: int


def _read_safetensors_header(path: Path) -> dict[str, _StoredTensor]:
    """Parse a .safetensors header: u64 little-endian JSON length, JSON, then raw data."""
    try:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(f.read(header_len))
    except (OSError, ValueError, struct.error) as e:
        raise UserError(f"{path}: not a readable safetensors file ({e})") from e
    data_start = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise UserError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        tensors[name] = _StoredTensor(path, info["dtype"], tuple(info["shape"]), data_start + begin, data_start + end)
    return tensors


class _SafetensorsCheckpoint:
    """All tensors of a (possibly sharded) checkpoint, read lazily through memory maps."""

    def __init__(self, hf_dir: Path):
        index_path = hf_dir / "model.safetensors.index.json"
        if index_path.exists():
            weight_map = json.loads(index_path.read_text())["weight_map"]
            files = sorted({hf_dir / f for f in weight_map.values()})
        else:
            files = sorted(hf_dir.glob("*.safetensors"))
        if not files:
            raise UserError(f"{hf_dir}: no *.safetensors weights found")
        self.tensors: dict[str, _StoredTensor] = {}
        for f in files:
            if not f.exists():
                raise UserError(f"{hf_dir}: shard {f.name} listed in the index is missing")
            self.tensors.update(_read_safetensors_header(f))
        self._maps: dict[Path, np.memmap] = {}

    def load(self, name: str) -> np.ndarray:
        """The tensor as float32 (bf16 is widened by placing its bits in the high half)."""
        t = self.tensors[name]
        if t.file not in self._maps:
            self._maps[t.file] = np.memmap(t.file, dtype=np.uint8, mode="r")
        raw = self._maps[t.file][t.begin : t.end]
        arr = raw.view(_SAFETENSORS_DTYPES[t.dtype]).reshape(t.shape)
        if t.dtype == "BF16":
            return (arr.astype(np.uint32) << 16).view(np.float32)
        return arr.astype(np.float32)


# --------------------------------------------------------------------------- model description


@dataclass
class HFModel:
    """What the converter needs to know about one checkpoint."""

    hf_dir: Path
    arch: str  # gguf architecture name
    config: dict
    n_layers: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    n_ctx: int
    rope_theta: float
    rms_eps: float
    tied_embeddings: bool
    rope_freqs: np.ndarray | None = None  # llama3 RoPE scaling: per-frequency divisors
    gemma3: dict | None = None  # gemma3 metadata beyond the common keys (_gemma3_params)
    minicpm: "MiniCPMParams | None" = None


def _llama3_rope_freqs(params: dict, theta: float, head_dim: int) -> np.ndarray:
    """Llama 3.x RoPE scaling as llama.cpp stores it (tensor rope_freqs.weight): each rotation
    frequency is divided by a factor, 1 for short wavelengths, `factor` for long ones, a smooth
    blend between (transformers' _compute_llama3_parameters)."""
    factor = float(params.get("factor", 8.0))
    low, high = float(params.get("low_freq_factor", 1.0)), float(params.get("high_freq_factor", 4.0))
    old_ctx = float(params.get("original_max_position_embeddings", 8192))
    freqs = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    wavelen = 2 * math.pi / freqs
    smooth = (old_ctx / wavelen - low) / (high - low)
    out = 1.0 / ((1 - smooth) / factor + smooth)
    out = np.where(wavelen < old_ctx / high, 1.0, np.where(wavelen > old_ctx / low, factor, out))
    return out.astype(np.float32)


@dataclass
class MiniCPMParams:
    """MiniCPM's muP scales and longrope factors, stored as llama.cpp's converter stores them:
    the three scales as metadata (weights untouched), the factors as two F32 tensors."""

    embedding_scale: float  # scale_emb: embeddings are multiplied by it
    residual_scale: float  # scale_depth / sqrt(layers): each branch's output is multiplied by it
    logit_scale: float  # hidden_size / dim_model_base: logits are divided by it
    rope_long: np.ndarray | None = None  # longrope frequency divisors (MiniCPM 4)
    rope_short: np.ndarray | None = None


def _minicpm_params(config: dict, rope_params: dict, head_dim: int, hf_dir: Path) -> MiniCPMParams:
    missing = [k for k in ("scale_emb", "scale_depth", "dim_model_base") if config.get(k) is None]
    if missing:
        raise UserError(f"{hf_dir}: MiniCPM config.json lacks {', '.join(missing)}")
    if config.get("num_experts"):
        raise UserError(f"{hf_dir}: MiniCPM mixture-of-experts models are not supported")
    long, short = rope_params.get("long_factor"), rope_params.get("short_factor")
    if (long is None) != (short is None) or (long is not None and not len(long) == len(short) == head_dim // 2):
        raise UserError(f"{hf_dir}: longrope needs long_factor and short_factor of {head_dim // 2} values each")
    return MiniCPMParams(
        embedding_scale=float(config["scale_emb"]),
        residual_scale=float(config["scale_depth"]) / math.sqrt(config["num_hidden_layers"]),
        logit_scale=config["hidden_size"] / config["dim_model_base"],
        rope_long=None if long is None else np.asarray(long, dtype=np.float32),
        rope_short=None if short is None else np.asarray(short, dtype=np.float32),
    )


def _rope_theta(config: dict) -> float:
    # transformers >= 5 nests it in "rope_parameters"; older configs have "rope_theta".
    params = config.get("rope_parameters") or {}
    theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    return float(theta)


def _gemma3_params(config: dict, head_dim: int, n_layers: int, hf_dir: Path) -> dict:
    """Gemma 3's extra keys as llama.cpp's converter writes them, after checking that the file can
    say what the checkpoint does: llama.cpp fixes the attention scale at 1/sqrt(head_dim) and the
    layer pattern at 5 local : 1 global, so a checkpoint that differs is refused, not mis-run."""
    if config.get("query_pre_attn_scalar", head_dim) != head_dim:
        raise UserError(f"{hf_dir}: query_pre_attn_scalar {config['query_pre_attn_scalar']} != head_dim {head_dim} "
                        "cannot be stored in a gemma3 GGUF (llama.cpp scales by head_dim)")
    if config.get("attn_logit_softcapping") is not None:
        raise UserError(f"{hf_dir}: attn_logit_softcapping is not part of Gemma 3")
    # transformers >= 5: rope_parameters per layer type; older: rope_theta, rope_local_base_freq, rope_scaling
    params = config.get("rope_parameters") or {}
    full = params.get("full_attention") or {**(config.get("rope_scaling") or {}), "rope_theta": config.get("rope_theta", 1e6)}
    local = params.get("sliding_attention") or {"rope_theta": config.get("rope_local_base_freq", 10000.0)}
    for name, p in (("full_attention", full), ("sliding_attention", local)):
        kind = p.get("rope_type", p.get("type", "default"))
        if kind not in ("default", "linear") or (kind == "linear" and name == "sliding_attention"):
            raise UserError(f"{hf_dir}: RoPE type {kind!r} on {name} layers is not supported")
    window = config.get("sliding_window")
    types = config.get("layer_types") or [
        "sliding_attention" if (i + 1) % config.get("sliding_window_pattern", 6) else "full_attention" for i in range(n_layers)]
    expected = ["sliding_attention" if i % 6 < 5 else "full_attention" for i in range(n_layers)]
    if window and types != expected:
        raise UserError(f"{hf_dir}: layer_types differ from Gemma 3's 5 local : 1 global pattern")
    return {
        "rope_theta": float(full.get("rope_theta", 1e6)),
        "rope_theta_swa": float(local.get("rope_theta", 10000.0)),
        "linear_factor": float(full["factor"]) if full.get("rope_type", full.get("type")) == "linear" else None,
        "sliding_window": int(window) if window else None,
        "final_logit_softcapping": config.get("final_logit_softcapping"),
    }


def read_hf_config(hf_dir: Path) -> HFModel:
    if not hf_dir.is_dir():
        raise UserError(f"{hf_dir}: no such directory")
    config_path = hf_dir / "config.json"
    if not config_path.exists():
        raise UserError(f"{hf_dir}: no config.json (not a Hugging Face checkpoint directory)")
    try:
        config = json.loads(config_path.read_text())
    except ValueError as e:
        raise UserError(f"{config_path}: invalid JSON ({e})") from e
    archs = config.get("architectures") or []
    hf_arch = archs[0] if archs else config.get("model_type", "?")
    if hf_arch not in SUPPORTED_ARCHITECTURES:
        raise UserError(
            f"{hf_dir}: unsupported architecture {hf_arch!r} "
            f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})"
        )
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"):
        if key not in config:
            raise UserError(f"{config_path}: missing {key!r}")
    scaling = config.get("rope_scaling") or {}
    rope_params = {**scaling, **(config.get("rope_parameters") or {})}
    rope_type = rope_params.get("rope_type", rope_params.get("type", "default"))
    is_llama3 = rope_type == "llama3" and SUPPORTED_ARCHITECTURES[hf_arch] == "llama"
    is_gemma3 = SUPPORTED_ARCHITECTURES[hf_arch] == "gemma3"  # its RoPE is checked in _gemma3_params
    is_minicpm = SUPPORTED_ARCHITECTURES[hf_arch] == "minicpm"
    if rope_type not in ("default", None) and not is_llama3 and not is_gemma3 and not (is_minicpm and rope_type == "longrope"):
        # Other scaled RoPE variants (yarn, linear, ...) need keys the engine does not read.
        raise UserError(f"{hf_dir}: RoPE scaling {rope_type!r} is not supported (llama3 on Llama models is)")
    n_head = config["num_attention_heads"]
    n_embd = config["hidden_size"]
    head_dim = config.get("head_dim") or n_embd // n_head
    gemma3 = _gemma3_params(config, head_dim, config["num_hidden_layers"], hf_dir) if is_gemma3 else None
    return HFModel(
        hf_dir=hf_dir,
        arch=SUPPORTED_ARCHITECTURES[hf_arch],
        config=config,
        n_layers=config["num_hidden_layers"],
        n_embd=n_embd,
        n_ff=config["intermediate_size"],
        n_head=n_head,
        n_head_kv=config.get("num_key_value_heads") or n_head,
        head_dim=head_dim,
        n_vocab=config["vocab_size"],
        n_ctx=config.get("max_position_embeddings", 2048),
        rope_theta=gemma3["rope_theta"] if gemma3 else _rope_theta(config),
        rms_eps=float(config.get("rms_norm_eps", 1e-6)),
        # MiniCPM's remote-code config keeps transformers' default (tied); its 2B ships no lm_head
        tied_embeddings=bool(config.get("tie_word_embeddings", is_gemma3 or is_minicpm)),
        rope_freqs=_llama3_rope_freqs(rope_params, _rope_theta(config), head_dim) if is_llama3 else None,
        gemma3=gemma3,
        minicpm=_minicpm_params(config, rope_params, head_dim, hf_dir) if is_minicpm else None,
    )


# --------------------------------------------------------------------------- tokenizer


@dataclass
class TokenizerInfo:
    pre: str
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    add_bos: bool
    chat_template: str | None
    model: str = "gpt2"  # tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
    scores: list[float] | None = None  # SentencePiece piece scores (the merge order of its BPE)
    unk_id: int | None = None


def _token_content(value) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value


def _looks_like_control(token: str) -> bool:
    # llama.cpp's rule: "<|...|>" tokens are control tokens even when not flagged special.
    return token.startswith("<|") and token.endswith("|>")


def _detect_pre_tokenizer(arch: str, tok: dict) -> str:
    """Which of llama.cpp's BPE pre-tokenizers this tokenizer.json corresponds to."""
    if arch in ("qwen2", "qwen3"):
        return "qwen2"
    pre = tok.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    regexes = [((s.get("pattern") or {}).get("Regex") or "") for s in steps if s.get("type") == "Split"]
    if any(r == _QWEN2_SPLIT_REGEX for r in regexes):
        return "qwen2"
    if any(r"\p{N}{1,3}" in r for r in regexes):
        return "llama-bpe"  # Llama 3 style: numbers in groups of up to three digits
    if "Digits" in kinds and "ByteLevel" in kinds:
        return "smollm"  # SmolLM: digits split one by one, then GPT-2 byte-level
    if kinds == ["ByteLevel"]:
        return "gpt2"
    raise UserError(f"unsupported pre-tokenizer {kinds} in tokenizer.json")


def _protobuf_fields(buf: bytes):
    """(field number, wire type, value) of one protobuf message: ints for varints, bytes for
    length-delimited fields, raw 4/8-byte values for fixed32/fixed64."""
    i, n = 0, len(buf)

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            if i >= n or shift > 63:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    while i < n:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 2:
            size = varint()
            if i + size > n:
                raise ValueError("truncated field")
            yield field, wire, buf[i:i + size]
            i += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if i + size > n:
                raise ValueError("truncated field")
            yield field, wire, buf[i:i + size]
            i += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


def read_sentencepiece_model(path: Path) -> list[tuple[str, float, int]]:
    """The pieces of a SentencePiece tokenizer.model as (text, score, type), type in GGUF's
    numbering (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), which is
    SentencePiece's own. Parsed here (ModelProto field 1, SentencePiece {1 piece, 2 score,
    3 type}) so converting needs neither the sentencepiece nor the protobuf package."""
    pieces = []
    try:
        for field, wire, value in _protobuf_fields(path.read_bytes()):
            if field != 1 or wire != 2:
                continue
            text, score, kind = "", 0.0, 1
            for f, w, v in _protobuf_fields(value):
                if f == 1 and w == 2:
                    text = v.decode("utf-8")
                elif f == 2 and w == 5:
                    (score,) = struct.unpack("<f", v)
                elif f == 3 and w == 0:
                    kind = v
            pieces.append((text, score, kind))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a readable SentencePiece model ({e})") from e
    if not pieces:
        raise UserError(f"{path}: SentencePiece model has no pieces")
    return pieces


def _read_spm_tokenizer(hf_dir: Path, n_vocab: int, tok_config: dict) -> tuple[list[str], list[float], list[int]]:
    """tokens, scores and types as llama.cpp's _create_vocab_sentencepiece makes them: the model's
    pieces, [PADn] (unused, -10000) up to vocab_size, then added_tokens_decoder entries from
    tokenizer_config.json (special -> control, else user-defined; score -1000)."""
    from gguf import TokenType

    pieces = read_sentencepiece_model(hf_dir / "tokenizer.model")
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    scores = [-10000.0] * n_vocab
    types = [int(TokenType.UNUSED)] * n_vocab
    for i, (text, score, kind) in enumerate(pieces[:n_vocab]):
        tokens[i], scores[i], types[i] = text, score, kind if 1 <= kind <= 6 else int(TokenType.NORMAL)
    for key, data in (tok_config.get("added_tokens_decoder") or {}).items():
        i, text = int(key), data["content"]
        if i >= n_vocab:
            continue
        if data.get("special") or _looks_like_control(text) or text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]"):
            types[i] = int(TokenType.CONTROL)
        else:
            text = text.replace("\u2581", " ")
            types[i] = int(TokenType.USER_DEFINED)
        tokens[i], scores[i] = text, -1000.0
    return tokens, scores, types


def read_tokenizer(hf_dir: Path, arch: str, n_vocab: int) -> TokenizerInfo:
    tok_path = hf_dir / "tokenizer.json"
    if arch == "gemma3":
        return _read_sentencepiece_tokenizer(hf_dir, n_vocab, "Gemma", bos=2, eos=1, pad=0, unk=3)
    if arch == "minicpm" and (hf_dir / "tokenizer.model").exists():  # openbmb's: Llama's SentencePiece
        return _read_sentencepiece_tokenizer(hf_dir, n_vocab, "MiniCPM", bos=1, eos=2, pad=None, unk=0)
    if not tok_path.exists():
        raise UserError(f"{hf_dir}: no tokenizer.json (only byte-level BPE tokenizers are supported)")
    try:
        tok = json.loads(tok_path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"{tok_path}: invalid JSON ({e})") from e
    tok_config_path = hf_dir / "tokenizer_config.json"
    tok_config = json.loads(tok_config_path.read_text(encoding="utf-8")) if tok_config_path.exists() else {}

    model = tok.get("model") or {}
    if model.get("type") != "BPE":
        raise UserError(f"{tok_path}: tokenizer model {model.get('type')!r} is not supported (need BPE)")
    vocab: dict[str, int] = model["vocab"]
    added = tok.get("added_tokens") or []
    highest_id = max([*vocab.values(), *(t["id"] for t in added)])
    if highest_id >= n_vocab:
        raise UserError(f"{tok_path}: token id {highest_id} does not fit the model's vocab_size {n_vocab}")

    from gguf import TokenType

    # Ids the tokenizer does not use (Qwen pads its embedding to a multiple of 128) still
    # need an entry: llama.cpp's convention is "[PADn]" marked unused.
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    token_types = [int(TokenType.UNUSED)] * n_vocab
    for text, i in vocab.items():
        tokens[i] = text
        token_types[i] = int(TokenType.NORMAL)
    for t in added:
        tokens[t["id"]] = t["content"]
        special = t.get("special", False) or _looks_like_control(t["content"])
        # Non-special added tokens (Qwen3's <think>) are matched whole but are ordinary text.
        token_types[t["id"]] = int(TokenType.CONTROL if special else TokenType.USER_DEFINED)

    # Newer tokenizers store merges as [left, right] pairs, older ones as "left right".
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    ids = {text: i for i, text in enumerate(tokens)}
    config_ids = json.loads((hf_dir / "config.json").read_text())

    def special_id(name: str) -> int | None:
        """From tokenizer_config.json's token text, else config.json's *_token_id."""
        text = _token_content(tok_config.get(f"{name}_token"))
        if text is not None:
            if text not in ids:
                raise UserError(f"{tok_config_path}: {name}_token {text!r} is not in the vocabulary")
            return ids[text]
        value = config_ids.get(f"{name}_token_id")
        if isinstance(value, list):
            value = value[0] if value else None
        return value

    return TokenizerInfo(
        pre=_detect_pre_tokenizer(arch, tok),
        tokens=tokens,
        token_types=token_types,
        merges=merges,
        bos_id=special_id("bos"),
        eos_id=special_id("eos"),
        pad_id=special_id("pad"),
        add_bos=bool(tok_config.get("add_bos_token", False)),
        chat_template=_chat_template(hf_dir, tok_config),
    )


def _chat_template(hf_dir: Path, tok_config: dict) -> str | None:
    chat_template = tok_config.get("chat_template")
    if isinstance(chat_template, list):  # named templates: keep the default one
        chat_template = next((t["template"] for t in chat_template if t.get("name") == "default"), None)
    jinja_path = hf_dir / "chat_template.jinja"  # where transformers >= 4.50 saves it
    if chat_template is None and jinja_path.exists():
        chat_template = jinja_path.read_text(encoding="utf-8")
    return chat_template


def _read_sentencepiece_tokenizer(hf_dir: Path, n_vocab: int, family: str, *, bos: int, eos: int, pad: int | None,
                                  unk: int) -> TokenizerInfo:
    """A SentencePiece vocabulary from tokenizer.model, as llama.cpp stores it (special ids from
    tokenizer_config.json / config.json, else the family's)."""
    if not (hf_dir / "tokenizer.model").exists():
        raise UserError(f"{hf_dir}: no tokenizer.model ({family}'s SentencePiece vocabulary)")
    tok_config_path = hf_dir / "tokenizer_config.json"
    try:
        tok_config = json.loads(tok_config_path.read_text(encoding="utf-8")) if tok_config_path.exists() else {}
        config = json.loads((hf_dir / "config.json").read_text())
    except ValueError as e:
        raise UserError(f"{tok_config_path}: invalid JSON ({e})") from e
    tokens, scores, types = _read_spm_tokenizer(hf_dir, n_vocab, tok_config)
    ids = {text: i for i, text in enumerate(tokens)}

    def special_id(name: str, default: int | None) -> int | None:
        text = _token_content(tok_config.get(f"{name}_token"))
        if text is not None and text in ids:
            return ids[text]
        value = config.get(f"{name}_token_id", default)
        return value[0] if isinstance(value, list) and value else value

    return TokenizerInfo(
        pre="default", tokens=tokens, token_types=types, merges=[], model="llama", scores=scores,
        bos_id=special_id("bos", bos), eos_id=special_id("eos", eos), pad_id=special_id("pad", pad),
        unk_id=special_id("unk", unk), add_bos=bool(tok_config.get("add_bos_token", True)),
        chat_template=_chat_template(hf_dir, tok_config),
    )


# --------------------------------------------------------------------------- tensors


def _permute_for_interleaved_rope(w: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder Q/K rows from HF's half-split RoPE layout to GGUF llama's interleaved layout.

    HF llama rotates pairs (i, i + d/2) of each head; llama.cpp's "normal" RoPE rotates
    adjacent pairs (2i, 2i+1). Within every head, row i of the first half and row i of the
    second half become rows 2i and 2i+1.
    """
    rows = w.shape[0]
    head_dim = rows // n_head
    return w.reshape(n_head, 2, head_dim // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _gguf_name(hf_name: str, arch: str = "") -> str | None:
    if hf_name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[hf_name]
    if hf_name.endswith(_IGNORED_SUFFIXES):
        return None
    parts = hf_name.split(".", 3)
    if len(parts) == 4 and parts[0] == "model" and parts[1] == "layers" and parts[2].isdigit():
        suffix = (_GEMMA3_LAYER_TENSORS if arch == "gemma3" else _LAYER_TENSORS).get(parts[3])
        if suffix:
            return f"blk.{parts[2]}.{suffix}"
    raise UserError(f"unexpected tensor {hf_name!r} in checkpoint")


@dataclass
class _PlannedTensor:
    gguf_name: str
    hf_name: str
    shape: tuple[int, ...]
    qtype: int  # GGMLQuantizationType
    nbytes: int


def _choose_type(shape: tuple[int, ...], out_type: str):
    from gguf import GGMLQuantizationType as Q

    if len(shape) == 1 or out_type == "f32":
        return Q.F32  # norms and biases stay F32: tiny, and precision-sensitive
    if out_type == "q8_0" and shape[-1] % 32 == 0:
        return Q.Q8_0
    return Q.F16  # f16, or a row length Q8_0's 32-blocks cannot cover


def _nbytes(shape: tuple[int, ...], qtype) -> int:
    from gguf import GGML_QUANT_SIZES

    block, type_size = GGML_QUANT_SIZES[qtype]
    return int(np.prod(shape)) // block * type_size


def _prepare(model: HFModel, gguf_name: str, data: np.ndarray) -> np.ndarray:
    if model.arch == "gemma3" and gguf_name.endswith("norm.weight"):
        return data + np.float32(1.0)  # Gemma's RMSNorm scales by (1 + w); llama.cpp stores 1 + w
    if model.arch in ("llama", "minicpm"):
        if gguf_name.endswith("attn_q.weight"):
            return _permute_for_interleaved_rope(data, model.n_head)
        if gguf_name.endswith("attn_k.weight"):
            return _permute_for_interleaved_rope(data, model.n_head_kv)
    return data


def _add_gemma3_metadata(w, params: dict) -> None:
    """The keys llama.cpp's Gemma3Model converter adds (the reader's defaults cover the rest)."""
    import gguf

    w.add_rope_freq_base_swa(params["rope_theta_swa"])
    if params["sliding_window"]:
        w.add_sliding_window(params["sliding_window"])
    if params["final_logit_softcapping"]:
        w.add_final_logit_softcapping(params["final_logit_softcapping"])
    if params["linear_factor"] is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(params["linear_factor"])


# --------------------------------------------------------------------------- writing


_FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7}  # gguf.LlamaFileType values


@dataclass
class ConvertResult:
    path: Path
    arch: str
    n_tensors: int
    n_bytes: int


def _check_free_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    margin = 16 * 1024 * 1024
    if free < needed + margin:
        raise UserError(
            f"not enough space in {directory}: need {(needed + margin) / 1e6:.0f} MB, {free / 1e6:.0f} MB free"
        )


def readable_file_mode() -> int:
    """The mode a plain open() would give (mkstemp's 0600 would hide models from other users)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class _AtomicOutput:
    """A temp file next to `path`; committed with fsync + rename, removed on any failure."""

    def __init__(self, path: Path):
        self.path = path
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> None:
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(self.tmp, readable_file_mode())
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)

    def discard(self) -> None:
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


def _prepare_output_path(out_path: Path) -> Path:
    out_path = Path(out_path)
    if out_path.is_dir():
        raise UserError(f"{out_path}: is a directory (give the output .gguf file name)")
    if not out_path.parent.exists():
        raise UserError(f"{out_path.parent}: output directory does not exist")
    return out_path


def _write_gguf(
    out_path: Path,
    arch: str,
    add_metadata: Callable,
    planned: list[_PlannedTensor],
    tensor_data: Callable[[_PlannedTensor], np.ndarray],
    progress: bool,
    label: str,
) -> int:
    """Write header + metadata + tensor infos, then stream tensors one at a time (low memory)."""
    import gguf

    total = sum(t.nbytes for t in planned)
    _check_free_space(out_path.parent, total)
    output = _AtomicOutput(out_path)
    writer = None
    try:
        writer = gguf.GGUFWriter(output.tmp, arch)
        add_metadata(writer)
        for t in planned:
            writer.add_tensor_info(t.gguf_name, t.shape, np.float32, t.nbytes, raw_dtype=t.qtype)
        writer.write_header_to_file(output.tmp)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        bar = ProgressBar(total, label, enabled=progress)
        for t in planned:
            data = tensor_data(t)
            assert data.nbytes == t.nbytes, (t.gguf_name, data.nbytes, t.nbytes)
            writer.write_tensor_data(data)
            bar.update(t.nbytes)
        bar.close()
        writer.close()
        output.commit()
    except OSError as e:
        if writer is not None:
            writer.close()
        output.discard()
        raise UserError(f"{out_path}: write failed ({e.strerror or e})") from e
    except BaseException:
        if writer is not None:
            writer.close()
        output.discard()
        raise
    return total


def _encode(data: np.ndarray, qtype) -> np.ndarray:
    import gguf

    data = np.ascontiguousarray(data, dtype=np.float32)
    return gguf.quants.quantize(data, qtype)


def convert(hf_dir: str | os.PathLike, out_path: str | os.PathLike, out_type: str = "q8_0", *, progress: bool = True) -> ConvertResult:
    """Convert a Hugging Face checkpoint directory to a GGUF file, atomically."""
    import gguf

    if out_type not in OUTPUT_TYPES:
        raise UserError(f"unknown output type {out_type!r} (choose from {', '.join(OUTPUT_TYPES)})")
    hf_dir = Path(hf_dir)
    out_path = _prepare_output_path(Path(out_path))
    model = read_hf_config(hf_dir)
    checkpoint = _SafetensorsCheckpoint(hf_dir)
    tokenizer = read_tokenizer(hf_dir, model.arch, model.n_vocab)

    planned: list[_PlannedTensor] = []
    for hf_name, stored in checkpoint.tensors.items():
        name = _gguf_name(hf_name, model.arch)
        if name is None or (name == "output.weight" and model.tied_embeddings):
            continue  # tied: the engine reuses token_embd for the output projection
        qtype = _choose_type(stored.shape, out_type)
        planned.append(_PlannedTensor(name, hf_name, stored.shape, qtype, _nbytes(stored.shape, qtype)))
    made = {"rope_freqs.weight": model.rope_freqs}  # made here, not read from the checkpoint
    if model.minicpm:
        made.update({"rope_factors_long.weight": model.minicpm.rope_long, "rope_factors_short.weight": model.minicpm.rope_short})
    for name, values in made.items():
        if values is not None:
            planned.append(_PlannedTensor(name, "", values.shape, gguf.GGMLQuantizationType.F32, values.nbytes))
    names = {t.gguf_name for t in planned}
    for required in ("token_embd.weight", "output_norm.weight"):
        if required not in names:
            raise UserError(f"{hf_dir}: checkpoint has no {required} tensor")
    if "output.weight" not in names and not model.tied_embeddings:
        raise UserError(f"{hf_dir}: lm_head.weight missing and embeddings are not tied")
    embd = checkpoint.tensors["model.embed_tokens.weight"].shape
    if embd != (model.n_vocab, model.n_embd):
        raise UserError(f"{hf_dir}: embed_tokens shape {embd} does not match config {model.n_vocab}x{model.n_embd}")

    # llama.cpp's order: embeddings, blocks in order, output norm, output.
    def order(t: _PlannedTensor):
        if t.gguf_name.startswith("blk."):
            return (1, int(t.gguf_name.split(".")[1]), t.gguf_name)
        if t.gguf_name in made:
            return (-1, 0, t.gguf_name)
        return ({"token_embd.weight": 0, "output_norm.weight": 2, "output.weight": 3}[t.gguf_name], 0, "")

    planned.sort(key=order)

    def add_metadata(w: "gguf.GGUFWriter") -> None:
        w.add_name(model.config.get("_name_or_path") or hf_dir.resolve().name)
        w.add_file_type(_FILE_TYPES[out_type])
        if out_type == "q8_0":
            w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_context_length(model.n_ctx)
        w.add_embedding_length(model.n_embd)
        w.add_block_count(model.n_layers)
        w.add_feed_forward_length(model.n_ff)
        w.add_head_count(model.n_head)
        w.add_head_count_kv(model.n_head_kv)
        w.add_rope_freq_base(model.rope_theta)
        w.add_layer_norm_rms_eps(model.rms_eps)
        w.add_vocab_size(model.n_vocab)
        w.add_rope_dimension_count(model.head_dim)
        if model.arch in ("qwen3", "gemma3") or model.head_dim * model.n_head != model.n_embd:
            w.add_key_length(model.head_dim)
            w.add_value_length(model.head_dim)
        if model.minicpm:
            w.add_embedding_scale(model.minicpm.embedding_scale)
            w.add_residual_scale(model.minicpm.residual_scale)
            w.add_logit_scale(model.minicpm.logit_scale)
            if model.minicpm.rope_long is not None:
                w.add_rope_scaling_type(gguf.RopeScalingType.LONGROPE)
        if model.gemma3:
            _add_gemma3_metadata(w, model.gemma3)
        w.add_tokenizer_model(tokenizer.model)
        w.add_tokenizer_pre(tokenizer.pre)
        w.add_token_list(tokenizer.tokens)
        if tokenizer.scores is not None:
            w.add_token_scores(tokenizer.scores)
        w.add_token_types(tokenizer.token_types)
        if tokenizer.model == "gpt2":
            w.add_token_merges(tokenizer.merges)
        if tokenizer.unk_id is not None:
            w.add_unk_token_id(tokenizer.unk_id)
        if tokenizer.bos_id is not None:
            w.add_bos_token_id(tokenizer.bos_id)
        if tokenizer.eos_id is not None:
            w.add_eos_token_id(tokenizer.eos_id)
        if tokenizer.pad_id is not None:
            w.add_pad_token_id(tokenizer.pad_id)
        w.add_add_bos_token(tokenizer.add_bos)
        if model.arch == "gemma3":
            w.add_add_space_prefix(False)
        if tokenizer.chat_template:
            w.add_chat_template(tokenizer.chat_template)

    def tensor_data(t: _PlannedTensor) -> np.ndarray:
        if t.gguf_name in made:
            return made[t.gguf_name]
        data = _prepare(model, t.gguf_name, checkpoint.load(t.hf_name))
        return _encode(data, t.qtype)

    total = _write_gguf(out_path, model.arch, add_metadata, planned, tensor_data, progress, f"convert {out_type}")
    return ConvertResult(out_path, model.arch, len(planned), total)


# --------------------------------------------------------------------------- requantize


def requantize_q8_0(src: str | os.PathLike, dst: str | os.PathLike, *, progress: bool = True) -> ConvertResult:
    """Rewrite a GGUF with every 2-D weight as Q8_0 (dequantized first); metadata is copied."""
    return requantize(src, dst, "q8_0", progress=progress)


def requantize(src: str | os.PathLike, dst: str | os.PathLike, out_type: str, *, progress: bool = True) -> ConvertResult:
    """Rewrite a GGUF with its 2-D weights as out_type (q8_0, f16 or f32); metadata is copied.

    Besides the Q8_0 copy of the registry model, an F32 copy is the way to tell a kernel's
    rounding from a model bug: the engine on F32 weights must match transformers closely."""
    import gguf
    from gguf import GGUFValueType

    if out_type not in OUTPUT_TYPES:
        raise UserError(f"unknown output type {out_type!r} (choose from {', '.join(OUTPUT_TYPES)})")

    src, dst = Path(src), _prepare_output_path(Path(dst))
    try:
        reader = gguf.GGUFReader(src)
    except (OSError, ValueError) as e:
        raise UserError(f"{src}: not a readable GGUF file ({e})") from e
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise UserError(f"{src}: no general.architecture")
    arch = arch_field.contents()

    planned: list[_PlannedTensor] = []
    by_name = {}
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # GGUF dims are innermost-first
        qtype = _choose_type(shape, out_type)
        planned.append(_PlannedTensor(t.name, t.name, shape, qtype, _nbytes(shape, qtype)))
        by_name[t.name] = t

    def add_metadata(w: "gguf.GGUFWriter") -> None:
        for field in reader.fields.values():
            if field.name.startswith("GGUF.") or field.name == "general.architecture":
                continue  # header pseudo-fields; the writer adds the architecture itself
            if field.name == "general.file_type":
                w.add_file_type(_FILE_TYPES[out_type])
                continue
            if field.name == "general.alignment":
                w.data_alignment = int(field.contents())
            vtype = field.types[0]
            sub_type = field.types[-1] if vtype == GGUFValueType.ARRAY else None
            w.add_key_value(field.name, field.contents(), vtype, sub_type=sub_type)

    def tensor_data(p: _PlannedTensor) -> np.ndarray:
        t = by_name[p.hf_name]
        values = gguf.quants.dequantize(t.data, t.tensor_type).reshape(p.shape)
        return _encode(values, p.qtype)

    total = _write_gguf(dst, arch, add_metadata, planned, tensor_data, progress, f"requantize {out_type}")
    return ConvertResult(dst, arch, len(planned), total)
