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

from parrot.ime.dictionary import KEY_WIDTH, Dictionary, UserDictionary, text_hash
from parrot.ime.lm import START

BEAM = 16  # hypotheses kept per digit offset (best per last word)
ENTRIES_PER_SPAN = 16  # most probable words looked at per exactly-matching key
LM_WEIGHT = 0.3  # character-bigram PMI where two words meet (smooths unseen word pairs)
START_WEIGHT = 0.3
WORD_PENALTY = 1.0  # per word: long dictionary words over chains of single characters
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
    text: str  # the last word
    reading: tuple[str, ...]
    prev: Hypothesis | None
    words: int
    hash: int = 0  # text_hash of the last word (0: the start, as in the word bigram model)

    def sentence(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """(text, reading, words) of the whole path."""
        parts, node = [], self
        while node is not None and node.words:
            parts.append(node)
            node = node.prev
        parts.reverse()
        return ("".join(p.text for p in parts), tuple(s for p in parts for s in p.reading),
                tuple(p.text for p in parts))


class SentenceSearch:
    def __init__(self, dictionary: Dictionary, user: UserDictionary):
        self.dict = dictionary
        self.user = user
        self._beams: OrderedDict[tuple[str, frozenset[int]], list[Hypothesis]] = OrderedDict()
        self._root = [Hypothesis(0.0, START, "", (), None, 0)]
        self._user_uses = user.uses

    def beam(self, plain: str, bounds: frozenset[int], end: int) -> list[Hypothesis]:
        """Best hypotheses covering exactly plain[:end], best first."""
        if self.user.uses != self._user_uses:  # learned words and pairs score anew
            self._beams.clear()
            self._user_uses = self.user.uses
        if end == 0:
            return self._root
        for j in range(1, end + 1):  # fill the cache from the left (no recursion)
            self._beam_at(plain, bounds, j)
        return self._beam_at(plain, bounds, end)

    def complete(self, plain: str, bounds: frozenset[int]) -> list[tuple[float, Hypothesis]]:
        """Hypotheses covering all the digits with how well their last character ends a
        clause added, best first."""
        lm = self.dict.lm
        ranked = [(h.score + END_WEIGHT * lm.end_pmi(h.slot), h) for h in self.beam(plain, bounds, len(plain))]
        return sorted(ranked, key=lambda sh: -sh[0])

    def _beam_at(self, plain: str, bounds: frozenset[int], j: int) -> list[Hypothesis]:
        key = (plain[:j], frozenset(b for b in bounds if b < j))
        found = self._beams.get(key)
        if found is not None:
            self._beams.move_to_end(key)
            return found
        beam = self._expand(plain, bounds, j)
        self._beams[key] = beam
        if len(self._beams) > CACHE_BEAMS:
            self._beams.popitem(last=False)
        return beam

    def _expand(self, plain: str, bounds: frozenset[int], j: int) -> list[Hypothesis]:
        d, lm = self.dict, self.dict.lm
        starts = [i for i in range(max(0, j - KEY_WIDTH), j) if not any(i < b < j for b in bounds)]
        starts = [i for i in starts if i == 0 or self._beams.get((plain[:i], frozenset(b for b in bounds if b < i)))]
        if not starts:
            return []
        los, his = d.exact_ranges([plain[i:j] for i in starts])
        # Edges: (start, [(entry score, first slot, last slot, text, reading)]) per span.
        edge_unigram, edge_hash = [], []
        prev_hyps, edge_scores, edge_first, edge_last, edge_words, pair_prev, pair_edge = [], [], [], [], [], [], []
        for i, lo, hi in zip(starts, los.tolist(), his.tolist()):
            learned = self.user.exact(plain[i:j]) if self.user.words else []
            if hi <= lo and not learned:
                continue
            hyps = self._root if i == 0 else self._beams[(plain[:i], frozenset(b for b in bounds if b < i))]
            first_edge = len(edge_scores)
            ids = np.arange(lo, min(hi, lo + ENTRIES_PER_SPAN))
            ids = ids[~d.blocked[ids]]
            scores = np.zeros(len(ids), dtype=np.float32) - WORD_PENALTY
            texts = [d.word(e) for e in ids.tolist()] if learned else None
            bonus = {w.word: w for w in learned}
            for k, e in enumerate(ids.tolist()):
                s = float(scores[k])
                if texts is not None and texts[k] in bonus:
                    w = bonus.pop(texts[k])
                    s += LEARNED_BONUS * math.log2(1 + w.count)
                edge_scores.append(s)
                edge_unigram.append(float(d.logp[e]))
                edge_hash.append(int(d.hashes[e]))
                edge_first.append(int(d.first_slot[e]))
                edge_last.append(int(d.last_slot[e]))
                edge_words.append(e)
            for w in bonus.values():  # learned words the dictionary lacks (or blocks)
                edge_scores.append(-WORD_PENALTY + LEARNED_BONUS * math.log2(1 + w.count))
                edge_unigram.append(LEARNED_WORD_LOGP)
                edge_hash.append(text_hash(w.word))
                edge_first.append(int(lm.slot_of[ord(w.word[0])]))
                edge_last.append(int(lm.slot_of[ord(w.word[-1])]))
                edge_words.append((w.word, w.reading))
            base = len(prev_hyps)
            prev_hyps.extend(hyps)
            for h in range(len(hyps)):
                for e in range(first_edge, len(edge_scores)):
                    pair_prev.append(base + h)
                    pair_edge.append(e)
        if not pair_prev:
            return []
        pp, pe = np.array(pair_prev), np.array(pair_edge)
        prev_score = np.array([h.score for h in prev_hyps], dtype=np.float32)
        prev_slot = np.array([h.slot for h in prev_hyps])
        first = np.array(edge_first)
        pmi = np.clip(lm.pmi(prev_slot[pp], first[pe]), PMI_FLOOR, PMI_CAP)
        weight = np.where(prev_slot[pp] == START, START_WEIGHT, LM_WEIGHT).astype(np.float32)
        prev_hash = np.array([h.hash for h in prev_hyps], dtype=np.uint64)
        word_logp = d.words_lm.logp(prev_hash[pp], np.array(edge_hash, dtype=np.uint64)[pe],
                                    np.array(edge_unigram, dtype=np.float32)[pe])
        total = prev_score[pp] + np.array(edge_scores, dtype=np.float32)[pe] + word_logp + weight * pmi
        if self.user.follows:
            total = total + self._follow_bonus(prev_hyps, edge_words, pp, pe)
        return self._select(total, pp, pe, prev_hyps, edge_words, edge_last, edge_hash)

    def _follow_bonus(self, prev_hyps, edge_words, pp, pe) -> np.ndarray:
        follows = self.user.follows
        out = np.zeros(len(pp), dtype=np.float32)
        for k, (h, e) in enumerate(zip(pp.tolist(), pe.tolist())):
            prev = prev_hyps[h].text
            if prev and (prev, self._edge_text(edge_words[e])) in follows:
                out[k] = FOLLOW_BONUS
        return out

    def _edge_text(self, word) -> str:
        return word[0] if isinstance(word, tuple) else self.dict.word(word)

    def _select(self, total, pp, pe, prev_hyps, edge_words, edge_last, edge_hash) -> list[Hypothesis]:
        """The best hypothesis per last word (the model's state), at most BEAM, best first."""
        order = np.argsort(-total, kind="stable")
        seen: set[int] = set()
        beam: list[Hypothesis] = []
        for k in order.tolist():
            e = int(pe[k])
            state = edge_hash[e]
            if state in seen:
                continue
            seen.add(state)
            word = edge_words[e]
            text, reading = word if isinstance(word, tuple) else (self.dict.word(word), self.dict.reading(word))
            prev = prev_hyps[int(pp[k])]
            beam.append(Hypothesis(float(total[k]), edge_last[e], text, reading, prev, prev.words + 1, state))
            if len(beam) >= BEAM:
                break
        return beam
