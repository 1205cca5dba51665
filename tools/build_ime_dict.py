#!/usr/bin/env python3
"""Build parrot's T9 pinyin dictionary (parrot/ime/data/pinyin.dict) and its sentence model
(parrot/ime/data/sentence.lm) from registry data.

Sources (build time only; the product never imports them):
  * jieba 0.42.1 dict.txt          the word list and its frequencies (`word freq pos` lines)
  * wordfreq 3.1.1 large_zh        modern word frequencies (subtitles, web, Wikipedia, books;
                                   data CC-BY-SA 4.0): blended with jieba's, which alone
                                   ranks 衙门 above 咱们
  * pypinyin 0.55.0 pinyin_dict     every reading of every character
  * pypinyin 0.55.0 phrases_dict    readings of multi-character phrases (polyphones in context)
  * Pinyin2Hanzi 0.1.1 (MIT)        hmm_transition.json / hmm_start.json: character bigram
                                   probabilities P(b | a) and sentence-start probabilities
                                   counted from real text; the sentence language model
  * libime's zh_CN.lm               (Debian libime-data-language-model 1.0.16-1, LGPL-2.1+):
                                   the word language model of fcitx5's pinyin (a KenLM
                                   3-gram); its unigrams and bigrams over our words become
                                   sentence.lm (read by tools/kenlm_reader.py)
  * tools/ime_blocklist.txt         vulgar and offensive words never proposed unless learned

Output: a memory-mappable file (see parrot/ime/dictfile.py) holding
  * entries sorted by padded digit key: word characters, their syllables, log frequency;
  * an abbreviation table: initials digits ("94" for 中国 zhong guo) -> a few frequent words;
  * an association table: text prefix (1-3 characters) -> frequent continuations.
The sha256 of each source file is stored in the header and printed.

Usage: python tools/build_ime_dict.py [--out PATH] [--min-freq N] [--kenlm PATH]
(needs pip install -e '.[build-data]' and apt-get install libime-data-language-model; the
output is byte-for-byte reproducible from the same sources)
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parrot.ime import dictfile  # noqa: E402
from parrot.ime.dictionary import KEY_WIDTH, pack_text_key, pad_key, text_hash  # noqa: E402
from parrot.ime.t9 import is_hanzi, letters_to_digits, toneless  # noqa: E402

DEFAULT_OUT = ROOT / "parrot" / "ime" / "data" / "pinyin.dict"
MIN_WORD_FREQ = 5  # jieba's long tail (freq < 5) is mostly rare names and compounds
MAX_WORD_CHARS = 6
# A polyphonic character's first pypinyin reading is its ordinary standalone one (了 le,
# 的 de); it keeps this share, the others split the rest by how often words use them.
PRIMARY_READING_SHARE = 0.7
MIN_READING_SHARE = 0.002  # a reading no word uses (也 yi) stays far down
# Abbreviated input (syllables cut short: 94 = z'g -> 中国, 9464 = zhong'g) is matched only
# against words common enough to be the likely intent: indexed by the keys of their
# initials, the most frequent per key above a frequency floor.
ABBREV_MAX_PER_KEY = 16
ABBREV_MIN_FREQ = 100
ABBREV_SYLLABLES = (2, 3, 4)
# Association (联想): continuations of what was just typed, from longer dictionary words.
ASSOC_MAX_PREFIX = 3
ASSOC_PER_PREFIX = 8
ASSOC_MIN_FREQ = 20
RARE_CHAR_FREQ = 1  # GB2312 characters jieba never saw alone
# log frequency = JIEBA_WEIGHT * log p(jieba) + (1 - JIEBA_WEIGHT) * log p(wordfreq) when
# wordfreq knows the word; otherwise log p(jieba) + UNSEEN_PENALTY (it is rarer than jieba says).
JIEBA_WEIGHT = 0.0
UNSEEN_LOG_PENALTY = -2.0
CENTIBELS = 100.0  # wordfreq stores log10 frequencies in hundredths
BLOCKLIST = Path(__file__).resolve().parent / "ime_blocklist.txt"
# Character bigrams: PMI = log P(b | a) - log P(b), stored as int8 in PMI_SCALE nats.
PMI_SCALE = 0.1
STATIONARY_ITERATIONS = 500
# Sentence model: -log P stored as uint8 in WB_SCALE nats (0 to 25.5).
WB_SCALE = 0.1
SENTENCE_LM_OUT = "sentence.lm"  # written beside --out
KENLM_GLOB = "/usr/lib/*/libime/zh_CN.lm"  # Debian's libime-data-language-model
KENLM_SHA256 = "e4097ca9ca1082928c2ea7d5e368080a696611efa0714dfe563c769f26a415d2"  # 1.0.16-1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_jieba(path: Path) -> dict[str, int]:
    freqs: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and all(is_hanzi(c) for c in parts[0]):
                freqs[parts[0]] = freqs.get(parts[0], 0) + int(parts[1])
    return freqs


def load_wordfreq(path: Path) -> dict[str, float]:
    """wordfreq's msgpack list: [header, [words at 0 cB], [words at -1 cB], ...] -> log p."""
    import gzip

    import msgpack

    buckets = msgpack.loads(gzip.decompress(path.read_bytes()), raw=False)[1:]
    return {w: -cb / CENTIBELS * math.log(10) for cb, words in enumerate(buckets) for w in words}


def blend(word: str, jieba_logp: float, wordfreq_logp: dict[str, float]) -> float:
    if word in wordfreq_logp:
        return JIEBA_WEIGHT * jieba_logp + (1 - JIEBA_WEIGHT) * wordfreq_logp[word]
    return jieba_logp + UNSEEN_LOG_PENALTY


def char_readings(pinyin_dict: dict[int, str], ch: str) -> list[str]:
    """All toneless readings of a character, pypinyin's main reading first, no duplicates."""
    raw = pinyin_dict.get(ord(ch))
    if not raw:
        return []
    out = []
    for marked in raw.split(","):
        r = toneless(marked.strip())
        if r.isascii() and r.isalpha() and r not in out:
            out.append(r)
    return out


def word_reading(word: str, phrases_dict, pinyin_dict, lazy_pinyin, style) -> list[str] | None:
    """Readings of a multi-character word: the phrase table first, else pypinyin's segmenter."""
    if word in phrases_dict:
        reading = [toneless(p[0]) for p in phrases_dict[word]]
    elif all(len(char_readings(pinyin_dict, c)) == 1 for c in word):
        reading = [char_readings(pinyin_dict, c)[0] for c in word]
    else:
        reading = lazy_pinyin(word, style=style)
    if len(reading) != len(word) or not all(r.isascii() and r.isalpha() for r in reading):
        return None
    return reading


def gb2312_hanzi() -> list[str]:
    out = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            if is_hanzi(ch):
                out.append(ch)
    return out


def reading_shares(readings: list[str], usage: collections.Counter) -> list[float]:
    if len(readings) == 1:
        return [1.0]
    others = readings[1:]
    total = sum(usage[r] for r in others)
    rest = 1.0 - PRIMARY_READING_SHARE
    shares = [PRIMARY_READING_SHARE]
    for r in others:
        share = rest * usage[r] / total if total else 0.0
        shares.append(max(share, MIN_READING_SHARE))
    return shares


Entry = tuple  # (text, syllables, jieba-scale frequency)


def source_files() -> dict[str, Path]:
    import jieba
    import Pinyin2Hanzi
    import pypinyin
    import wordfreq

    pp_dir = Path(pypinyin.__file__).parent
    p2h_dir = Path(Pinyin2Hanzi.__file__).parent / "data"
    return {
        "Pinyin2Hanzi 0.1.1 hmm_transition.json": p2h_dir / "hmm_transition.json",
        "Pinyin2Hanzi 0.1.1 hmm_start.json": p2h_dir / "hmm_start.json",
        "ime_blocklist.txt": BLOCKLIST,
        f"jieba {jieba.__version__} dict.txt": Path(jieba.__file__).parent / "dict.txt",
        "wordfreq 3.1.1 large_zh.msgpack.gz": Path(wordfreq.__file__).parent / "data" / "large_zh.msgpack.gz",
        f"pypinyin {pypinyin.__version__} pinyin_dict.json": pp_dir / "pinyin_dict.json",
        f"pypinyin {pypinyin.__version__} phrases_dict.json": pp_dir / "phrases_dict.json",
    }


def collect_words(freqs: dict[str, int], min_freq: int):
    """Multi-character words with their readings; and how often words read each
    character each way (for polyphone shares)."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    words: list[Entry] = []
    usage: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for word, freq in freqs.items():
        if len(word) < 2 or len(word) > MAX_WORD_CHARS or freq < min_freq:
            continue
        reading = word_reading(word, phrases_dict, pinyin_dict, lazy_pinyin, Style.NORMAL)
        if reading is None or len(letters_to_digits("".join(reading))) > KEY_WIDTH:
            continue
        words.append((word, reading, freq))
        for ch, r in zip(word, reading):
            usage[ch][r] += freq
    return words, usage


def collect_characters(freqs: dict[str, int], words: list[Entry], usage) -> list[Entry]:
    """One entry per reading of every character of jieba, GB2312 and the words."""
    from pypinyin.pinyin_dict import pinyin_dict

    chars = {w for w in freqs if len(w) == 1}
    chars.update(gb2312_hanzi())
    chars.update(c for w, _, _ in words for c in w)
    singles: list[Entry] = []
    for ch in sorted(chars):
        readings = char_readings(pinyin_dict, ch)
        base = freqs.get(ch, RARE_CHAR_FREQ)
        for r, share in zip(readings, reading_shares(readings, usage[ch])):
            singles.append((ch, [r], max(1, round(base * share))))
    return singles


def score_entries(entries: list[Entry], freqs: dict[str, int], modern: dict[str, float]) -> list[float]:
    """Log probability of each entry: blended jieba/wordfreq; a polyphone's reading keeps
    its share of the character's probability."""
    total = sum(f for _, _, f in entries)
    scores = []
    for word, _, freq in entries:
        if len(word) == 1:
            char_freq = freqs.get(word, RARE_CHAR_FREQ)
            whole = blend(word, math.log(char_freq / total), modern)
            scores.append(whole + math.log(min(1.0, freq / max(1, char_freq))))
        else:
            scores.append(blend(word, math.log(freq / total), modern))
    return scores


def digit_key(reading) -> str:
    return letters_to_digits("".join(reading))


def entry_arrays(entries: list[Entry], scores: list[float], syllables: list[str]):
    """The entry table (arrays, and the entries in its order): sorted by padded digit key,
    most probable first within a key."""
    syllable_id = {s: i for i, s in enumerate(syllables)}
    order = sorted(range(len(entries)), key=lambda i: (pad_key(digit_key(entries[i][1])), -scores[i], entries[i][0]))
    entries = [entries[i] for i in order]
    return {
        "entry_key": np.array([pad_key(digit_key(r)) for _, r, _ in entries], dtype=np.uint64),
        "entry_logp": np.array([scores[i] for i in order], dtype=np.float32),
        "entry_nchars": np.array([len(w) for w, _, _ in entries], dtype=np.uint8),
        "entry_digits": np.array([len(digit_key(r)) for _, r, _ in entries], dtype=np.uint8),
        "entry_last": np.array([len(digit_key(r[:-1])) for _, r, _ in entries], dtype=np.uint8),
        "chars": np.array([ord(c) for w, _, _ in entries for c in w], dtype=np.uint16),
        "sylls": np.array([syllable_id[s] for _, r, _ in entries for s in r], dtype=np.uint16),
    }, entries


def build(min_freq: int) -> tuple[dict, dict[str, np.ndarray], list[Entry]]:
    files = source_files()
    by_name = {name.split()[-1]: path for name, path in files.items()}
    freqs = load_jieba(by_name["dict.txt"])
    words, usage = collect_words(freqs, min_freq)
    singles = collect_characters(freqs, words, usage)
    entries = singles + words
    syllables = sorted({s for _, reading, _ in entries for s in reading})
    scores = score_entries(entries, freqs, load_wordfreq(by_name["large_zh.msgpack.gz"]))
    arrays, entries = entry_arrays(entries, scores, syllables)
    blocklist = load_blocklist(by_name["ime_blocklist.txt"])
    blocked = [is_blocked(w, blocklist) for w, _, _ in entries]
    arrays["entry_blocked"] = np.array(blocked, dtype=np.uint8)
    arrays.update(build_bigrams(by_name["hmm_transition.json"], by_name["hmm_start.json"]))
    arrays["entry_hash"] = np.array([text_hash(w) for w, _, _ in entries], dtype=np.uint32)
    # "Is this a word?" for context ranking (一 + 件 = 一件): sorted hashes of the texts.
    arrays["word_hash"] = np.unique(np.array([text_hash(w) for w, _, _ in words], dtype=np.uint32))
    logps = arrays["entry_logp"].tolist()
    # Blocked words are never offered by initials or as a continuation.
    allowed = [(w, r, 0 if b else f) for (w, r, f), b in zip(entries, blocked)]
    arrays.update(build_abbreviations(allowed, logps))
    arrays.update(build_associations(allowed, logps, min_freq))
    meta = {
        "format": 1,
        "syllables": syllables,
        "entries": len(entries),
        "words": len(words),
        "single_char_readings": len(singles),
        "total_freq": sum(f for _, _, f in entries),
        "min_word_freq": min_freq,
        "blocklist": [b for b in blocklist if not b.startswith("=")],  # checked in sentences too
        "blocked_entries": int(sum(blocked)),
        "bigrams": int(len(arrays["bigram_pair"])),
        "pmi_scale": PMI_SCALE,
        "sources_sha256": {name: sha256(path) for name, path in files.items()},
    }
    return meta, arrays, entries


def load_blocklist(path: Path) -> list[str]:
    """One word a line ('=word': dictionary entries only); # starts a comment."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word and word not in words:
            words.append(word)
    return words


def is_blocked(word: str, blocklist: list[str]) -> bool:
    return any(b.lstrip("=") in word for b in blocklist)


def build_bigrams(transition_path: Path, start_path: Path) -> dict[str, np.ndarray]:
    """The sentence language model: character bigrams from Pinyin2Hanzi's HMM tables.

    Stored as PMI(a, b) = log P(b | a) - log P(b), where P(b) is the stationary character
    distribution of the same chain (a row's missing mass = the clause ends and the next one
    starts with hmm_start's distribution), so corpus and marginal agree; the missing mass also gives each character's
    PMI with the end of a clause (吗 and 吧 end questions, 马 and 把 rarely do). A pair not in the
    table falls back to log default(a) - log P(b), capped at 0 by the engine.
    """
    import json

    trans = json.loads(transition_path.read_text(encoding="utf-8"))
    start = json.loads(start_path.read_text(encoding="utf-8"))["data"]
    table = trans["data"]
    chars = sorted(set(table) | set(start) | {b for row in table.values() for b in row if b != "default"})
    chars = [c for c in chars if len(c) == 1 and ord(c) < 0x10000]
    slot = {c: i for i, c in enumerate(chars)}
    a_idx, b_idx, probs = [], [], []
    for a in sorted(table):
        for b, p in sorted(table[a].items()):
            if b != "default" and a in slot and b in slot and p > 0:
                a_idx.append(slot[a])
                b_idx.append(slot[b])
                probs.append(p)
    a_arr, b_arr, p_arr = np.array(a_idx), np.array(b_idx), np.array(probs)
    n = len(chars)
    start_p = np.array([start.get(c, 0.0) for c in chars])
    start_p /= start_p.sum()
    leak = np.clip(1.0 - np.bincount(a_arr, weights=p_arr, minlength=n), 0.0, 1.0)
    pi = start_p.copy()
    for _ in range(STATIONARY_ITERATIONS):
        new = np.bincount(b_arr, weights=pi[a_arr] * p_arr, minlength=n) + (pi * leak).sum() * start_p
        new /= new.sum()
        done = np.abs(new - pi).sum() < 1e-10
        pi = new
        if done:
            break
    log_pi = np.log(np.maximum(pi, 1e-12))
    pmi = np.log(p_arr) - log_pi[b_arr]
    default = float(trans["default"])
    backoff = np.log(np.array([float(table.get(c, {}).get("default", default)) for c in chars]))
    start_pmi = np.log(np.maximum(start_p, 1e-12)) - log_pi
    # A row's missing mass is how often the character ends a clause: PMI with "end".
    end_pmi = np.log(np.maximum(leak, 1e-6)) - np.log((pi * leak).sum())
    # The engine counts only positive PMI at a junction (the table is sparse: a missing or
    # rare pair is weak evidence against it), so only those pairs are kept.
    keep = pmi > PMI_SCALE / 2
    pair = a_arr[keep].astype(np.uint32) * np.uint32(n) + b_arr[keep].astype(np.uint32)
    pmi = pmi[keep]
    order = np.argsort(pair, kind="stable")
    quant = lambda x: np.clip(np.round(x / PMI_SCALE), -127, 127).astype(np.int8)  # noqa: E731
    return {
        "lm_char": np.array([ord(c) for c in chars], dtype=np.uint16),
        "lm_logp": log_pi.astype(np.float32),
        "lm_backoff": backoff.astype(np.float32),
        "lm_start": quant(start_pmi),
        "lm_end": quant(end_pmi),
        "bigram_pair": pair[order],
        "bigram_pmi": quant(pmi[order]),
    }


def find_kenlm(path: Path | None) -> Path:
    import glob

    found = [Path(path)] if path else [Path(p) for p in sorted(glob.glob(KENLM_GLOB))]
    if not found or not found[0].is_file():
        sys.exit(f"build_ime_dict: {path or KENLM_GLOB} not found: apt-get install libime-data-language-model "
                 "(or pass --kenlm PATH)")
    digest = sha256(found[0])
    if digest != KENLM_SHA256:
        sys.exit(f"build_ime_dict: {found[0]}: sha256 {digest}, expected {KENLM_SHA256} (libime-data-language-model 1.0.16-1)")
    return found[0]


def build_sentence_lm(kenlm_path: Path, entries: list[Entry]) -> tuple[dict, dict[str, np.ndarray]]:
    """The word bigram model of sentences: libime's language model restricted to our words.

    libime's model is a KenLM back-off model (log10) over its own word list, with no sentence
    start or end tokens. Kept: the unigram log P of every word we also have, every bigram
    between two of our words (pruning them by probability or by gain over the back-off cost
    accuracy on the dev sets: the model is already pruned), the back-off weight of every
    context. Words by text_hash (32 bits; a colliding hash keeps the larger value); stored as
    -ln P in WB_SCALE nats. The trigrams are not used (the search's state is one word).
    """
    from kenlm_reader import read_kenlm

    model = read_kenlm(str(kenlm_path))
    ln10 = math.log(10.0)
    ours = np.unique(np.array([text_hash(w) for w, _, _ in entries], dtype=np.uint64))
    hashes = np.array([text_hash(w) for w in model.vocab], dtype=np.uint64)
    known = np.isin(hashes, ours)
    known[0] = False  # <unk>
    unigram = model.orders[0]
    bigram = model.orders[1]
    v, w = bigram.words[:, 0], bigram.words[:, 1]
    keep = known[v] & known[w]
    quant = lambda x: np.clip(np.round(-np.asarray(x, dtype=np.float64) * ln10 / WB_SCALE), 0, 255).astype(np.uint8)  # noqa: E731

    def by_hash(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted unique keys, each with the largest value (hash collisions)."""
        order = np.lexsort((-values, keys))
        keys, values = keys[order], values[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        return keys[first], values[first]

    pair_keys, pair_logp = by_hash((hashes[v[keep]] << np.uint64(32)) | hashes[w[keep]], bigram.prob[keep])
    ctx_ids = np.unique(v[keep])
    ctx_keys, ctx_backoff = by_hash(hashes[ctx_ids], unigram.backoff[ctx_ids])
    uni_keys, uni_logp = by_hash(hashes[known], unigram.prob[known])
    arrays = {
        "wb_key": pair_keys.astype(np.uint64),
        "wb_logp": quant(pair_logp),
        "wb_ctx": ctx_keys.astype(np.uint32),
        "wb_backoff": quant(np.minimum(ctx_backoff, 0.0)),  # a positive back-off (rare) counts as none
        "uni_hash": uni_keys.astype(np.uint32),
        "uni_logp": quant(uni_logp),
    }
    meta = {
        "format": 1,
        "wb_scale": WB_SCALE,
        "unigrams": int(len(uni_keys)),
        "bigrams": int(len(pair_keys)),
        "contexts": int(len(ctx_keys)),
        "source": "libime-data-language-model 1.0.16-1 (Debian) zh_CN.lm, LGPL-2.1-or-later",
        "sources_sha256": {"libime 1.0.16 zh_CN.lm": KENLM_SHA256},  # find_kenlm checked it
    }
    return meta, arrays


def build_abbreviations(entries, logps) -> dict[str, np.ndarray]:
    by_key: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
    for idx, (word, reading, freq) in enumerate(entries):
        if len(reading) in ABBREV_SYLLABLES and freq >= ABBREV_MIN_FREQ:
            by_key[letters_to_digits("".join(s[0] for s in reading))].append((logps[idx], idx))
    keys, offsets, ids = [], [0], []
    for key in sorted(by_key, key=pad_key):
        chosen = [i for _, i in sorted(by_key[key], reverse=True)[:ABBREV_MAX_PER_KEY]]
        if chosen:
            keys.append(pad_key(key))
            ids.extend(chosen)
            offsets.append(len(ids))
    return {
        "abbr_key": np.array(keys, dtype=np.uint64),
        "abbr_off": np.array(offsets, dtype=np.uint32),
        "abbr_ids": np.array(ids, dtype=np.uint32),
    }


def build_associations(entries, logps, min_freq) -> dict[str, np.ndarray]:
    known_words = {w for w, _, _ in entries}
    best: dict[str, dict[str, tuple[float, int]]] = collections.defaultdict(dict)
    for idx, (word, _, freq) in enumerate(entries):
        if len(word) < 2 or freq < max(min_freq, ASSOC_MIN_FREQ):
            continue
        for cut in range(1, min(ASSOC_MAX_PREFIX, len(word) - 1) + 1):
            prefix = word[:cut]
            if cut > 1 and prefix not in known_words:
                continue
            suffix = word[cut:]
            # The same continuation can come from several readings: keep the best one.
            if suffix not in best[prefix] or best[prefix][suffix][0] < logps[idx]:
                best[prefix][suffix] = (logps[idx], idx)
    table = sorted((pack_text_key(p), p) for p in best)
    keys, offsets, ids = [], [0], []
    for key, prefix in table:
        top = sorted(best[prefix].values(), reverse=True)[:ASSOC_PER_PREFIX]
        keys.append(key)
        ids.extend(i for _, i in top)
        offsets.append(len(ids))
    return {
        "assoc_key": np.array(keys, dtype=np.uint64),
        "assoc_off": np.array(offsets, dtype=np.uint32),
        "assoc_ids": np.array(ids, dtype=np.uint32),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--min-freq", type=int, default=MIN_WORD_FREQ)
    ap.add_argument("--kenlm", type=Path, help=f"libime's zh_CN.lm (default: {KENLM_GLOB})")
    args = ap.parse_args(argv)
    kenlm_path = find_kenlm(args.kenlm)
    meta, arrays, entries = build(args.min_freq)
    lm_meta, lm_arrays = build_sentence_lm(kenlm_path, entries)
    data = dictfile.encode(meta, arrays)
    lm_data = dictfile.encode(lm_meta, lm_arrays)
    from parrot.storage import atomic_write

    atomic_write(args.out, data)
    lm_out = args.out.with_name(SENTENCE_LM_OUT)
    atomic_write(lm_out, lm_data)
    print(f"wrote {args.out} ({len(data):,} bytes): {meta['entries']:,} entries "
          f"({meta['words']:,} words, {meta['single_char_readings']:,} character readings), "
          f"{len(meta['syllables'])} syllables, {len(arrays['abbr_key']):,} abbreviation keys, "
          f"{len(arrays['assoc_key']):,} association prefixes, {meta['bigrams']:,} character bigrams, "
          f"{meta['blocked_entries']:,} blocked entries")
    print(f"wrote {lm_out} ({len(lm_data):,} bytes): {lm_meta['unigrams']:,} words, {lm_meta['bigrams']:,} word bigrams "
          f"({lm_meta['contexts']:,} contexts)")
    for name, digest in {**meta["sources_sha256"], **lm_meta["sources_sha256"]}.items():
        print(f"  sha256 {digest}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
