"""A tiny but structurally real Gemma 3 (text) checkpoint and SentencePiece tokenizer for the tests.

The tokenizer is a SentencePiece BPE model trained here (the `sentencepiece` package, the outside
reference) the way Gemma's is made: byte fallback, digits split, no normalization, no dummy prefix,
whitespace-only pieces, <pad> <eos> <bos> <unk> at ids 0-3 and the chat markers as user-defined
symbols. The model is a randomly initialised transformers Gemma3ForCausalLM with 7 layers (5
local, 1 global, 1 local: both kinds and the pattern's wrap), a sliding window of 8 (shorter than
the test prompts, so local and global layers see different positions), head_dim 32 != 64 / 4 heads,
GQA, linear RoPE scaling on the global layer, a final logit soft-cap, random norm weights (Gemma's
(1 + w) would hide a missing +1 at w = 0) and tied embeddings.
"""
from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import llm_tiny

SPECIALS = ["<start_of_turn>", "<end_of_turn>"]
CHAT_TEMPLATE = (Path(__file__).parent / "data" / "chat_templates" / "gemma3.jinja").read_text(encoding="utf-8")
VOCAB = 1600
SLIDING_WINDOW = 8


def training_text() -> list[str]:
    """Mixed Chinese/English prose: the tokenizer and IME test texts plus the tiny BPE's corpus
    (fixed files, so the vocabulary and the measured figures stay the same)."""
    data = Path(__file__).parent / "data"
    files = [data / "tokenizer" / "corpus.txt", data / "ime" / "sample_prose.txt", data / "ime" / "sentences.txt",
             data / "ime" / "sentences_dev.txt"]
    lines = [ln for f in files for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines + llm_tiny.CORPUS * 3


@functools.cache
def sentencepiece_model() -> bytes:
    import sentencepiece as spm

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_text()), model_writer=out, model_type="bpe", vocab_size=VOCAB,
        byte_fallback=True, split_digits=True, normalization_rule_name="identity", add_dummy_prefix=False,
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, character_coverage=0.995,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=SPECIALS, hard_vocab_limit=False, minloglevel=2)
    return out.getvalue()


@functools.cache
def processor():
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=sentencepiece_model())


@functools.cache
def hf_dir() -> Path:
    import torch
    import transformers

    out = llm_tiny.root() / "hf-gemma3"
    sp = processor()
    config = transformers.Gemma3TextConfig(
        vocab_size=sp.vocab_size() + 4,  # padded past the tokenizer, as [PADn] rows
        hidden_size=64, intermediate_size=160, num_hidden_layers=7, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, query_pre_attn_scalar=32, sliding_window=SLIDING_WINDOW,
        max_position_embeddings=512, rms_norm_eps=1e-6, final_logit_softcapping=10.0,
        initializer_range=0.08, pad_token_id=0, eos_token_id=1, bos_token_id=2,
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e6},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
        architectures=["Gemma3ForCausalLM"])
    torch.manual_seed(44)
    model = transformers.Gemma3ForCausalLM(config).eval()
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):  # Gemma multiplies by (1 + w)
                p.copy_(0.4 * torch.randn(p.shape, generator=gen))
    model.save_pretrained(out)
    (out / "tokenizer.model").write_bytes(sentencepiece_model())
    decoder = {str(sp.piece_to_id(t)): {"content": t, "special": True} for t in SPECIALS}
    (out / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": decoder,
        "chat_template": CHAT_TEMPLATE}))
    return out


@functools.cache
def reference():
    import transformers

    return transformers.Gemma3ForCausalLM.from_pretrained(hf_dir(), dtype="float32").eval()
