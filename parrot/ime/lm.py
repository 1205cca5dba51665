"""The sentence language model: character bigrams, as PMI, looked up in batches.


Data (built by tools/build_ime_dict.py from Pinyin2Hanzi's HMM tables, counted from real
text): for about 5,400 characters ("slots") their stationary log probability, a back-off
log probability for pairs the table lacks, a sentence-start PMI; and 270k pairs
(slot_a * slots + slot_b, sorted) with PMI(a, b) = log P(b | a) - log P(b) in int8.

A sentence scores sum(log P(word)) + weight * sum(PMI(last char of a word, first char of
the next)): the word unigram already holds what happens inside a word, the PMI corrects
its independence assumption where two words meet, with back-off for unseen pairs.
"""

from __future__ import annotations

import numpy as np

START = -2  # the slot "before the first word"
UNKNOWN = -1  # a character the model does not know: PMI 0 (no opinion)
UNSEEN_FLOOR = -6.0  # a pair the table lacks costs at most this much (its back-off estimate)
CODE_POINTS = 0x10000
BACKOFF_SCALE = 0.5  # the pair corpus is small: an unseen pair is weaker evidence than Witten-Bell assumes (dev set)


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
        pos = np.minimum(np.searchsorted(self.pairs, key), len(self.pairs) - 1)
        found = known & (self.pairs[pos] == key)
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
    """Word bigrams with Witten-Bell interpolation (tools/build_ime_dict.py): words by text
    hash; a context is the previous word (START_HASH at the start of a clause)."""

    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        scale = float(meta["wb_scale"])
        self.contexts = np.array(arrays["wb_ctx"]).astype(np.int64)
        self.backoff = -np.array(arrays["wb_backoff"], dtype=np.float32) * scale
        # Pair keys (context index << 32 | word hash), sorted as the file stores the pairs.
        context_of_pair = np.repeat(np.arange(len(self.contexts), dtype=np.uint64),
                                    np.asarray(arrays["wb_ctx_pairs"]).astype(np.int64))
        self.pairs = (context_of_pair << np.uint64(32)) | np.asarray(arrays["wb_word"]).astype(np.uint64)
        self.logp_pair = -np.array(arrays["wb_logp"], dtype=np.float32) * scale

    def logp(self, prev: np.ndarray, word: np.ndarray, unigram: np.ndarray) -> np.ndarray:
        """log P(word | prev) for hash arrays; `unigram`: log P(word) for the back-off."""
        prev = np.asarray(prev, dtype=np.int64)
        cpos = np.minimum(np.searchsorted(self.contexts, prev), len(self.contexts) - 1)
        known = self.contexts[cpos] == prev
        key = (cpos.astype(np.uint64) << np.uint64(32)) | np.asarray(word, dtype=np.uint64)
        pos = np.minimum(np.searchsorted(self.pairs, key), len(self.pairs) - 1)
        seen = known & (self.pairs[pos] == key)
        backed_off = unigram + np.where(known, BACKOFF_SCALE * self.backoff[cpos], 0.0)
        return np.where(seen, self.logp_pair[pos], backed_off).astype(np.float32)
