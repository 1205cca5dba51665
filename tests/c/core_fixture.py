"""Writes the inputs and expected values for tests/c/core_test.c (the Python-free C test driver).

The expectations come from outside the C core: the `gguf` package (file layout, dequantized
blocks), Hugging Face `tokenizers` (token ids) and the numpy forward pass of
tests/llm_engine_util.py (greedy tokens and logits, computed with the weights the file holds).
Run on the build machine; the C driver then runs on the target (under qemu here):

    python tests/c/core_fixture.py OUT_DIR      -> OUT_DIR/core_test.txt + the tiny GGUF files

core_test.txt is whitespace-separated records, one per line, read with fscanf:
    model FILE ARCH N_TENSORS N_KV N_VOCAB N_EMBD N_LAYERS N_HEAD N_HEAD_KV
    tensor NAME TYPE NE0 NE1
    dequant TYPE N_BLOCKS HEXBYTES N FLOAT...
    tok HEXTEXT N ID...
    greedy ACT_Q8 N_PROMPT ID... N_GEN (ID MARGIN MAXABS LOGIT...)...
        per step: reference token, top1-top2, max|logit|, logits; ACT_Q8 1: the matmul inputs
        rounded to 8 bits as the integer kernel sets do, 0: as the f32 set (kernels.h)
    end
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as QT  # noqa: E402
from llm_engine_util import MERGES, SPECIALS, Spec, reference_logits, vocab, write_tiny  # noqa: E402

# Quantized types the engine computes with; gguf-py quantizes the 32-blocks, the K-blocks are
# random bytes with sane f16 scales (every bit pattern of the rest is a valid block).
QUANT_TYPES = [QT.F16, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.Q4_K, QT.Q5_K, QT.Q6_K]
K_SCALE_OFFSETS = {QT.Q4_K: (0, 2), QT.Q5_K: (0, 2), QT.Q6_K: (208,)}
TOKENIZER_TEXTS = [
    "hello world",
    "Hello, world! hello   hello\n\nworld 12345",
    "你好，世界！鹦鹉会说话。",
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
    "it's we'll they've  \t tabs\r\nend",
    "emoji 🦜 and é and 〇",
]
MODELS = [  # (file, spec): qwen2 = NEOX RoPE + biases, llama = interleaved RoPE
    ("tiny-qwen2-q8_0.gguf", Spec(arch="qwen2", wtype=QT.Q8_0, n_ctx_train=128, seed=3)),
    ("tiny-llama-q4_0.gguf", Spec(arch="llama", wtype=QT.Q4_0, n_ctx_train=128, seed=4, tied=True)),
]
PROMPT = [72, 101, 108, 108, 111, 262, 44, 32]
N_GEN = 10


def floats(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in np.asarray(values, dtype=np.float64).ravel())


def dequant_blocks(rng, qtype: QT) -> tuple[bytes, np.ndarray, int]:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = 3
    if qtype == QT.F16:
        raw = rng.standard_normal(block * n_blocks * 64).astype(np.float16)
        return raw.tobytes(), raw.astype(np.float32), raw.size // block
    if qtype in K_SCALE_OFFSETS:
        raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
        for off in K_SCALE_OFFSETS[qtype]:
            scale = rng.uniform(0.001, 0.05, size=n_blocks).astype(np.float16)
            raw[:, off:off + 2] = scale.view(np.uint8).reshape(n_blocks, 2)
    else:
        raw = gguf.quants.quantize(rng.standard_normal((1, block * n_blocks)).astype(np.float32), qtype)
    expected = gguf.quants.dequantize(raw.reshape(1, -1), qtype).ravel()
    return raw.tobytes(), expected, n_blocks


def hf_tokenizer():
    """HF byte-level BPE over the tiny models' vocabulary, Qwen2 pre-tokenizer."""
    from tokenizers import AddedToken, Tokenizer, models
    from test_llm_tokenizer_bpe import hf_pre_tokenizer

    toks = vocab()
    normal = {t: i for i, t in enumerate(toks) if t not in SPECIALS}
    tok = Tokenizer(models.BPE(vocab=normal, merges=list(MERGES)))
    tok.pre_tokenizer = hf_pre_tokenizer("qwen2")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    assert [tok.token_to_id(s) for s in SPECIALS] == [toks.index(s) for s in SPECIALS]
    return tok


def greedy_record(tiny, act_q8: bool) -> str:
    """act_q8: matmul inputs rounded to 8 bits like the integer kernels (else the f32 path)."""
    ids = list(PROMPT)
    steps = []
    for _ in range(N_GEN):
        logits = reference_logits(tiny, ids, kv_f16=True, act_q8=act_q8)[-1]
        top2 = np.sort(logits)[-2:]
        tok = int(np.argmax(logits))
        steps.append(f"{tok} {top2[1] - top2[0]:.9g} {np.abs(logits).max():.9g} {floats(logits)}")
        ids.append(tok)
    return f"greedy {int(act_q8)} {len(PROMPT)} {' '.join(map(str, PROMPT))} {N_GEN} " + " ".join(steps)


def main(out_dir: Path) -> None:
    sys.path.insert(0, str(HERE.parent))
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261201)
    lines = []
    for name, spec in MODELS:
        tiny = write_tiny(out_dir / name, spec)
        reader = gguf.GGUFReader(str(tiny.path))
        n_kv = sum(1 for f in reader.fields if not f.startswith("GGUF."))
        hd = spec.n_embd // spec.n_head
        assert hd * spec.n_head == spec.n_embd
        lines.append(
            f"model {name} {spec.arch} {len(reader.tensors)} {n_kv} {tiny.n_vocab} {spec.n_embd} "
            f"{spec.n_layers} {spec.n_head} {spec.n_head_kv}"
        )
        for t in reader.tensors:
            ne = [int(d) for d in t.shape] + [1]
            lines.append(f"tensor {t.name} {int(t.tensor_type)} {ne[0]} {ne[1]}")
        lines += [greedy_record(tiny, act_q8=True), greedy_record(tiny, act_q8=False)]
    for qtype in QUANT_TYPES:
        raw, expected, n_blocks = dequant_blocks(rng, qtype)
        lines.append(f"dequant {int(qtype)} {n_blocks} {raw.hex()} {expected.size} {floats(expected)}")
    tok = hf_tokenizer()
    for text in TOKENIZER_TEXTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        lines.append(f"tok {text.encode().hex()} {len(ids)} {' '.join(map(str, ids))}")
    lines.append("end")
    (out_dir / "core_test.txt").write_text("\n".join(lines) + "\n")
    print(f"core_fixture: {len(lines)} records -> {out_dir / 'core_test.txt'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
