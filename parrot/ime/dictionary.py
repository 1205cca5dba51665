"""The shipped pinyin dictionary (read-only, memory-mapped) and the user's learned dictionary.

Keys: a word's toneless pinyin typed on the keypad, e.g. 你好 nihao -> "64426". The digit
string is right-padded with zeros to KEY_WIDTH digits and stored as a uint64; keypad digits
are 2-9, so padded order equals string order and "every key starting with 64" is the
contiguous range [6400...0, 6500...0). One `searchsorted` finds any prefix.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from parrot.ime import dictfile
from parrot.ime.lm import CharBigrams, WordBigrams, find_sorted
from parrot.ime.t9 import letters_to_digits
from parrot.storage import atomic_write, claim_data_dir

log = logging.getLogger(__name__)

KEY_WIDTH = 19  # digits that fit a uint64 (10**19 < 2**64)
TEXT_KEY_CHARS = 3  # association prefixes: up to 3 UTF-16 units packed in a uint64
TEXT_KEY_BITS = 16
DEFAULT_PATH_NAME = "pinyin.dict"
SENTENCE_LM_NAME = "sentence.lm"  # the word bigram model, beside the dictionary (its own licence)
ENTRY_CACHE = 8192  # decoded words and readings kept (~2 MB)


def pad_key(digits: str) -> int:
    """'64' -> 6400000000000000000 (the uint64 that sorts like the string)."""
    if len(digits) > KEY_WIDTH:
        raise ValueError(f"digit key longer than {KEY_WIDTH}: {digits}")
    return int(digits.ljust(KEY_WIDTH, "0")) if digits else 0


def prefix_span(digits: str) -> tuple[int, int]:
    """The padded-key interval [lo, hi) holding every key that starts with digits."""
    lo = pad_key(digits)
    return lo, lo + 10 ** (KEY_WIDTH - len(digits))


FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
UINT64_MASK = (1 << 64) - 1
HASH_BITS = 32  # 125k words: a false "is a word" once in ~30,000 probes, harmless for ranking


def text_hash(text: str) -> int:
    """FNV-1a (64-bit, folded to 32) of the code points: the key for "is this text a word?"."""
    h = FNV_OFFSET
    for ch in text:
        h = ((h ^ ord(ch)) * FNV_PRIME) & UINT64_MASK
    return (h ^ (h >> HASH_BITS)) & ((1 << HASH_BITS) - 1)


def pack_text_key(text: str) -> int:
    """Up to 3 BMP characters -> uint64 (first character in the high bits)."""
    if not 0 < len(text) <= TEXT_KEY_CHARS:
        raise ValueError(f"association prefix must have 1-{TEXT_KEY_CHARS} characters: {text!r}")
    key = 0
    for i in range(TEXT_KEY_CHARS):
        key = (key << TEXT_KEY_BITS) | (ord(text[i]) if i < len(text) else 0)
    return key


class Dictionary:
    """Read-only view of the built dictionary. Entry i: a word with one reading."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray], sentence_lm: tuple[dict, dict[str, np.ndarray]],
                 path: Path | None = None):
        """sentence_lm: (meta, arrays) of the word bigram model (sentence.lm)."""
        self.meta = meta
        self.path = path
        self.syllables: list[str] = meta["syllables"]
        self.syllable_digits = [letters_to_digits(s) for s in self.syllables]
        # The arrays every key press scans are copied into memory (2 MB): a first touch
        # of a memory-mapped page costs a page fault, which would show as a slow key.
        self.keys = np.array(arrays["entry_key"])
        self.logp = np.array(arrays["entry_logp"])
        self.nchars = np.array(arrays["entry_nchars"])
        self.ndigits = np.array(arrays["entry_digits"])
        self.last_start = np.array(arrays["entry_last"])
        self.chars = arrays["chars"]
        self.sylls = arrays["sylls"]
        self.abbr_key, self.abbr_off, self.abbr_ids = arrays["abbr_key"], arrays["abbr_off"], arrays["abbr_ids"]
        self.assoc_key, self.assoc_off, self.assoc_ids = arrays["assoc_key"], arrays["assoc_off"], arrays["assoc_ids"]
        self.word_hashes = np.array(arrays["word_hash"])  # sorted text_hash of every multi-character word
        # Where each entry's characters start (one syllable per character, so shared).
        self.offsets = np.zeros(len(self.keys) + 1, dtype=np.uint32)
        np.cumsum(self.nchars, out=self.offsets[1:])
        # Vulgar or offensive entries (tools/ime_blocklist.txt): offered only once learned.
        self.blocked = np.array(arrays["entry_blocked"], dtype=bool)
        self.blocklist: list[str] = list(meta.get("blocklist", []))
        self._blocked_re = re.compile("|".join(map(re.escape, self.blocklist))) if self.blocklist else None
        # The sentence language model, and each entry's first and last character in it.
        self.lm = CharBigrams(meta, arrays)
        codes = np.asarray(self.chars).astype(np.int64)
        self.first_slot = self.lm.slots_of(codes[self.offsets[:-1].astype(np.int64)])
        self.last_slot = self.lm.slots_of(codes[self.offsets[1:].astype(np.int64) - 1])
        self.hashes = np.array(arrays["entry_hash"])
        self.words_lm = WordBigrams(*sentence_lm)
        self.sentence_logp = self.words_lm.entry_unigram(self.hashes, self.logp)  # each entry's, in sentences
        # Text and reading of an entry (decoded from the arrays; the sentence search decodes the
        # same few thousand entries at every key press): the last ENTRY_CACHE decoded are kept.
        self._words: dict[int, str] = {}
        self._readings: dict[int, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    # -- one entry ---------------------------------------------------------------------
    def word(self, i: int) -> str:
        found = self._words.get(i)
        if found is None:
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            found = _keep(self._words, i, self.chars[lo:hi].tobytes().decode("utf-16-le"))
        return found

    def reading(self, i: int) -> tuple[str, ...]:
        found = self._readings.get(i)
        if found is None:
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            found = _keep(self._readings, i, tuple(self.syllables[s] for s in self.sylls[lo:hi].tolist()))
        return found

    def is_blocked_text(self, text: str) -> bool:
        """A sentence that spells a blocked word, across word boundaries too (傻 + 逼)."""
        return self._blocked_re is not None and self._blocked_re.search(text) is not None

    # -- key lookups ---------------------------------------------------------------------
    def prefix_range(self, digits: str) -> tuple[int, int]:
        """Entries whose digit key starts with digits: index range [lo, hi)."""
        lo, hi = prefix_span(digits)
        bounds = self.keys.searchsorted(np.array([lo, hi], dtype=np.uint64))
        return int(bounds[0]), int(bounds[1])

    def exact_ranges(self, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """For each digit string, the index range of entries whose key is exactly it."""
        padded = np.array([pad_key(k) for k in keys], dtype=np.uint64)
        return self.keys.searchsorted(padded, "left"), self.keys.searchsorted(padded, "right")

    @cached_property
    def abbreviation_index(self) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
        """initials keys -> [(entry, keys of each syllable)], most frequent first.

        A plain dict (a few thousand keys, ~20k entries): abbreviation matching probes it
        dozens of times per key press, too often for a numpy search each time.
        """
        index = {}
        offsets = self.abbr_off.tolist()
        ids = self.abbr_ids.tolist()
        for k, key in enumerate(self.abbr_key.tolist()):
            group = ids[offsets[k] : offsets[k + 1]]
            index[str(key).rstrip("0")] = [(i, self.syllable_keys(i)) for i in group]
        return index

    def abbreviations(self, initials: str) -> list[tuple[int, tuple[str, ...]]]:
        """Frequent multi-syllable words whose syllables start with these keys."""
        return self.abbreviation_index.get(initials, [])

    def syllable_keys(self, i: int) -> tuple[str, ...]:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return tuple(self.syllable_digits[s] for s in self.sylls[lo:hi].tolist())

    def are_words(self, texts: list[str]) -> list[bool]:
        """Which texts (of two characters or more) are dictionary words."""
        if not texts:
            return []
        hashes = np.array([text_hash(t) for t in texts], dtype=np.uint32)
        return find_sorted(self.word_hashes, hashes)[1].tolist()

    def continuations(self, prefix: str) -> list[str]:
        """Association: the rest of frequent words that start with prefix (best first)."""
        key = np.uint64(pack_text_key(prefix))
        pos = int(self.assoc_key.searchsorted(key))
        if pos >= len(self.assoc_key) or self.assoc_key[pos] != key:
            return []
        ids = self.assoc_ids[self.assoc_off[pos] : self.assoc_off[pos + 1]].tolist()
        return [self.word(i)[len(prefix) :] for i in ids]

    @lru_cache(maxsize=4)
    def common_words(self, count: int) -> list[str]:
        """The most frequent entries' texts, most frequent first (no duplicates)."""
        top = np.argpartition(-self.logp, count * 2)[: count * 2]
        out: list[str] = []
        for i in top[np.argsort(-self.logp[top])].tolist():
            if self.blocked[i]:
                continue
            w = self.word(i)
            if w not in out:
                out.append(w)
        return out[:count]

    # -- text lookups (evaluation only: built on first use, not on the key path) --------
    @cached_property
    def text_index(self) -> dict[str, int]:
        """word -> its most frequent entry."""
        index: dict[str, int] = {}
        best = self.logp.tolist()
        for i in range(len(self.keys)):
            w = self.word(i)
            if w not in index or best[i] > best[index[w]]:
                index[w] = i
        return index


def _keep(cache: dict, key, value):
    """Put value in a bounded cache (the oldest goes when full); return value."""
    if len(cache) >= ENTRY_CACHE:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


def default_path() -> Path:
    return Path(str(resources.files("parrot.ime") / "data" / DEFAULT_PATH_NAME))


def load_dictionary(path: str | os.PathLike | None = None) -> Dictionary:
    """Memory-map the dictionary (default: the one shipped with the package) and the
    sentence model beside it (SENTENCE_LM_NAME in the same folder)."""
    path = Path(path) if path else default_path()
    meta, arrays = dictfile.read(path)
    lm_path = path.with_name(SENTENCE_LM_NAME)
    if not lm_path.exists():
        raise dictfile.DictFileError(f"{lm_path}: missing (the sentence model that goes with {path.name})")
    lm = dictfile.read(lm_path)
    try:
        return Dictionary(meta, arrays, lm, path)
    except KeyError as e:  # a file of this container format that lacks a section
        raise dictfile.DictFileError(f"{path} / {lm_path.name}: no {e.args[0]!r} section (a file of another version?)") from e


# ----------------------------------------------------------------------------------------
# The user's dictionary


@dataclass
class LearnedWord:
    word: str
    reading: tuple[str, ...]
    count: int
    last_used: int  # value of the dictionary's use counter (clock-free recency)
    digits: str = ""  # derived: the keys that type the reading
    last_start: int = 0  # derived: digit offset of the last syllable

    def __post_init__(self):
        self.digits = letters_to_digits("".join(self.reading))
        self.last_start = len(letters_to_digits("".join(self.reading[:-1])))


USER_DICT_VERSION = 1
DEFAULT_USER_CAPACITY = 4000  # words; ~200 KB of JSON, a few hundred KB in memory
DEFAULT_FOLLOW_CAPACITY = 4000  # learned "B follows A" pairs for association
EVICT_FRACTION = 0.1
PREFIX_SCAN_LIMIT = 64  # learned keys looked at per prefix query (bounds the key-press cost)  # drop the least valuable 10% at once so eviction is rare


class UserDictionary:
    """Words the user picked or composed, with use counts. Bounded; saved atomically.

    `learn()` and `learn_follow()` only change memory and set `pending_save`; the app
    calls `save()` off the key path. A file that is not a user dictionary at all is moved
    aside (`*.corrupt-<time>`) and the dictionary starts empty; a file with some damaged
    records keeps every good one: the original is copied aside first, then the file is
    rewritten without the bad records.
    """

    def __init__(self, path: str | os.PathLike | None = None, capacity: int = DEFAULT_USER_CAPACITY,
                 follow_capacity: int = DEFAULT_FOLLOW_CAPACITY):
        self.path = Path(path) if path else None
        self.capacity = capacity
        self.follow_capacity = follow_capacity
        self.words: dict[tuple[str, tuple[str, ...]], LearnedWord] = {}
        self.follows: dict[tuple[str, str], list[int]] = {}  # (prev, next) -> [count, last_used]
        self.uses = 0
        self.pending_save = False
        # Lookup index, rebuilt after the set of words changes: digit key -> words, and
        # the sorted distinct keys for prefix search.
        self._by_digits: dict[str, list[LearnedWord]] | None = None
        self._sorted_digits: list[str] = []
        if self.path is not None:
            # one writer per data folder: a second process would overwrite our words (and
            # the history beside them) with its own
            claim_data_dir(self.path.parent)
            self._load()

    # -- learning ------------------------------------------------------------------------
    def learn(self, word: str, reading: tuple[str, ...]) -> None:
        self.uses += 1
        key = (word, tuple(reading))
        entry = self.words.get(key)
        if entry is None:
            entry = LearnedWord(word, tuple(reading), 1, self.uses)
            self.words[key] = entry
            self._add_to_index(entry)
            if len(self.words) > self.capacity:
                self._evict_words()
        else:
            entry.count += 1
            entry.last_used = self.uses
        self._changed()

    def learn_follow(self, prev: str, nxt: str) -> None:
        self.uses += 1
        stat = self.follows.get((prev, nxt))
        if stat is None:
            self.follows[(prev, nxt)] = [1, self.uses]
            if len(self.follows) > self.follow_capacity:
                self._evict_follows()
        else:
            stat[0] += 1
            stat[1] = self.uses
        self._changed()

    def _changed(self) -> None:
        self.pending_save = True

    def _value(self, count: int, last_used: int) -> float:
        # Frequently and recently used entries are worth keeping.
        return count - (self.uses - last_used) / max(1, self.capacity)

    def _evict_words(self) -> None:
        keep = self.capacity - max(1, int(self.capacity * EVICT_FRACTION))
        ranked = sorted(self.words.items(), key=lambda kv: self._value(kv[1].count, kv[1].last_used), reverse=True)
        self.words = dict(ranked[:keep])
        self._by_digits = None

    def _evict_follows(self) -> None:
        keep = self.follow_capacity - max(1, int(self.follow_capacity * EVICT_FRACTION))
        ranked = sorted(self.follows.items(), key=lambda kv: self._value(*kv[1]), reverse=True)
        self.follows = dict(ranked[:keep])

    # -- queries -------------------------------------------------------------------------
    def count(self, word: str, reading: tuple[str, ...]) -> int:
        entry = self.words.get((word, tuple(reading)))
        return entry.count if entry else 0

    def _index(self) -> dict[str, list[LearnedWord]]:
        if self._by_digits is None:
            by_digits: dict[str, list[LearnedWord]] = {}
            for w in self.words.values():
                by_digits.setdefault(w.digits, []).append(w)
            self._by_digits = by_digits
            self._sorted_digits = sorted(by_digits)
        return self._by_digits

    def _add_to_index(self, entry: LearnedWord) -> None:
        if self._by_digits is None:
            return  # built on the next query
        group = self._by_digits.setdefault(entry.digits, [])
        if not group:
            bisect.insort(self._sorted_digits, entry.digits)
        group.append(entry)

    def prefix_matches(self, digits: str) -> list[LearnedWord]:
        """Learned words whose key starts with digits, last syllable possibly incomplete."""
        index = self._index()
        keys = self._sorted_digits
        out = []
        first = bisect.bisect_left(keys, digits)
        # Short inputs match many learned keys; the nearest ones (shortest completions) suffice.
        for pos in range(first, min(len(keys), first + PREFIX_SCAN_LIMIT)):
            if not keys[pos].startswith(digits):
                break
            out.extend(w for w in index[keys[pos]] if w.last_start < len(digits))
        return out

    def exact(self, digits: str) -> list[LearnedWord]:
        return list(self._index().get(digits, ()))

    def followers(self, prev: str) -> list[str]:
        """What the user typed after prev, most used first."""
        found = [(stat[0], stat[1], nxt) for (p, nxt), stat in self.follows.items() if p == prev]
        return [nxt for _, _, nxt in sorted(found, reverse=True)]

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({
            "version": USER_DICT_VERSION,
            "uses": self.uses,
            "words": [[w.word, list(w.reading), w.count, w.last_used] for w in self.words.values()],
            "follows": [[p, n, c, u] for (p, n), (c, u) in self.follows.items()],
        }, ensure_ascii=False, separators=(",", ":"))

    def save(self) -> None:
        """Write the file atomically (a kill leaves the old or the new file, never a mix)."""
        if self.path is None:
            self.pending_save = False
            return
        self.pending_save = False
        atomic_write(self.path, self.to_json())

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("version") != USER_DICT_VERSION:
                raise ValueError(f"unknown version {data.get('version') if isinstance(data, dict) else data!r}")
        except ValueError as e:  # not JSON, not UTF-8, not ours: nothing in it can be trusted
            os.replace(self.path, aside)
            log.warning("user dictionary %s is corrupt (%s); moved to %s, starting empty", self.path, e, aside)
            return
        bad = self._parse(data)
        if bad:
            # the original is kept whole beside it; the file is rewritten with the good records
            atomic_write(aside, raw)
            atomic_write(self.path, self.to_json())
            log.warning("user dictionary %s: %d damaged record(s) set aside (%s); kept %d words and %d pairs; "
                        "the original file is saved as %s", self.path, len(bad), "; ".join(bad[:3]),
                        len(self.words), len(self.follows), aside)

    def _parse(self, data: dict) -> list[str]:
        """Take every good record of `data`; returns what was wrong with the bad ones."""
        bad: list[str] = []
        words, follows = {}, {}
        for record in _records(data, "words", bad):
            try:
                word, reading, count, last_used = record
                if not (isinstance(word, str) and word and isinstance(reading, list) and len(reading) == len(word)):
                    raise ValueError(f"bad word record {word!r}")
                if not all(isinstance(s, str) and s.isascii() and s.isalpha() and s.islower() for s in reading):
                    raise ValueError(f"bad reading for {word!r}")
                words[(word, tuple(reading))] = LearnedWord(word, tuple(reading), _count(count), _count(last_used))
            except (ValueError, TypeError, KeyError) as e:
                bad.append(str(e))
        for record in _records(data, "follows", bad):
            try:
                prev, nxt, count, last_used = record
                if not (isinstance(prev, str) and isinstance(nxt, str)):
                    raise ValueError(f"bad follow record {prev!r} {nxt!r}")
                follows[(prev, nxt)] = [_count(count), _count(last_used)]
            except (ValueError, TypeError) as e:
                bad.append(str(e))
        latest = max([w.last_used for w in words.values()] + [u for _, u in follows.values()], default=0)
        try:
            uses = max(_count(data.get("uses", 0)), latest)
        except (ValueError, TypeError) as e:
            bad.append(f"bad use counter ({e})")
            uses = latest
        self.words, self.follows, self.uses = words, follows, uses
        self._by_digits = None
        return bad


def _records(data: dict, name: str, bad: list[str]) -> list:
    """The list `name` of a user dictionary file ([] and a note in `bad` when it is not one)."""
    records = data.get(name, [])
    if not isinstance(records, list):
        bad.append(f"{name} is not a list")
        return []
    return records


def _count(value) -> int:
    """A use count or counter value from the file: a non-negative whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 2**53 or value != int(value):
        raise ValueError(f"bad count {value!r}")
    return int(value)
