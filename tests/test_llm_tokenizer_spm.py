"""The C SentencePiece tokenizer (GGUF tokenizer.ggml.model "llama": Gemma's) against two outside
references: the `sentencepiece` package that trained the vocabulary (llm_tiny_gemma3) and Hugging
Face's GemmaTokenizer built from the same tokenizer.model. The engine reads the vocabulary from
the GGUF `parrot convert` wrote (token for token what llama.cpp's converter writes:
test_llm_arch_gemma3)."""
from __future__ import annotations

import pytest

import llm_tiny_gemma3 as tiny
from test_llm_tokenizer_bpe import EDGE_CASES, corpus_texts, random_strings

pytest.importorskip("sentencepiece")

from parrot.llm import Model  # noqa: E402
from parrot.llm.convert import convert  # noqa: E402

CHAT = "<start_of_turn>user\n你好, parrot!<end_of_turn>\n<start_of_turn>model\n"
CASES = EDGE_CASES + [
    CHAT,
    "很少见的字：龘靐齉 and ᚠᛇᚻ runes",  # outside the vocabulary: <0xNN> byte tokens
    "     five spaces, then \u2581 the marker itself",
    "数字 3.14159 and 2024年10月1日",
    "\U0001F99C\U0001F99C\U0001F99C parrots",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("spm") / "gemma3.gguf"
    convert(tiny.hf_dir(), out, "f32", progress=False)
    with Model(out, threads=1, context=16) as m:
        assert not m.info["tokenizer_error"]
        yield m


@pytest.fixture(scope="module")
def hf():
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(tiny.hf_dir())
    assert type(tok).__name__.startswith("GemmaTokenizer")
    return tok


def texts() -> list[str]:
    # the reserved control names (<bos> ...) stay out: SentencePiece reads them as plain text
    return CASES + corpus_texts() + tiny.training_text() + random_strings(7, 400)


def test_same_ids_as_sentencepiece(model):
    sp = tiny.processor()
    n_tokens = 0
    for text in texts():
        got = model.tokenize(text)
        assert got == sp.encode(text), text
        n_tokens += len(got)
    whole = "\n".join(tiny.training_text())
    assert len(model.tokenize(whole)) < 0.75 * len(whole)  # merges really happened (text mostly Chinese)
    assert n_tokens > 10000


def test_same_ids_as_hf_tokenizers(model, hf):
    for text in texts():
        assert model.tokenize(text) == hf.encode(text, add_special_tokens=False), text


def test_byte_fallback_and_spaces(model):
    sp = tiny.processor()
    ids = model.tokenize("龘 x")
    assert [sp.id_to_piece(i) for i in ids][:3] == ["<0xE9>", "<0xBE>", "<0x98>"]
    assert model.detokenize(ids) == "龘 x"
    assert sp.id_to_piece(model.tokenize("a  b")[1]) == "\u2581\u2581"


def test_detokenize_gives_the_text_back(model):
    sp = tiny.processor()
    for text in texts():
        ids = model.tokenize(text)
        assert model.detokenize(ids) == sp.decode(ids), text
        # SentencePiece spells a space as U+2581, so that character itself comes back as a space
        assert model.detokenize(ids) == text.replace("\u2581", " "), text


def test_chat_markers_and_bos(model):
    sp = tiny.processor()
    ids = model.tokenize(CHAT)
    assert ids[0] == sp.piece_to_id("<start_of_turn>") and ids.count(sp.piece_to_id("<end_of_turn>")) == 1
    # written as text, a marker is plain text when special tokens are off
    assert sp.piece_to_id("<start_of_turn>") not in model.tokenize(CHAT, special=False)
    assert model.info["add_bos"] and model.info["bos"] == sp.bos_id()


def test_invalid_utf8_comes_back_byte_for_byte(model):
    """Bytes that are no UTF-8 (SentencePiece cannot be given them) fall back to <0xNN> tokens."""
    import random

    rng = random.Random(3)
    for _ in range(300):
        raw = bytes(rng.choice([0x80, 0xBF, 0xC3, 0xE4, 0xF0, 0xFF, 0x20, 0x41, 0xE2, 0x96, 0x81])
                    for _ in range(rng.randrange(1, 24)))
        ids = model._c.tokenize(raw, False)
        assert all(0 <= i < model.n_vocab for i in ids)
        assert model._c.detokenize(ids) == raw.replace(b"\xe2\x96\x81", b" "), raw
