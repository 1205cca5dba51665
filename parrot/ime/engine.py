"""Digits -> ranked candidates. Pure computation over the two dictionaries; its only state
is caches (sentence beams per digit prefix, see lattice.py).

Input: the pending key string of pinyin mode, digits 2-9 with optional separators ("1").
Output, best first:
  1. sentences: the likeliest sequences of dictionary words covering every digit under the
     language model (beam search over the lattice, lattice.py; two words or more, or a
     sentence the user composed before);
  2. whole-input words: every syllable typed in full except the last, which may still be
     incomplete (6442 -> 你好 ni'ha...), plus abbreviations (one key per syllable, 94 -> 中国)
     for frequent words; ranked together by score;
  3. partial words: words whose full key is a prefix of the input, longest first; picking
     one commits it and leaves the remaining digits composing.

Score = log probability + a bonus per extra character (whole words first) - a penalty per
digit still missing from the last syllable - a penalty for abbreviations, + a learned bonus.
"""

from __future__ import annotations

import enum
import math
from itertools import combinations
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from parrot.ime.dictionary import KEY_WIDTH, Dictionary, LearnedWord, UserDictionary
from parrot.ime.lattice import BEAM, ENTRIES_PER_SPAN, WORD_PENALTY, Hypothesis, SentenceSearch
from parrot.ime.t9 import SEPARATOR

# Ranking weights, in natural-log probability units (tuned with `parrot ime eval`).
WORD_LENGTH_BONUS = 2.0  # per character beyond the first
MISSING_DIGIT_PENALTY = 0.8  # per key of the last syllable not typed yet
ABBREVIATION_PENALTY = 2.0  # per syllable cut short (other than the last)
LEARNED_BONUS = 2.5  # times log2(1 + times picked)
NEW_WORD_LOGP = math.log(1e-6)
LEARNED_PER_QUERY = 12
CONTEXT_BONUS = 3.0  # the candidate and the previous pick form a dictionary word
CONTEXT_WINDOW = 12  # candidates checked for that
CONTEXT_HOMOPHONES = 40  # entries of one key compared  # a word only the user knows starts like a moderately common one
SENTENCE_MIN_DIGITS = 4
PREFIX_SENTENCES = 3  # multi-word candidates for the longest prefixes of the keys
SENTENCES = 3  # whole-input sentences offered (the search's best distinct ones)
# A sentence's path score counts WORD_PENALTY per word (lattice.py); added back once so
# that a one-word path would score like the word itself among the single candidates.
SENTENCE_SCORE_OFFSET = WORD_PENALTY
PARTIAL_PER_LENGTH = 8  # partial words offered per covered length
UNCOVERED_DIGIT_PENALTY = 3.0  # partial words: per key they leave for the next pick
RESULT_LIMIT = 20  # candidates computed per key press (4+ pages); paging past them asks for more
ABBREVIATION_MAX_KEYS = 4  # longer input is rarely abbreviated (measured), and cutting it up costs time
ABBREVIATION_MAX_SYLLABLES = 4
CACHE_SIZE = 128  # key states per candidate cache: 512 held ~5 MB more for 0.15 ms less per key (bench ime)
ASSOCIATION_PER_PREFIX = 8
COMMON_WORDS = 20


class Kind(enum.Enum):
    SENTENCE = "sentence"
    WORD = "word"  # covers every digit (last syllable complete or not)
    ABBREVIATION = "abbreviation"
    PARTIAL = "partial"  # covers a prefix of the digits
    ASSOCIATION = "association"


@dataclass(frozen=True)
class Candidate:
    text: str
    consumed: int  # plain digits (separators not counted) this candidate covers
    reading: tuple[str, ...]  # full syllables of text
    pieces: tuple[str, ...]  # the letters the typed keys stand for, per syllable
    score: float
    kind: Kind
    words: tuple[str, ...] = ()  # a sentence: its words, in order (what a pick teaches)


def parse_keys(keys: str) -> tuple[str, frozenset[int]]:
    """'94126' -> ('9426', {2}): plain digits and the syllable boundaries the user forced."""
    plain, bounds = [], set()
    for k in keys:
        if k == SEPARATOR:
            if plain:
                bounds.add(len(plain))
        else:
            plain.append(k)
    return "".join(plain), frozenset(b for b in bounds if b < len(plain))


def typed_pieces(reading: tuple[str, ...], typed: int, abbreviated: bool = False) -> tuple[str, ...]:
    """The letters `typed` keys stand for under this reading (last syllable truncated)."""
    if abbreviated:
        return tuple(s[0] for s in reading)
    pieces, left = [], typed
    for s in reading:
        if left <= 0:
            break
        pieces.append(s[:left])
        left -= len(s)
    return tuple(pieces)


def syllable_bounds(reading: tuple[str, ...]) -> set[int]:
    """Offsets between syllables (letters and keys are one to one, so digit offsets too)."""
    bounds, pos = set(), 0
    for s in reading[:-1]:
        pos += len(s)
        bounds.add(pos)
    return bounds


class Engine:
    def __init__(self, dictionary: Dictionary, user: UserDictionary | None = None, sentences: int = SENTENCES,
                 beam: int = BEAM, per_state: int = 1, entries: int = ENTRIES_PER_SPAN):
        """sentences, beam, per_state, entries: how many whole-input sentences to offer and the
        search's width (lattice.py); a re-ranker (rerank.py) asks for a longer, more varied list."""
        self.dict = dictionary
        self.sentences = sentences
        self.user = user if user is not None else UserDictionary(None)
        self._whole = lru_cache(maxsize=CACHE_SIZE)(self._whole_uncached)
        self._partial = lru_cache(maxsize=CACHE_SIZE)(self._partial_uncached)
        self._sentence = lru_cache(maxsize=CACHE_SIZE)(self._sentence_uncached)
        self._abbreviated = lru_cache(maxsize=CACHE_SIZE)(self._abbreviated_uncached)
        self.search = SentenceSearch(dictionary, self.user, beam, per_state, entries)

    # -- public ----------------------------------------------------------------------------
    def candidates(self, keys: str, split: tuple[str, ...] | None = None, limit: int = RESULT_LIMIT,
                   context: Candidate | None = None) -> list[Candidate]:
        """Ranked candidates for the keys. `context`: what was picked just before (its text
        and reading), so that words it forms a dictionary word with rank higher (一 + 件)."""
        plain, bounds = parse_keys(keys)
        if not plain:
            return []
        if split is not None:
            limit *= 4  # narrowing throws most away
        found: list[Candidate] = []
        whole, prefix_sentences = self._whole_input(plain, bounds, limit)
        partial = self._partial(plain, bounds, limit) + self._learned_partial(plain, bounds) + prefix_sentences
        partial = self._apply_learning(partial)
        joined = self._joined_words(whole[:CONTEXT_WINDOW] + partial[:CONTEXT_WINDOW], context)
        whole = self._apply_context(whole, context, joined)
        # Words covering only the first keys mix in, each uncovered key costing a penalty;
        # the best whole-input candidate stays first.
        partial = [_with_score(c, c.score - UNCOVERED_DIGIT_PENALTY * (len(plain) - c.consumed))
                   for c in self._apply_context(partial, context, joined)]
        merged = sorted(whole[1:] + partial, key=_by_score)
        found.extend(whole[:1] + merged)
        found = _dedupe(found)
        if split is not None:
            found = [c for c in found if _fits_split(c, split)]
        return found[:limit] if split is None else found[: limit // 4]

    def whole_input(self, keys: str, limit: int = RESULT_LIMIT) -> list[Candidate]:
        """The candidates that cover every key (sentences, and up to `limit` words), best
        first, ranked as candidates() ranks them (no context): what a re-ranker (rerank.py)
        re-orders."""
        plain, bounds = parse_keys(keys)
        return _dedupe(self._whole_input(plain, bounds, limit)[0]) if plain else []

    def _whole_input(self, plain: str, bounds: frozenset[int], limit: int) -> tuple[list[Candidate], list[Candidate]]:
        """(whole-input candidates ranked, the best sentences of the longest prefixes)."""
        sentences, prefix_sentences = self._sentence(plain, bounds, self.user.uses)
        whole = self._whole(plain, bounds, limit) + self._abbreviated(plain, bounds) + self._learned_whole(plain, bounds)
        # Sentences compete on score with the single words; the same text found both ways
        # (a composed sentence the user taught) keeps the better score.
        return self._apply_learning(sorted(whole + sentences, key=_by_score)), prefix_sentences

    def splits(self, candidates: list[Candidate], plain_len: int, limit: int = 8) -> list[tuple[str, ...]]:
        """Distinct letter readings of the input, in candidate order (the pinyin row)."""
        out: list[tuple[str, ...]] = []
        full = [c for c in candidates if c.consumed == plain_len]
        for c in full + [c for c in candidates if c.consumed < plain_len]:
            if c.pieces not in out:
                out.append(c.pieces)
            if len(out) >= limit:
                break
        return out

    def associations(self, context: str, last_word: str, limit: int = 24) -> list[str]:
        """联想: what likely follows — the user's own habits first, then dictionary words."""
        out = list(self.user.followers(last_word)) if last_word else []
        for n in range(min(3, len(context)), 0, -1):
            out.extend(self.dict.continuations(context[-n:])[:ASSOCIATION_PER_PREFIX])
        # Then what follows almost anything: the most frequent words (的 了 是 ...).
        out.extend(self.dict.common_words(COMMON_WORDS))
        seen, unique = set(), []
        for text in out:
            if text and text not in seen:
                seen.add(text)
                unique.append(text)
        return unique[:limit]

    # -- the three sources -----------------------------------------------------------------
    def _whole_uncached(self, plain: str, bounds: frozenset[int], limit: int) -> list[Candidate]:
        d = self.dict
        n = len(plain)
        lo, hi = d.prefix_range(plain) if n <= KEY_WIDTH else (0, 0)
        out: list[Candidate] = []
        if hi > lo:
            idx = np.nonzero((d.last_start[lo:hi] < n) & ~d.blocked[lo:hi])[0] + lo
            score = (d.logp[idx] + WORD_LENGTH_BONUS * (d.nchars[idx].astype(np.float32) - 1)
                     - MISSING_DIGIT_PENALTY * (d.ndigits[idx].astype(np.float32) - n))
            pool = limit * 2 if bounds else limit
            if len(idx) > pool:
                keep = np.argpartition(-score, pool)[:pool]
                idx, score = idx[keep], score[keep]
            order = np.argsort(-score, kind="stable")
            for i, s in zip(idx[order].tolist(), score[order].tolist()):
                reading = d.reading(i)
                if bounds and not bounds <= syllable_bounds(reading):
                    continue
                out.append(Candidate(d.word(i), n, reading, typed_pieces(reading, n), s, Kind.WORD))
        return out

    def _abbreviated_uncached(self, plain: str, bounds: frozenset[int]) -> list[Candidate]:
        """Frequent words whose syllables were cut short, not only the last one.

        Every way of cutting the keys into 2-4 pieces names the words' initials; the
        abbreviation table lists frequent words by initials, and a word fits when each
        piece starts its syllable's keys (94 = z'g -> 中国, 94664 4 = zhong'g, 5 8 = j't).
        """
        d = self.dict
        n = len(plain)
        out: list[Candidate] = []
        if not 2 <= n <= ABBREVIATION_MAX_KEYS:
            return out
        for cuts in _cut_points(n):
            if not bounds <= set(cuts):
                continue  # a separator the user typed must fall between pieces
            starts = (0, *cuts)
            pieces = [plain[a:b] for a, b in zip(starts, (*cuts, n))]
            for i, keys in d.abbreviations("".join(plain[a] for a in starts)):
                if len(keys) != len(pieces) or not _starts_each(keys, pieces):
                    continue
                shortened = sum(len(p) < len(k) for p, k in zip(pieces[:-1], keys[:-1]))
                if not shortened:
                    continue  # every syllable but the last typed in full: the prefix search has it
                reading = d.reading(i)
                s = (float(d.logp[i]) + WORD_LENGTH_BONUS * (len(keys) - 1) - ABBREVIATION_PENALTY * shortened
                     - MISSING_DIGIT_PENALTY * (len(keys[-1]) - len(pieces[-1])))
                typed = tuple(syl[: len(p)] for syl, p in zip(reading, pieces))
                out.append(Candidate(d.word(i), n, reading, typed, s, Kind.ABBREVIATION))
        return out

    def _partial_uncached(self, plain: str, bounds: frozenset[int], limit: int) -> list[Candidate]:
        """Words whose whole key is plain[:k], for every k < len(plain), longest first."""
        d = self.dict
        lengths = list(range(min(len(plain) - 1, KEY_WIDTH), 0, -1))
        los, his = d.exact_ranges([plain[:k] for k in lengths])
        out: list[Candidate] = []
        for k, lo, hi in zip(lengths, los.tolist(), his.tolist()):
            if len(out) >= limit:
                break
            # A separator the user typed may not fall inside one of the word's syllables.
            inner = {b for b in bounds if b < k}
            # Paging deeper (a larger limit) reaches further down each length's list.
            for i in range(lo, min(hi, lo + max(PARTIAL_PER_LENGTH, limit // 4))):
                if d.blocked[i]:
                    continue  # offered only once the user typed it (learned words)
                reading = d.reading(i)
                if inner and not inner <= syllable_bounds(reading):
                    continue
                s = float(d.logp[i]) + WORD_LENGTH_BONUS * (len(reading) - 1)
                out.append(Candidate(d.word(i), k, reading, reading, s, Kind.PARTIAL))
        return out

    def _sentence_uncached(self, plain: str, bounds: frozenset[int], _uses: int) -> tuple[list[Candidate], list[Candidate]]:
        """Sentence conversion (parrot/ime/lattice.py): the best sentences covering all the
        keys (two words or more), and the best of the longest prefixes (several words
        picked at once, the rest of the keys left composing). Cached per state of the user
        dictionary (`_uses` counts its changes)."""
        n = len(plain)
        if n < SENTENCE_MIN_DIGITS:
            return [], []
        full: list[Candidate] = []
        for score, hyp in self.search.complete(plain, bounds):
            cand = self._path_candidate(hyp, n, score)
            if cand is not None and all(c.text != cand.text for c in full):
                full.append(cand)
                if len(full) >= self.sentences:
                    break
        prefixes = []
        for j in range(n - 1, SENTENCE_MIN_DIGITS - 1, -1):
            if len(prefixes) >= PREFIX_SENTENCES:
                break
            beam = self.search.beam(plain, bounds, j)
            cand = self._path_candidate(beam[0], j, beam[0].score) if beam else None
            if cand is not None:
                prefixes.append(cand)
        return full, prefixes

    def _path_candidate(self, hyp: Hypothesis, end: int, score: float) -> Candidate | None:
        """A search hypothesis as one candidate, if it has two words or more (or is a
        sentence the user composed before, learned as one word) and spells no blocked word
        the user has not typed before."""
        if hyp.words < 2 and not isinstance(hyp.word, LearnedWord):
            return None
        text, reading, words = hyp.sentence(self.dict)
        if self.dict.is_blocked_text(text) and not self._user_typed_blocked(text):
            return None
        return Candidate(text, end, reading, reading, score + SENTENCE_SCORE_OFFSET + WORD_LENGTH_BONUS * (len(text) - 1),
                         Kind.SENTENCE, words)

    def _user_typed_blocked(self, text: str) -> bool:
        learned = {w for w, _ in self.user.words}
        return all(b in learned for b in self.dict.blocklist if b in text)

    # -- learning --------------------------------------------------------------------------
    def _learned_whole(self, plain: str, bounds: frozenset[int]) -> list[Candidate]:
        out = []
        # The most used ones are enough: each is only a bonus on top of the dictionary.
        learned = sorted(self.user.prefix_matches(plain), key=lambda w: -w.count)[:LEARNED_PER_QUERY]
        for w in learned:
            if bounds and not bounds <= syllable_bounds(w.reading):
                continue
            s = NEW_WORD_LOGP + WORD_LENGTH_BONUS * (len(w.word) - 1) - MISSING_DIGIT_PENALTY * (len(w.digits) - len(plain))
            out.append(Candidate(w.word, len(plain), w.reading, typed_pieces(w.reading, len(plain)), s, Kind.WORD))
        return out

    def _learned_partial(self, plain: str, bounds: frozenset[int]) -> list[Candidate]:
        out = []
        for k in range(len(plain) - 1, 0, -1):
            for w in self.user.exact(plain[:k]):
                s = NEW_WORD_LOGP + WORD_LENGTH_BONUS * (len(w.word) - 1)
                out.append(Candidate(w.word, k, w.reading, w.reading, s, Kind.PARTIAL))
        return out

    def _joined_words(self, cands: list[Candidate], context: Candidate | None) -> set[str]:
        """The texts `end of the previous pick + candidate` that are dictionary words."""
        if context is None or not context.reading or not cands:
            return set()
        probes = [context.text[-n:] + c.text for c in cands for n in (1, 2) if len(context.text) >= n]
        return {text for text, ok in zip(probes, self.dict.are_words(probes)) if ok}

    def _apply_context(self, cands: list[Candidate], context: Candidate | None, joined: set[str]) -> list[Candidate]:
        """Boost candidates that make a dictionary word with the end of the previous pick."""
        if not joined:
            return cands
        tails = [context.text[-n:] for n in (1, 2) if len(context.text) >= n]
        boosted = [_with_score(c, c.score + CONTEXT_BONUS) if any(t + c.text in joined for t in tails) else c
                   for c in cands]
        return sorted(boosted, key=_by_score)

    def _apply_learning(self, cands: list[Candidate]) -> list[Candidate]:
        if not self.user.words:
            return cands
        boosted = list(cands)
        changed = False
        for n, c in enumerate(cands):
            uses = self.user.count(c.text, c.reading)
            if uses:
                bonus = LEARNED_BONUS * math.log2(1 + uses)
                boosted[n] = _with_score(c, c.score + bonus)
                changed = True
        return sorted(boosted, key=_by_score) if changed else boosted


@lru_cache(maxsize=None)
def _cut_points(n: int) -> list[tuple[int, ...]]:
    """Every way to cut n keys into 2-4 non-empty pieces, as the cut positions."""
    return [cuts for pieces in range(2, ABBREVIATION_MAX_SYLLABLES + 1) for cuts in combinations(range(1, n), pieces - 1)]


def _starts_each(keys: tuple[str, ...], pieces: list[str]) -> bool:
    for key, piece in zip(keys, pieces):
        if not key.startswith(piece):
            return False
    return True


def _with_score(c: Candidate, score: float) -> Candidate:
    return Candidate(c.text, c.consumed, c.reading, c.pieces, score, c.kind, c.words)


def _by_score(c: Candidate) -> float:
    return -c.score


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    seen, out = set(), []
    for c in cands:
        key = (c.text, c.consumed)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _fits_split(c: Candidate, split: tuple[str, ...]) -> bool:
    """The candidate reads the keys the way the chosen pinyin split does."""
    if len(c.pieces) > len(split):
        return False
    return all(a == b for a, b in zip(c.pieces, split))
