"""tools/kenlm_reader.py against KenLM itself: a random ARPA model is built into KenLM's binary
trie by KenLM's build_binary (Debian's libime-bin ships it as libime_slm_build_binary; `make
test` installs it), read back, and every n-gram and value compared with the ARPA text. And the
shipped sentence model against its source, libime's zh_CN.lm (libime-data-language-model)."""

from __future__ import annotations

import glob
import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from kenlm_reader import KenlmFormatError, read_kenlm  # noqa: E402

from parrot.ime import dictfile  # noqa: E402
from parrot.ime.dictionary import load_dictionary, text_hash  # noqa: E402

BUILD_BINARY = "/usr/bin/libime_slm_build_binary"


def random_arpa(rng: np.random.Generator, words: int = 300, bigrams: int = 4000, trigrams: int = 3000):
    """A valid back-off 3-gram model: every n-gram's prefix and suffix are there too."""
    vocab = ["<s>", "</s>", "<unk>"] + [chr(0x4E00 + k) + chr(0x4E00 + 7 * k % 20000) * int(k % 3) for k in range(words)]
    vocab = list(dict.fromkeys(vocab))
    uni = {(w,): (float(rng.uniform(-6, -1)), float(rng.uniform(-1, 0))) for w in vocab}
    uni[("<s>",)] = (-99.0, uni[("<s>",)][1])
    ids = rng.integers(3, len(vocab), size=(bigrams * 2, 2))
    bi = {}
    for a, b in ids.tolist():
        if len(bi) < bigrams:
            bi[(vocab[a], vocab[b])] = (float(rng.uniform(-5, -0.1)), float(rng.uniform(-1.5, 0)))
    pairs = list(bi)
    after: dict[str, list[str]] = {}  # the words each word has a bigram to
    for v, w in pairs:
        after.setdefault(v, []).append(w)
    tri = {}
    while len(tri) < trigrams:  # (a, b) and (b, c) both bigrams
        a, b = pairs[int(rng.integers(len(pairs)))]
        if b in after:
            c = after[b][int(rng.integers(len(after[b])))]
            tri[(a, b, c)] = (float(rng.uniform(-4, -0.05)), None)
    return vocab, [uni, bi, tri]


def write_arpa(path: Path, orders) -> None:
    lines = ["", "\\data\\"] + [f"ngram {n + 1}={len(o)}" for n, o in enumerate(orders)] + [""]
    for n, o in enumerate(orders):
        lines.append(f"\\{n + 1}-grams:")
        for words, (p, b) in o.items():
            lines.append(f"{p:.6f}\t{' '.join(words)}" + ("" if b is None or n == len(orders) - 1 else f"\t{b:.6f}"))
        lines.append("")
    lines.append("\\end\\")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def arpa(tmp_path_factory):
    if not Path(BUILD_BINARY).exists():
        pytest.fail(f"{BUILD_BINARY} missing: run `make ime-deps` (Debian libime-bin)")
    tmp = tmp_path_factory.mktemp("kenlm")
    vocab, orders = random_arpa(np.random.default_rng(7))
    write_arpa(tmp / "model.arpa", orders)
    return tmp, orders


@pytest.mark.parametrize("layout,bits,tolerance", [
    (["-q", "16", "-b", "16", "-a", "22", "trie"], 16, 2e-4),  # QUANT_ARRAY_TRIE, fine bins
    (["-q", "8", "-b", "8", "trie"], 8, 0.05),                 # QUANT_TRIE, libime's bin width
    (["-q", "9", "-b", "7", "-a", "4", "trie"], 9, 0.05),      # unequal widths, a short pointer table
])
def test_reader_returns_what_kenlm_built(arpa, layout, bits, tolerance):
    tmp, orders = arpa
    out = tmp / f"model-{bits}-{len(layout)}.lm"
    r = subprocess.run([BUILD_BINARY, *layout, str(tmp / "model.arpa"), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    model = read_kenlm(str(out))
    assert model.vocab[0] == "<unk>" and sorted(model.vocab) == sorted(w for (w,) in orders[0])
    for n, (theirs, ours) in enumerate(zip(orders, model.orders)):
        got = {tuple(model.vocab[i] for i in row): k for k, row in enumerate(ours.words.tolist())}
        assert set(got) == set(theirs), f"order {n + 1}: different n-grams"
        prob = np.array([ours.prob[got[g]] for g in theirs])
        want = np.array([p for p, _ in theirs.values()])
        live = want > -90  # <s> has no probability of its own
        assert np.max(np.abs(prob[live] - want[live])) <= (1e-6 if n == 0 else tolerance), f"order {n + 1}"
        if ours.backoff is not None and n + 1 < len(orders):
            # Back-offs of n-grams that start no longer n-gram are stored as 0 (they are unused).
            extended = {g[:-1] for g in orders[n + 1]}
            keys = [g for g in theirs if g in extended]
            back = np.array([ours.backoff[got[g]] for g in keys])
            want_b = np.array([theirs[g][1] for g in keys])
            assert np.max(np.abs(back - want_b)) <= (1e-6 if n == 0 else tolerance), f"order {n + 1} back-off"


def test_reader_refuses_what_it_cannot_read(arpa, tmp_path):
    tmp, _ = arpa
    probing = tmp_path / "probing.lm"
    subprocess.run([BUILD_BINARY, "probing", str(tmp / "model.arpa"), str(probing)], check=True, capture_output=True)
    with pytest.raises(KenlmFormatError, match="only quantized tries"):
        read_kenlm(str(probing))
    (tmp_path / "text.lm").write_text("not a model")
    with pytest.raises(KenlmFormatError, match="not a KenLM binary"):
        read_kenlm(str(tmp_path / "text.lm"))
    built = tmp_path / "cut.lm"
    subprocess.run([BUILD_BINARY, "-q", "8", "trie", str(tmp / "model.arpa"), str(built)], check=True, capture_output=True)
    data = built.read_bytes()
    (tmp_path / "cut2.lm").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(KenlmFormatError):
        read_kenlm(str(tmp_path / "cut2.lm"))


def test_shipped_sentence_model_is_libimes():
    """sentence.lm holds libime's probabilities for our words (sampled), from the file its
    header names by sha256."""
    found = sorted(glob.glob("/usr/lib/*/libime/zh_CN.lm"))
    if not found:
        pytest.fail("libime's zh_CN.lm missing: run `make ime-deps` (Debian libime-data-language-model)")
    d = load_dictionary()
    digest = hashlib.sha256(Path(found[0]).read_bytes()).hexdigest()
    lm_meta, _ = dictfile.read(d.path.with_name("sentence.lm"))
    assert list(lm_meta["sources_sha256"].values()) == [digest]
    model = read_kenlm(found[0])
    words = model.vocab
    ours = set(d.text_index)
    bi = model.orders[1]
    rng = np.random.default_rng(3)
    sample = rng.choice(len(bi.prob), size=20000, replace=False)
    v, w = bi.words[sample, 0], bi.words[sample, 1]
    keep = [k for k in range(len(sample)) if words[v[k]] in ours and words[w[k]] in ours]
    assert len(keep) > 5000
    prev = np.array([text_hash(words[v[k]]) for k in keep], dtype=np.uint64)
    word = np.array([text_hash(words[w[k]]) for k in keep], dtype=np.uint64)
    got = d.words_lm.logp(prev, word, np.zeros(len(keep), dtype=np.float32))
    want = bi.prob[sample[keep]] * math.log(10)
    assert np.mean(np.abs(got - want) <= 0.05 + 1e-4) > 0.999  # 0.1-nat steps (a hash collision may differ)
