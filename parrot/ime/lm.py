"""The sentence language model, looked up in batches: word bigrams (WordBigrams, libime's
model in sentence.lm) and character bigrams as PMI (CharBigrams, in pinyin.dict).

Data (built by tools/build_ime_dict.py from Pinyin2Hanzi's HMM tables, counted from real
text): for about 5,400 characters ("slots") their stationary log probability, a back-off
log probability for pairs the table lacks, a sentence-start PMI; and 270k pairs
(slot_a * slots + slot_b, sorted) with PMI(a, b) = log P(b | a) - log P(b) in int8.

A sentence scores sum(log P(word | previous word)) + weight * sum(PMI(last char of a word,
first char of the next)): the words hold what happens inside them, the PMI adds how well
two words join where the word model only backs off.
"""

from __future__ import annotations

import numpy as np

START = -2  # the slot "before the first word"
UNKNOWN = -1  # a character the model does not know: PMI 0 (no opinion)
UNSEEN_FLOOR = -6.0  # a pair the table lacks costs at most this much (its back-off estimate)
CODE_POINTS = 0x10000
OOV_PENALTY = -3.0  # a dictionary word the sentence model lacks is rarer than its frequency says (dev: -1 to -5 alike)


def find_sorted(table: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position, found) of each query in a sorted table; a query not found gets some valid
    position (read its row only where found)."""
    pos = np.minimum(np.searchsorted(table, queries), len(table) - 1)
    return pos, table[pos] == queries


class CharBigrams:
    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        scale = float(meta["pmi_scale"])
        codes = np.asarray(arrays["lm_char"]).astype(np.int64)
        self.slots = len(codes)
        self.slot_of = np.full(CODE_POINTS, UNKNOWN, dtype=np.int32)
        self.slot_of[codes] = np.arange(self.slots, dtype=np.int32)
        self.logp = np.array(arrays["lm_logp"], dtype=np.float32)
        self.backoff = np.array(arrays["lm_backoff"], dtype=np.float32)
        self.start = np.array(arrays["lm_start"], dtype=np.float32) * scale
        self.end = np.array(arrays["lm_end"], dtype=np.float32) * scale
        self.pairs = np.array(arrays["bigram_pair"]).astype(np.int64)
        self.values = np.array(arrays["bigram_pmi"], dtype=np.float32) * scale

    def slots_of(self, codes: np.ndarray) -> np.ndarray:
        return self.slot_of[codes]

    def pmi(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """PMI of each (a[k], b[k]) slot pair; a = START for a sentence's first word."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        known = (a >= 0) & (b >= 0)
        key = np.where(known, a * self.slots + b, 0)
        pos, found = find_sorted(self.pairs, key)
        found &= known
        a0, b0 = np.maximum(a, 0), np.maximum(b, 0)
        unseen = np.clip(self.backoff[a0] - self.logp[b0], UNSEEN_FLOOR, 0.0)
        out = np.where(found, self.values[pos], np.where(known, unseen, 0.0))
        return np.where((a == START) & (b >= 0), self.start[b0], out).astype(np.float32)

    def end_pmi(self, slot: int) -> float:
        """PMI of a character with the end of a clause (0 for an unknown one)."""
        return float(self.end[slot]) if slot >= 0 else 0.0

    def pair(self, a_char: str, b_char: str) -> float:
        """PMI of two characters (START if a_char is empty); for tests and tools."""
        a = START if not a_char else int(self.slot_of[ord(a_char)])
        if a_char and a == UNKNOWN:
            return 0.0
        return float(self.pmi(np.array([a]), np.array([self.slot_of[ord(b_char)]]))[0])


class WordBigrams:
    """The word bigram model of sentences (sentence.lm, tools/build_ime_dict.py): libime's
    language model (a KenLM back-off model, LGPL-2.1+) over the dictionary's words, by text
    hash. log P(w | v) is the stored pair's where the model has one, else
    back-off(v) + log P(w); a sentence's first word (context hash 0) takes the unigram.

    Arrays (memory-mapped, searched in place: only the pages a lookup touches are read in):
    pair keys (v << 32 | w, sorted) with -log P in 0.1-nat steps (uint8); contexts (sorted)
    with their -log back-off; unigrams (sorted hashes) with -log P."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        self.scale = float(meta["wb_scale"])
        self.keys = arrays["wb_key"]
        self.pair_logp = arrays["wb_logp"]
        self.contexts = arrays["wb_ctx"]
        self.context_backoff = arrays["wb_backoff"]
        self.unigram_hashes = arrays["uni_hash"]
        self.unigram_logp = arrays["uni_logp"]

    def logp(self, prev: np.ndarray, word: np.ndarray, unigram: np.ndarray) -> np.ndarray:
        """log P(word | prev) for hash arrays; `unigram`: log P(word) (entry_unigram) for the back-off."""
        prev = np.asarray(prev, dtype=np.uint64)
        key = (prev << np.uint64(32)) | np.asarray(word, dtype=np.uint64)
        # Sorted queries walk the 1.8M keys in order (numpy reuses the last position): 3-4x
        # faster than random probes, which miss the cache at every step.
        order = np.argsort(key)
        pos, seen = np.empty(len(key), dtype=np.int64), np.empty(len(key), dtype=bool)
        pos[order], seen[order] = find_sorted(self.keys, key[order])
        # A beam has few distinct previous words: their back-offs once (as uint32, the table's
        # type: a uint64 query would convert the whole table every call).
        contexts, which = np.unique(prev.astype(np.uint32), return_inverse=True)
        cpos, known = find_sorted(self.contexts, contexts)
        weight = np.where(known, -self.scale * self.context_backoff[cpos].astype(np.float32), 0.0)
        backoff = weight[which.reshape(-1)]
        return np.where(seen, -self.scale * self.pair_logp[pos].astype(np.float32), unigram + backoff).astype(np.float32)

    def entry_unigram(self, hashes: np.ndarray, logp: np.ndarray) -> np.ndarray:
        """The sentence unigram of each dictionary entry: the model's log P(word) plus the
        entry's reading share (行 as xing or hang: the dictionary's log P minus that of the
        word's most probable reading); a word the model lacks: the dictionary's log P
        + OOV_PENALTY."""
        hashes = np.asarray(hashes)
        words, index = np.unique(hashes, return_inverse=True)
        best = np.full(len(words), -np.inf, dtype=np.float32)
        np.maximum.at(best, index, logp)
        pos, known = find_sorted(self.unigram_hashes, hashes)
        model = -self.scale * self.unigram_logp[pos].astype(np.float32) + (logp - best[index])
        return np.where(known, model, logp + OOV_PENALTY).astype(np.float32)
