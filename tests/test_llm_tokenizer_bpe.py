"""The C byte-level BPE tokenizer (parrot.llm._core.Tokenizer) against Hugging Face `tokenizers`.

A small but real byte-level BPE vocabulary is trained here with `tokenizers` itself (Qwen2
split regex + ByteLevel, the way Qwen's vocabulary was made), with control and user-defined
added tokens. The very same vocabulary, merges and added tokens go to the C tokenizer and to
HF's implementation with each pre-tokenizer (qwen2, llama-bpe, gpt2, smollm), and the ids must be
identical on a mixed corpus and on seeded random strings.
"""

from __future__ import annotations

import codecs
import json
import random
import time
from pathlib import Path

import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from parrot.llm import _core

DATA = Path(__file__).parent / "data" / "tokenizer"

# Split regexes as Hugging Face's Qwen2 / Llama-3 tokenizer.json write them.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def hf_pre_tokenizer(pre: str):
    """HF's pre-tokenizer for a GGUF `tokenizer.ggml.pre` (as in the models' tokenizer.json)."""
    if pre == "qwen2":
        split = QWEN2_SPLIT
    elif pre == "llama-bpe":
        split = LLAMA3_SPLIT
    elif pre == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif pre == "smollm":  # SmolLM2's tokenizer.json
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
    else:
        raise ValueError(pre)
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


PRES = ["qwen2", "llama-bpe", "gpt2", "smollm"]
CONTROL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|工具|>"]
USER_DEFINED = ["<think>", "</think>", "<|im"]  # "<|im" overlaps <|im_start|>: longest match must win


def training_text() -> list[str]:
    lines = (DATA / "corpus.txt").read_text(encoding="utf-8").splitlines()
    rng = random.Random(7)
    try:  # more Chinese words if jieba (a test dependency) is there
        import jieba

        words = (Path(jieba.__file__).parent / "dict.txt").read_text(encoding="utf-8").splitlines()[:20000]
        words = [w.split(" ")[0] for w in words]
        for i in range(0, len(words), 40):
            lines.append("，".join(words[i : i + 40]) + "。")
    except ImportError:
        pass
    for _ in range(300):
        lines.append(" ".join(str(rng.randrange(10 ** rng.randrange(1, 12))) for _ in range(8)))
    ws = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\n", "\r"]
    words = ["x", "if", "return", "你好", "12", "!", ")", "'s", "'d", "ſa"]
    for _ in range(300):  # whitespace runs of every shape between words
        lines.append("".join(rng.choice(ws) + rng.choice(words) for _ in range(6)))
    return lines * 2


GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def raw_splitter(pre: str):
    """The splitting part of each pre-tokenizer, without the byte-level spelling."""
    split = {"qwen2": QWEN2_SPLIT, "llama-bpe": LLAMA3_SPLIT}.get(pre, GPT2_SPLIT)
    steps = [pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False)]
    if pre == "smollm":
        steps.insert(0, pre_tokenizers.Digits(individual_digits=True))
    return pre_tokenizers.Sequence(steps)


@pytest.fixture(scope="module")
def trained():
    """(HF tokenizer, tokens, types, merges) of a freshly trained byte-level BPE.

    It learns from the pieces of all four pre-tokenizers together, so that it has merges across
    the boundaries where they differ (digit runs, newline + indent, ...): a wrong split in the C
    code then changes the ids instead of being hidden by a vocabulary that cannot tell."""
    lines = training_text()
    text = (DATA / "corpus.txt").read_text(encoding="utf-8")
    # whole texts too (unsplit), for merges across any boundary: "\n" + word, "'" + word, ...
    pieces = lines + [text, text.replace("\n", "\r\n")] * 3 + text.splitlines(keepends=True) * 3
    pieces += ["\nif", "\nabc", "\rdef", "\n你好"] * 20  # newline + word tokens no pre-tokenizer makes
    for pre in PRES:
        splitter = raw_splitter(pre)
        for line in lines + [text]:
            pieces += [p for p, _ in splitter.pre_tokenize_str(line + "\n")]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)  # pieces as they are
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4000,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[AddedToken(t, normalized=False, special=True) for t in CONTROL],
    )
    tok.train_from_iterator(pieces, trainer)
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in USER_DEFINED])
    model = json.loads(tok.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    n = tok.get_vocab_size(with_added_tokens=True)
    tokens = [tok.id_to_token(i) for i in range(n)]
    types = [3 if t in CONTROL else 4 if t in USER_DEFINED else 1 for t in tokens]
    assert sorted(t for t, ty in zip(tokens, types) if ty != 1) == sorted(CONTROL + USER_DEFINED)
    assert len(merges) > 1500  # a real vocabulary, not just bytes
    return tok, tokens, types, merges


def hf_for(trained, pre: str) -> Tokenizer:
    """The trained HF tokenizer with another pre-tokenizer (same ids for everything)."""
    tok = trained[0]
    spec = json.loads(tok.to_str())
    if pre == "llama-bpe":  # Llama-3's tokenizer.json (and llama.cpp) take whole-token pieces as is
        spec["model"]["ignore_merges"] = True
    hf = Tokenizer.from_str(json.dumps(spec))
    hf.pre_tokenizer = hf_pre_tokenizer(pre)
    return hf


@pytest.fixture(scope="module", params=PRES)
def pair(request, trained):
    _, tokens, types, merges = trained
    return request.param, hf_for(trained, request.param), _core.Tokenizer(tokens, types, merges, request.param)


EDGE_CASES = [
    "",
    " ",
    "a",
    "Hello world",
    "你好，世界！我是一个语音助手。",
    "I'm sure they'll say it's fine, don't you think? We've seen it; you'd agree.",
    "HE'S SHE'LL THEY'RE WE'VE I'D I'M DON'T 'ſ 'ſt x'Ll Ich'ſt du'ſa er'ſe iſt 'ſagte",
    "I'dont 'dog 'don't 'sing 'tea 'remember 'very 'milk 'llama 'dx 'Dog",
    "\nabc\rdef\n\nif\r\nreturn \n x;\nif x\rdef 1\n你好",
    "digits 𑷠𑷡𑷢𑷣! 𖿴𖿵𖿶? x𑷠𑷡y 12𑷢34 (𖿴) a𑷠.",
    "'s't're've'm'll'd 's 't 're",
    "12345678901234567890 3.14159 1,000,000 ٠١٢٣٤٥٦٧٨٩ ⅫⅢ ½",
    "a1b22c333d4444 99bottles",
    "line1\nline2\r\nline3\r\rline4\n\n\n  \n\t\n",
    "   leading and trailing   ",
    "tabs\t\tand\t \tmixed  \t  whitespace",
    "word  \n  word\n \n",
    "\u00a0\u3000x\u2028y\u0085z\u200bw\ufeffv\x0b\x0c\x1c\x1f",
    "emoji 😀👍🏽🇨🇳❤️‍🔥 (╯°□°）╯︵ ┻━┻",
    "e\u0301 é ﬁ ǅ ß ẞ İ ﬆ",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
    "<think>\n让我想想。\n</think>\n\n答案是42。<|endoftext|>",
    "<|im_star <|im <|im_end| <|im_end|><|im_end|>x<think><think>",
    "a <|工具|> b<|工具|>c",
    "!!!...??? --- ((()))  !!\n\n",
    " ?x ?1 ?? \t? \n?",
    "def f(x):\n    return x ** 2  # comment\n\n\nclass A:\n\tpass\n",
    "if (x != null && y >= 10) { return a->b[i++] << 2; }",
    "https://example.com/a?b=1&c=%20#frag admin@example.org",
    "\r\n\r\n",
    "x\r",
    "\n",
    "a" * 300,
    "1" * 100,
    " " * 50 + "x" + " " * 50,
    "中" * 200,
]


def random_strings(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    pool = [" ", "  ", "\t", "\n", "\r\n", "\r", "'", "'s", "'LL", "'ſ", "a", "Z", "the", "Hello", " world", "123",
            "9", "0", ".", ",", "!", "?", "(", "}", "<", "|", ">", "你", "好", "。", "，", "中国", "😀", "🏽", "\u200d",
            "\u00a0", "\u3000", "\u2028", "\u0085", "\x0b", "\x1c", "é", "e\u0301", "٣", "Ⅻ", "½", "ß", "_", "-", "#",
            "*", "/", "\\", "`", "\n\n", " \n ", "\t\n"] + CONTROL + USER_DEFINED + ["<|im_", "<thi"]

    def any_char() -> str:
        while True:
            c = rng.randrange(0x110000) if rng.random() < 0.4 else rng.randrange(0x3100)
            if not 0xD800 <= c <= 0xDFFF:
                return chr(c)

    return [
        "".join(rng.choice(pool) if rng.random() < 0.75 else any_char() for _ in range(rng.randrange(1, 40)))
        for _ in range(count)
    ]


def corpus_texts() -> list[str]:
    text = (DATA / "corpus.txt").read_text(encoding="utf-8")
    return [text, text.replace("\n", "\r\n")] + text.splitlines(keepends=True)


def test_same_ids_as_hf_on_corpus(pair):
    pre, hf, tk = pair
    for text in EDGE_CASES + corpus_texts():
        ref = hf.encode(text, add_special_tokens=False).ids
        assert tk.encode(text) == ref, (pre, text)
    whole = (DATA / "corpus.txt").read_text(encoding="utf-8")
    assert len(tk.encode(whole)) < 0.75 * len(whole.encode())  # merges really happened


def test_same_ids_as_hf_on_random_strings(pair):
    pre, hf, tk = pair
    bad = []
    for text in random_strings(seed=PRES.index(pre), count=3000):
        if tk.encode(text) != hf.encode(text, add_special_tokens=False).ids:
            bad.append(text)
    assert not bad, (pre, len(bad), bad[:5])


def test_long_mixed_text_in_one_call(pair):
    pre, hf, tk = pair
    text = "".join(random_strings(seed=100 + PRES.index(pre), count=400))
    assert tk.encode(text) == hf.encode(text, add_special_tokens=False).ids


def test_decode_round_trip_and_matches_hf(pair):
    pre, hf, tk = pair
    for text in EDGE_CASES + corpus_texts() + random_strings(seed=50, count=500):
        ids = tk.encode(text)
        assert tk.decode(ids) == text
        assert b"".join(tk.piece(i) for i in ids) == text.encode()
        assert tk.decode(ids) == hf.decode(ids, skip_special_tokens=False)


def test_decode_invalid_utf8_replaces_like_hf(trained):
    _, tokens, types, merges = trained
    hf = hf_for(trained, "qwen2")
    tk = _core.Tokenizer(tokens, types, merges, "qwen2")
    rng = random.Random(3)
    for _ in range(500):
        ids = [rng.randrange(tk.n_vocab) for _ in range(rng.randrange(1, 12))]
        raw = b"".join(tk.piece(i) for i in ids)
        assert tk.decode(ids) == raw.decode("utf-8", "replace")
        assert tk.decode(ids) == hf.decode(ids, skip_special_tokens=False), ids


def test_special_false_leaves_control_tokens_as_text(pair):
    pre, hf, tk = pair
    hf.encode_special_tokens = True  # HF: special (control) tokens are split like text
    try:
        for text in EDGE_CASES[16:22] + random_strings(seed=9, count=300):
            assert tk.encode(text, special=False) == hf.encode(text, add_special_tokens=False).ids, text
    finally:
        hf.encode_special_tokens = False
    im_start = tk.find("<|im_start|>")
    assert tk.token_type(im_start) == 3
    assert im_start in tk.encode("<|im_start|>")
    assert im_start not in tk.encode("<|im_start|>", special=False)
    assert tk.find("<think>") in tk.encode("<think>", special=False)  # user-defined still whole


def test_invalid_utf8_never_crashes_and_is_lossless(trained):
    _, tokens, types, merges = trained
    rng = random.Random(11)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64))) for _ in range(2000)]
    samples += [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe4\xbd", b"ab\xe4\xbd", b"\xf0\x9f\x98",
                b"a\x80b", b"<|im_end|>\xff<|im_end|>", b"\x00\x00 \x00"]
    for pre in PRES:
        tk = _core.Tokenizer(tokens, types, merges, pre)
        for data in samples:
            ids = tk.encode(data)
            assert b"".join(tk.piece(i) for i in ids) == data  # every byte kept, in order
            assert tk.decode(ids) == data.decode("utf-8", "replace")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            assert ids == tk.encode(text)
        # an invalid byte splits like punctuation: the valid text around it is tokenized as usual
        assert tk.encode(b"hello\xffworld")[:1] == tk.encode("hello")[:1]


def test_pieces_and_lookup(trained):
    _, tokens, types, merges = trained
    tk = _core.Tokenizer(tokens, types, merges, "qwen2")
    assert tk.n_vocab == len(tokens)
    byte_map = pre_tokenizers.ByteLevel.alphabet()
    assert len(byte_map) == 256
    for i, t in enumerate(tokens):
        assert tk.find(t) == i
        if types[i] == 1:
            assert tk.decode([i]).encode() == tk.piece(i) or b"\xef\xbf\xbd" in tk.decode([i]).encode()
        else:
            assert tk.piece(i) == t.encode()
    assert tk.piece(tk.find("Ġ")) == b" "
    assert tk.piece(tk.find("Ċ")) == b"\n"
    assert tk.find("not a token at all") == -1
    assert tk.encode(b"\xe4\xb8\xad") == tk.encode("中")


def test_errors(trained):
    _, tokens, types, merges = trained
    with pytest.raises(ValueError, match="klingon"):
        _core.Tokenizer(tokens, types, merges, "klingon")
    with pytest.raises(ValueError):
        _core.Tokenizer(tokens, types[:-1], merges, "qwen2")
    with pytest.raises(TypeError):
        _core.Tokenizer(tokens + [3], types + [1], merges, "qwen2")
    tk = _core.Tokenizer(tokens, None, merges, "qwen2")  # no types: all normal, no added tokens
    assert tk.find("<|im_end|>") not in tk.encode("<|im_end|>")
    with pytest.raises(IndexError):
        tk.decode([len(tokens)])
    with pytest.raises(IndexError):
        tk.piece(-1)
    with pytest.raises(TypeError):
        tk.encode(123)
    with pytest.raises(UnicodeEncodeError):
        tk.encode("lone \ud800 surrogate")
    with pytest.raises(RuntimeError):  # immutable: another thread may be encoding with it
        tk.__init__(tokens, types, merges, "gpt2")


def test_merge_order_is_rank_then_leftmost():
    # Tiny hand-made vocabulary: "a a" outranks "b c", so "abc" must not become a+bc.
    tokens = ["a", "b", "c", "aa", "bc", "ab", "aaa"]
    merges = ["a b", "b c", "a a", "aa a"]
    tk = _core.Tokenizer(tokens, [1] * len(tokens), merges, "gpt2")
    hf = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split()) for m in merges]))
    hf.pre_tokenizer = hf_pre_tokenizer("gpt2")
    for text in ["abc", "aaa", "aaaa", "aaaaa", "abab", "bcbc", "aabc", "ab c", "x"]:
        assert tk.encode(text) == hf.encode(text).ids, text
    assert tk.encode("abc") == [5, 2]
    # a merge listed twice keeps its last rank (HF builds a map from the list)
    for merges in (["a b", "b c", "a b"], ["b c", "a b", "b c"]):
        tk = _core.Tokenizer(tokens, [1] * len(tokens), merges, "gpt2")
        hf = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split()) for m in merges]))
        hf.pre_tokenizer = hf_pre_tokenizer("gpt2")
        assert tk.encode("abc") == hf.encode("abc").ids


def test_llama3_takes_a_piece_that_is_a_token_whole():
    # "abc" is in the vocabulary but the merges lead to a + bc: Llama-3 (ignore_merges) keeps abc.
    tokens = ["a", "b", "c", "ab", "bc", "abc"]
    merges = ["b c", "a b"]
    for pre, ignore in [("llama-bpe", True), ("gpt2", False)]:
        tk = _core.Tokenizer(tokens, [1] * len(tokens), merges, pre)
        hf = Tokenizer(
            models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split()) for m in merges], ignore_merges=ignore)
        )
        hf.pre_tokenizer = hf_pre_tokenizer(pre)
        for text in ["abc", "abcabc", "ab", "cab"]:
            assert tk.encode(text) == hf.encode(text).ids, (pre, text)
        assert tk.encode("abc") == ([5] if ignore else [0, 4])


def test_nfc_option_matches_hf_normalizer(trained):
    """nfc=True: like Qwen2's tokenizer.json, whose normalizer is NFC (HF's has Unicode 9.0 data)."""
    hf = hf_for(trained, "qwen2")
    hf.normalizer = normalizers.NFC()
    tk = _core.Tokenizer(*trained[1:], "qwen2", nfc=True)
    plain = _core.Tokenizer(*trained[1:], "qwen2")
    assert plain.decode(plain.encode("e\u0301")) == "e\u0301"  # off by default
    assert tk.decode(tk.encode("e\u0301")) == "\u00e9"
    rng = random.Random(21)
    marks = [0x300, 0x301, 0x308, 0x323, 0x327, 0x31B, 0x345, 0xF71, 0xF72, 0xF80, 0x5B0, 0x591, 0x93C, 0x94D, 0x3099,
             0x309A, 0x1DCE, 0x1DF6, 0x20D0, 0x1AC1, 0x7FD]  # the last three are newer than Unicode 9.0
    bases = [ord(c) for c in "aeoAEOnNcsSzyYwαωΑΩιυеиок中"] + [
        0x1100, 0x1112, 0x1161, 0x1175, 0x11A8, 0x11C2, 0xAC00, 0xAC01, 0xD7A3, 0x958, 0x2126, 0x212B, 0x344, 0xF900,
        0xFA10, 0x2F800, 0x1E0A, 0x1E9B, 0xCC6, 0xCC2, 0x9C7, 0x9BE, 0xB47, 0xB3E, 0xDD9, 0xDCF, 0x1025, 0x102E,
        0x304B, 0x30CF, 0x11099, 0x110BA, 0xC5, 0xE9, 0x1D5, 0x390, 0x20, 0x0A, 0x27]
    texts = [
        "".join(chr(rng.choice(marks) if rng.random() < 0.4 else rng.choice(bases)) for _ in range(rng.randrange(1, 12)))
        for _ in range(3000)
    ]
    texts += ["a" + chr(cp) + "\u0323\u0301" for cp in list(range(0x300, 0x3400)) + list(range(0xF900, 0xFB50))]
    texts += ["<|im_start|>\u0301e\u0301<think>\u0301", "\u1100\u1161\u11a8 \ud55c\u11a8", "Å Å Ω 福 \uf9a8"]
    texts = [t for t in texts if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
    for text in texts:
        ids = tk.encode(text)
        assert ids == hf.encode(text, add_special_tokens=False).ids, [hex(ord(c)) for c in text]
        assert tk.decode(ids) == hf.normalizer.normalize_str(text) or "<" in text
    assert tk.encode("\u0958" * 10) == hf.encode("\u0958" * 10).ids  # NFC grows this text: more ids than bytes


def test_utf8_stream_matches_incremental_decoder():
    rng = random.Random(5)
    alphabet = [0x41, 0xE4, 0xBD, 0xA0, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0, 0xC0, 0xC3, 0xA9, 0xF4, 0x90, 0xFF]
    for _ in range(3000):
        data = bytes(rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256) for _ in range(rng.randrange(24)))
        stream = _core.Utf8Stream()
        out, i = "", 0
        while i < len(data):
            j = i + rng.randrange(1, 5)
            out += stream.push(data[i:j])
            prefix = data[:j]
            # Every complete character (or invalid sequence) is out at once; only a truncated
            # valid start of a character is held back.
            if stream.pending:
                assert 0 < stream.pending <= 3
                with pytest.raises(UnicodeDecodeError, match="unexpected end of data"):
                    prefix[-stream.pending :].decode("utf-8")
                assert out + "\ufffd" == prefix.decode("utf-8", "replace"), data
            else:
                assert out == prefix.decode("utf-8", "replace"), data
            i = j
        out += stream.flush()
        assert stream.pending == 0
        assert out == data.decode("utf-8", "replace") == codecs.decode(data, "utf-8", "replace")


def test_speed(trained):
    _, tokens, types, merges = trained
    tk = _core.Tokenizer(tokens, types, merges, "qwen2")
    text = ((DATA / "corpus.txt").read_text(encoding="utf-8") + "\n") * 100  # ~240 KB
    t0 = time.perf_counter()
    n = len(tk.encode(text))
    dt = time.perf_counter() - t0
    print(f"\nencode: {n} tokens in {dt * 1000:.1f} ms = {n / dt / 1e3:.0f} k tokens/s ({len(text.encode()) / dt / 1e6:.1f} MB/s)")
    assert n / dt > 50_000  # measured ~1 M/s; a slow path would show up here
    # Pathological pieces (one 200 KB run of spaces, one 100 KB word) stay near-linear.
    t0 = time.perf_counter()
    tk.encode(" " * 200_000 + "x")
    tk.encode("a" * 100_000)
    for pre in PRES:  # long stretches without digits or newlines (smollm scans for the next digit)
        _core.Tokenizer(tokens, types, merges, pre).encode("word, " * 40_000 + "\n" + " \n" * 40_000)
    assert time.perf_counter() - t0 < 5.0
