"""Sentence conversion: a beam search over the (syllable split x word) lattice of a digit string.

Every span of the digits that is exactly the key of dictionary words (or of words the user
taught) is an edge; a path through all the digits is a sentence. A path scores

    sum over its words of (log P(word | previous word) - WORD_PENALTY + learned bonus)
    + LM_WEIGHT * sum over adjacent words of PMI(last character, first character)
    + START_WEIGHT * start PMI of the first character
    + END_WEIGHT * end PMI of the last character (for sentences that cover every digit)
    + FOLLOW_BONUS for each adjacent pair the user picked in that order before,

so every syllable split of the digits competes (T9 ambiguity: 94264 is xiang, or xi'ang,
...), each word by its probability after the previous word (word bigrams with back-off to
the unigram, lm.WordBigrams) and by how well its characters join (lm.CharBigrams). The
last word is the state: the search keeps, at every digit offset, the best hypothesis per
last word (at most BEAM of them). The beam at offset j depends only on
the first j digits, so it is cached under them: typing one more key computes one new beam
(the spans ending there), deleting one reuses the cache.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from parrot.ime.dictionary import KEY_WIDTH, Dictionary, LearnedWord, UserDictionary, text_hash
from parrot.ime.lm import START

BEAM = 8  # hypotheses kept per digit offset (best per last word); 16 scored no better on the dev set
ENTRIES_PER_SPAN = 8  # most probable words looked at per exactly-matching key (16: no better on dev, 4x the work)
LM_WEIGHT = 0.3  # character-bigram PMI where two words meet (smooths unseen word pairs)
START_WEIGHT = 0.3
WORD_PENALTY = 0.5  # per word: long dictionary words over chains of single characters
LEARNED_WORD_LOGP = math.log(1e-6)  # a word only the user knows
LEARNED_BONUS = 2.5  # times log2(1 + times picked), as for single candidates
FOLLOW_BONUS = 4.0  # the user picked these two words one after the other before
PMI_FLOOR = 0.0  # the character table is sparse: only positive evidence counts (measured)
PMI_CAP = 3.0  # pairs of rare characters (哦哦) would otherwise outweigh everything
END_WEIGHT = 0.5  # how well the last character ends a clause (吗 吧 呢)
CACHE_BEAMS = 4096  # cached beams (one per distinct digit prefix)


@dataclass(slots=True)
class Hypothesis:
    score: float
    slot: int  # last character in the language model (-1 unknown, START before the first)
    word: int | LearnedWord  # the last word: a dictionary entry (decoded only when shown) or a learned word
    prev: Hypothesis | None
    words: int
    hash: int = 0  # text_hash of the last word (0: the start, as in the word bigram model)

    def last(self, dictionary: Dictionary) -> tuple[str, tuple[str, ...]]:
        """Text and reading of the last word."""
        if isinstance(self.word, LearnedWord):
            return self.word.word, self.word.reading
        return dictionary.word(self.word), dictionary.reading(self.word)

    def sentence(self, dictionary: Dictionary) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """(text, reading, words) of the whole path."""
        parts, node = [], self
        while node is not None and node.words:
            parts.append(node.last(dictionary))
            node = node.prev
        parts.reverse()
        return "".join(t for t, _ in parts), tuple(s for _, r in parts for s in r), tuple(t for t, _ in parts)


@dataclass(slots=True)
class Beam:
    """The hypotheses ending at one digit offset, with their fields as arrays for scoring
    (padded to BEAM, so the beams before a new key stack into one array)."""
    hyps: list[Hypothesis]
    scores: np.ndarray
    slots: np.ndarray
    hashes: np.ndarray

    @staticmethod
    def of(hyps: list[Hypothesis], width: int = BEAM) -> Beam:
        pad = [0] * (width - len(hyps))
        return Beam(hyps, np.array([h.score for h in hyps] + pad, dtype=np.float32),
                    np.array([h.slot for h in hyps] + pad), np.array([h.hash for h in hyps] + pad, dtype=np.uint64))


EMPTY = frozenset()


class SentenceSearch:
    def __init__(self, dictionary: Dictionary, user: UserDictionary, width: int = BEAM, per_state: int = 1,
                 entries: int = ENTRIES_PER_SPAN):
        """width: hypotheses kept per offset; per_state: of them, how many may end in the same
        word (1: the bigram model's best only; more: an N-best list for a re-ranker, rerank.py);
        entries: most probable words looked at per exactly-matching key."""
        self.dict = dictionary
        self.user = user
        self.width, self.per_state, self.entries = width, per_state, entries
        self.cache_beams = CACHE_BEAMS * BEAM // width  # about the same memory whatever the width
        self._beams: OrderedDict[tuple[str, frozenset[int]], Beam] = OrderedDict()
        self._root = Beam.of([Hypothesis(0.0, START, -1, None, 0)], width)
        self._user_uses = user.uses
        self._firsts = {prev for prev, _ in user.follows}  # first words of the user's learned pairs

    def beam(self, plain: str, bounds: frozenset[int], end: int) -> list[Hypothesis]:
        """Best hypotheses covering exactly plain[:end], best first."""
        return self._beam(plain, bounds, end).hyps

    def complete(self, plain: str, bounds: frozenset[int]) -> list[tuple[float, Hypothesis]]:
        """Hypotheses covering all the digits with how well their last character ends a
        clause added, best first."""
        lm = self.dict.lm
        ranked = [(h.score + END_WEIGHT * lm.end_pmi(h.slot), h) for h in self.beam(plain, bounds, len(plain))]
        return sorted(ranked, key=lambda sh: -sh[0])

    def _beam(self, plain: str, bounds: frozenset[int], end: int) -> Beam:
        if self.user.uses != self._user_uses:  # learned words and pairs score anew
            self._beams.clear()
            self._user_uses = self.user.uses
            self._firsts = {prev for prev, _ in self.user.follows}
        if end == 0:
            return self._root
        found = self._beams.get(_key(plain, bounds, end))
        if found is not None:
            return found
        # Fill the cache from the first offset missing (no recursion). Every earlier beam is a
        # span's start: one evicted and not recomputed would silently drop its spans, so the
        # scan starts at 1 and the beams found are kept as recently used.
        first = 1
        while first < end and (key := _key(plain, bounds, first)) in self._beams:
            self._beams.move_to_end(key)
            first += 1
        for j in range(first, end + 1):
            beam = self._expand(plain, bounds, j)
            self._beams[_key(plain, bounds, j)] = beam
            if len(self._beams) > self.cache_beams:
                self._beams.popitem(last=False)
        return beam

    def _expand(self, plain: str, bounds: frozenset[int], j: int) -> Beam:
        d, lm = self.dict, self.dict.lm
        spans = []
        for i in range(max(0, j - KEY_WIDTH), j):
            if bounds and any(i < b < j for b in bounds):
                continue
            prev = self._root if i == 0 else self._beams.get(_key(plain, bounds, i))
            if prev is not None and prev.hyps:
                spans.append((i, prev))
        if not spans:
            return Beam.of([], self.width)
        los, his = d.exact_ranges([plain[i:j] for i, _ in spans])
        # Per span: its entries (learned words the dictionary lacks get negative ids) x the
        # hypotheses ending where it starts.
        learned_words: list = []
        parts = []
        for (i, prev), lo, hi in zip(spans, los.tolist(), his.tolist()):
            learned = self.user.exact(plain[i:j]) if self.user.words else []
            if hi <= lo and not learned:
                continue
            ids = np.arange(lo, min(hi, lo + self.entries))
            ids = ids[~d.blocked[ids]]
            bonus = np.zeros(len(ids), dtype=np.float32)
            if learned:
                by_text = {w.word: w for w in learned}
                for k, e in enumerate(ids.tolist()):
                    w = by_text.pop(d.word(e), None)
                    if w is not None:
                        bonus[k] = LEARNED_BONUS * math.log2(1 + w.count)
                extra = list(by_text.values())  # learned words the dictionary lacks (or blocks)
                ids = np.concatenate([ids, -1 - np.arange(len(learned_words), len(learned_words) + len(extra))])
                bonus = np.concatenate([bonus, [LEARNED_BONUS * math.log2(1 + w.count) for w in extra]]).astype(np.float32)
                learned_words.extend(extra)
            if len(ids):
                parts.append((prev, ids, bonus))
        if not parts:
            return Beam.of([], self.width)
        # All spans at once: the hypotheses before each span x the span's entries.
        all_ids = np.concatenate([ids for _, ids, _ in parts])
        bonus = np.concatenate([b for _, _, b in parts])
        unigram, hashes, first, last = self._edge_fields(all_ids, learned_words)
        pp_parts, pe_parts, offset = [], [], 0
        for n, (prev, ids, _) in enumerate(parts):
            h, e = len(prev.hyps), len(ids)
            pp_parts.append(np.repeat(np.arange(h) + n * self.width, e))  # part n's hypothesis, as one number
            pe_parts.append(np.tile(np.arange(e) + offset, h))
            offset += e
        pp, pe = np.concatenate(pp_parts), np.concatenate(pe_parts)
        scores = np.concatenate([p.scores for p, _, _ in parts])
        slots = np.concatenate([p.slots for p, _, _ in parts])
        prev_hashes = np.concatenate([p.hashes for p, _, _ in parts])
        pmi = np.clip(lm.pmi(slots[pp], first[pe]), PMI_FLOOR, PMI_CAP)
        weight = np.where(slots[pp] == START, START_WEIGHT, LM_WEIGHT).astype(np.float32)
        word_logp = d.words_lm.logp(prev_hashes[pp], hashes[pe], unigram[pe])
        total = scores[pp] + word_logp + weight * pmi + bonus[pe] - WORD_PENALTY
        part_hyps = [p.hyps for p, _, _ in parts]
        if self.user.follows:
            total = total + self._follow_bonus(part_hyps, all_ids, learned_words, pp, pe)
        return self._select(total, part_hyps, pp, all_ids[pe], hashes[pe], last[pe], learned_words)

    def _edge_fields(self, ids: np.ndarray, learned_words: list):
        """(unigram log P, text hash, first slot, last slot) of each edge."""
        d = self.dict
        entry = np.maximum(ids, 0)
        unigram, hashes = d.sentence_logp[entry].copy(), d.hashes[entry].astype(np.uint64)
        first, last = d.first_slot[entry].copy(), d.last_slot[entry].copy()
        for k in np.nonzero(ids < 0)[0].tolist():
            w = learned_words[-1 - int(ids[k])]
            unigram[k] = LEARNED_WORD_LOGP
            hashes[k] = text_hash(w.word)
            first[k], last[k] = d.lm.slot_of[ord(w.word[0])], d.lm.slot_of[ord(w.word[-1])]
        return unigram, hashes, first, last

    def _text(self, entry: int, learned_words: list) -> tuple[str, tuple[str, ...]]:
        if entry < 0:
            w = learned_words[-1 - entry]
            return w.word, w.reading
        return self.dict.word(entry), self.dict.reading(entry)

    def _follow_bonus(self, part_hyps, ids, learned_words, pp, pe) -> np.ndarray:
        """FOLLOW_BONUS for each (hypothesis, entry) pair the user picked in that order. Only
        the hypotheses whose last word starts a learned pair are looked at, each decoded once
        (decoding every pair's words was most of a long sentence's key press)."""
        out = np.zeros(len(pp), dtype=np.float32)
        starts = {}
        for h in np.unique(pp).tolist():
            text = part_hyps[h // self.width][h % self.width].last(self.dict)[0]
            if text in self._firsts:
                starts[h] = text
        if not starts:
            return out
        follows, texts = self.user.follows, {}
        for k in np.nonzero(np.isin(pp, list(starts)))[0].tolist():
            e = int(pe[k])
            if e not in texts:
                texts[e] = self._text(int(ids[e]), learned_words)[0]
            if (starts[int(pp[k])], texts[e]) in follows:
                out[k] = FOLLOW_BONUS
        return out

    def _select(self, total, part_hyps, prevs, entries, hashes, lasts, learned_words) -> Beam:
        """The best hypotheses per last word (the model's state), at most width, best first."""
        order = np.argsort(-total, kind="stable")
        seen: dict[int, int] = {}
        beam: list[Hypothesis] = []
        hash_list = hashes.tolist()
        for k in order.tolist():
            state = hash_list[k]
            if seen.get(state, 0) >= self.per_state:
                continue
            seen[state] = seen.get(state, 0) + 1
            entry = int(entries[k])
            part, h = divmod(int(prevs[k]), self.width)
            prev = part_hyps[part][h]
            word = learned_words[-1 - entry] if entry < 0 else entry
            beam.append(Hypothesis(float(total[k]), int(lasts[k]), word, prev, prev.words + 1, state))
            if len(beam) >= self.width:
                break
        return Beam.of(beam, self.width)


def _key(plain: str, bounds: frozenset[int], end: int) -> tuple[str, frozenset[int]]:
    """A beam's cache key: the digits it covers and the separators among them."""
    return plain[:end], (frozenset(b for b in bounds if b < end) if bounds else EMPTY)
