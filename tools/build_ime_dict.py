#!/usr/bin/env python3
"""Build parrot's T9 pinyin dictionary (parrot/ime/data/pinyin.dict) from registry data.

Sources (build time only; the product never imports them):
  * jieba 0.42.1 dict.txt          the word list and its frequencies (`word freq pos` lines)
  * wordfreq 3.1.1 large_zh        modern word frequencies (subtitles, web, Wikipedia, books;
                                   data CC-BY-SA 4.0): blended with jieba's, which alone
                                   ranks 衙门 above 咱们
  * pypinyin 0.55.0 pinyin_dict     every reading of every character
  * pypinyin 0.55.0 phrases_dict    readings of multi-character phrases (polyphones in context)

Output: a memory-mappable file (see parrot/ime/dictfile.py) holding
  * entries sorted by padded digit key: word characters, their syllables, log frequency;
  * an abbreviation table: initials digits ("94" for 中国 zhong guo) -> a few frequent words;
  * an association table: text prefix (1-3 characters) -> frequent continuations.
The sha256 of each source file is stored in the header and printed.

Usage: python tools/build_ime_dict.py [--out PATH] [--min-freq N]
(needs pypinyin==0.55.0 jieba==0.42.1 wordfreq==3.1.1; the output is byte-for-byte
reproducible from the same sources)
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
    import pypinyin
    import wordfreq

    pp_dir = Path(pypinyin.__file__).parent
    return {
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


def build(min_freq: int) -> tuple[dict, dict[str, np.ndarray]]:
    files = source_files()
    by_name = {name.split()[-1]: path for name, path in files.items()}
    freqs = load_jieba(by_name["dict.txt"])
    words, usage = collect_words(freqs, min_freq)
    singles = collect_characters(freqs, words, usage)
    entries = singles + words
    syllables = sorted({s for _, reading, _ in entries for s in reading})
    scores = score_entries(entries, freqs, load_wordfreq(by_name["large_zh.msgpack.gz"]))
    arrays, entries = entry_arrays(entries, scores, syllables)
    # "Is this a word?" for context ranking (一 + 件 = 一件): sorted hashes of the texts.
    arrays["word_hash"] = np.unique(np.array([text_hash(w) for w, _, _ in words], dtype=np.uint32))
    logps = arrays["entry_logp"].tolist()
    arrays.update(build_abbreviations(entries, logps))
    arrays.update(build_associations(entries, logps, min_freq))
    meta = {
        "format": 1,
        "syllables": syllables,
        "entries": len(entries),
        "words": len(words),
        "single_char_readings": len(singles),
        "total_freq": sum(f for _, _, f in entries),
        "min_word_freq": min_freq,
        "sources_sha256": {name: sha256(path) for name, path in files.items()},
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
    args = ap.parse_args(argv)
    meta, arrays = build(args.min_freq)
    data = dictfile.encode(meta, arrays)
    from parrot.storage import atomic_write

    atomic_write(args.out, data)
    print(f"wrote {args.out} ({len(data):,} bytes): {meta['entries']:,} entries "
          f"({meta['words']:,} words, {meta['single_char_readings']:,} character readings), "
          f"{len(meta['syllables'])} syllables, {len(arrays['abbr_key']):,} abbreviation keys, "
          f"{len(arrays['assoc_key']):,} association prefixes")
    for name, digest in meta["sources_sha256"].items():
        print(f"  sha256 {digest}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
