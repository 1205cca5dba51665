"""MiniCPM as openbmb ships it: a SentencePiece vocabulary (tokenizer.model; Llama's settings: byte
fallback, a dummy space prefix, <unk> <s> </s> at 0-2), converted by llama.cpp's own converter
through its real SentencePiece path (GGUF tokenizer model "llama") and by `parrot convert`. The engine's ids equal the
`sentencepiece` package's, and its logits on them equal the folded LlamaForCausalLM reference of
test_llm_arch_minicpm."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

import llm_tiny

torch = pytest.importorskip("torch")
spm = pytest.importorskip("sentencepiece")

from parrot.llm import Model  # noqa: E402
from parrot.llm.convert import convert  # noqa: E402
from parrot.llm.gguf_info import inspect_path  # noqa: E402
from test_llm_arch_minicpm import SCALES, TOLERANCE, folded_reference, hf_logits, rel  # noqa: E402

TEXTS = ["你好，电子鹦鹉! The parrot says 42.", "北京 上海  广州\n深圳 2024年10月1日", " leading space, ümlaut, 🦜"]


@pytest.fixture(scope="module")
def processor():
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(llm_tiny.CORPUS * 5), model_writer=out, model_type="bpe", vocab_size=600,
        byte_fallback=True, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, character_coverage=0.995, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        hard_vocab_limit=False, minloglevel=2)
    return spm.SentencePieceProcessor(model_proto=out.getvalue()), out.getvalue()


@pytest.fixture(scope="module")
def hf_dir(processor, tmp_path_factory):
    import transformers

    sp, proto = processor
    out = tmp_path_factory.mktemp("minicpm-spm") / "hf"
    torch.manual_seed(55)
    config = transformers.LlamaConfig(vocab_size=sp.vocab_size(), hidden_size=64, intermediate_size=160,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=256, rms_norm_eps=1e-5, initializer_range=0.08,
                                      tie_word_embeddings=False)
    transformers.LlamaForCausalLM(config).save_pretrained(out)
    cfg = json.loads((out / "config.json").read_text())
    for key in ("model_type", "rope_scaling", "rope_parameters", "dtype", "torch_dtype"):
        cfg.pop(key, None)
    cfg.update(SCALES, architectures=["MiniCPMForCausalLM"], model_type="minicpm", rope_theta=10000.0,
               bos_token_id=1, eos_token_id=2)
    (out / "config.json").write_text(json.dumps(cfg))
    (out / "tokenizer.model").write_bytes(proto)
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False}))
    return out


@pytest.fixture(scope="module", params=["llama.cpp", "parrot"])
def gguf_file(request, hf_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("minicpm-spm-gguf") / f"{request.param}.gguf"
    if request.param == "parrot":
        convert(hf_dir, out, "f32", progress=False)
    else:
        llm_tiny.llama_cpp_convert(hf_dir, out)
    return out


def test_file_is_sentencepiece_and_runnable(gguf_file):
    info = inspect_path(gguf_file)
    assert info.runnable, info.reasons
    assert info.tokenizer.startswith("llama")


def test_ids_match_sentencepiece(gguf_file, processor):
    sp, _ = processor
    with Model(gguf_file, threads=1, context=64) as m:
        assert m.info["add_bos"] and m.info["bos"] == 1  # the chat path starts with <s>
        for text in TEXTS:
            assert m.tokenize(text) == sp.encode(text), text
            # the dummy prefix's space stays on the first piece here; sentencepiece (and llama.cpp's
            # whole-sequence detokenize) drop it
            assert m.detokenize(sp.encode(text)).removeprefix(" ") == sp.decode(sp.encode(text))


def test_logits_match_the_folded_reference(gguf_file, hf_dir, processor):
    sp, _ = processor
    ids = [1] + sp.encode(TEXTS[0] + TEXTS[1])
    ref = hf_logits(folded_reference(hf_dir), ids)
    with Model(gguf_file, threads=2, context=128) as m:
        got = m.eval(ids)
    print(f"minicpm SentencePiece file: max |logit diff| {np.abs(got - ref).max():.2e}")
    assert rel(got, ref) < TOLERANCE
