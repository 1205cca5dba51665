"""Re-ranking whole-input sentence candidates with the LLM as the language model.

The lattice (lattice.py) scores sentences with a word bigram model; the right sentence is
often in its N-best list but not first. The on-device LLM
knows everyday Chinese far better: each candidate is scored by the total log-probability of
its tokens after a short fixed prefix (a chat: a system prompt in Chinese, then the user's
turn, so questions and chat read natural), and the candidates are ordered by

    LLM log P(candidate) + LATTICE_WEIGHT * lattice score + TOKEN_BONUS * its tokens

(a total log P favours texts of fewer tokens: 棕榈科 over 我迷路了, same keys; the prefix, the weights, the search's width and K chosen on tests/data/ime/sentences_dev.txt
and sentences_dev2.txt only, from one dump of the candidates' scores). Cost: the prefix is
evaluated once and stays in the KV cache; candidates are evaluated in token order so each
one only evaluates what it does not share with the one before (the cache is cut back to the
common prefix). Between calls only the prefix's last row of scores is kept (a row is the
vocabulary's size, 0.6 MB for Qwen2.5: a dozen of them kept for the next call is the
appliance's biggest resting allocation). A model that fails (busy generating, closed) leaves
the lattice order.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from parrot.ime.engine import Candidate, Engine

TOP_K = 32  # candidates re-ranked (dev + dev2: the right one in the top 12 for 81%, 24: 84%, 32: 86%)
SEARCH_BEAM = 96  # the lattice's width when it feeds the re-ranker (engine default: 8)
SEARCH_PER_STATE = 12  # hypotheses per last word (default 1): an N-best list that varies early words too
SEARCH_ENTRIES = 16  # words per exactly-matching key (default 8): 聊 is the 27th of key 5426
LATTICE_WEIGHT = 0.75  # dev + dev2: 0.5-0.75 with a token bonus of 0.5-1 all best (README)
TOKEN_BONUS = 0.5  # per LLM token of the candidate
# A chat turn, as the app's model is used to: a Chinese system prompt made the LLM's choice
# better than the bare user turn (dev 81% vs 79% exact); the end-of-turn token after the
# candidate made it worse (79% vs 81%), so it is not scored.
PREFIX = "<|im_start|>system\n你是一个乐于助人的助手。<|im_end|>\n<|im_start|>user\n"
SUFFIX = ""
WORDS_PER_SENTENCE = 3  # whole-input words looked at per sentence re-ranked (short inputs)
LEAD = 3  # re-ranked sentences shown first (as many as the default search offers)


class TokenModel(Protocol):
    """What the re-ranker needs from parrot.llm.Model."""

    n_vocab: int

    def tokenize(self, text: str, special: bool = True) -> list[int]: ...
    def eval(self, ids: Sequence[int]) -> np.ndarray: ...
    def truncate(self, n: int) -> int: ...  # returns how many cached tokens it kept
    @property
    def cached(self) -> list[int]: ...


class LlmScorer:
    """Total log-probability of texts under a model, after PREFIX, sharing evaluated prefixes."""

    def __init__(self, model: TokenModel, prefix: str = PREFIX, suffix: str = SUFFIX):
        self.model = model
        self.prefix = model.tokenize(prefix, True)
        self.suffix = model.tokenize(suffix, True) if suffix else []
        # log-probabilities of the next token after each cached position (None: not ours)
        self._rows: list[np.ndarray | None] = []
        self.evaluated = 0  # tokens evaluated (for the latency report)
        self.lengths: list[int] = []  # tokens of each text of the last score() call

    def score(self, texts: Sequence[str]) -> list[float]:
        seqs = [self.prefix + self.model.tokenize(t, False) + self.suffix for t in texts]
        self.lengths = [len(q) - len(self.prefix) - len(self.suffix) for q in seqs]
        out = [0.0] * len(seqs)
        try:
            for i in sorted(range(len(seqs)), key=lambda i: seqs[i]):  # neighbours share prefixes
                out[i] = self._score_one(seqs[i])
        finally:
            self._keep_prefix_row()
        return out

    def _keep_prefix_row(self) -> None:
        """Drop the rows of scores after the prefix (the next call's candidates are new text);
        the one kept is copied out of its eval's [tokens, vocabulary] block so that frees too."""
        keep = len(self.prefix) - 1
        row = self._rows[keep] if 0 <= keep < len(self._rows) else None
        self._rows = [None] * len(self._rows)
        if row is not None:
            self._rows[keep] = row.copy()

    def _score_one(self, ids: list[int]) -> float:
        cached = self.model.cached
        if len(self._rows) != len(cached):  # someone else used the model (a chat): start over
            self._rows = [None] * len(cached)
        n = 0
        for a, b in zip(cached, ids):
            if a != b:
                break
            n += 1
        n = min(n, len(ids) - 1)
        while n > 0 and self._rows[n - 1] is None:  # need the scores after position n-1
            n -= 1
        n = self.model.truncate(n)  # a sliding-window model may keep fewer
        del self._rows[n:]
        logits = self.model.eval(ids[n:])
        self.evaluated += len(ids) - n
        top = logits.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        self._rows.extend(logits - lse)
        start = len(self.prefix)
        return float(sum(self._rows[i - 1][ids[i]] for i in range(start, len(ids))))


def covering(cands: Sequence[Candidate]) -> list[int]:
    """Positions of the candidates that cover the most keys (the whole input), in order."""
    if not cands:
        return []
    full = max(c.consumed for c in cands)
    return [i for i, c in enumerate(cands) if c.consumed == full]


def rerank(cands: Sequence[Candidate], scorer: LlmScorer, k: int = TOP_K,
           weight: float = LATTICE_WEIGHT, token_bonus: float = TOKEN_BONUS) -> list[Candidate]:
    """The first k whole-input candidates re-ordered by LLM log P + weight * lattice score
    + token_bonus * LLM tokens, in the places they held (partial candidates stay where they
    are); ties keep the lattice order. Their score becomes the combined one. If the model
    fails, the list is unchanged."""
    return _rerank(cands, scorer, k, weight, token_bonus) or list(cands)


def _rerank(cands: Sequence[Candidate], scorer: LlmScorer, k: int, weight: float,
            token_bonus: float) -> list[Candidate] | None:
    """rerank(), or None when there is nothing to re-order or the model failed."""
    places = covering(cands)[:k]
    if len(places) < 2:
        return None
    chosen = [cands[i] for i in places]
    try:
        llm = scorer.score([c.text for c in chosen])
    except Exception:  # the model is busy, closed or broken: the lattice order stands
        return None
    combined = [lp + weight * c.score + token_bonus * n for lp, c, n in zip(llm, chosen, scorer.lengths)]
    if not all(math.isfinite(s) for s in combined):
        return None
    order = sorted(range(len(chosen)), key=lambda j: -combined[j])  # stable: ties keep order
    out = list(cands)
    for place, j in zip(places, order):
        out[place] = replace(chosen[j], score=combined[j])
    return out


def wide_engine(engine: Engine, k: int = TOP_K) -> Engine:
    """The search that feeds the re-ranker: same dictionary and user words as `engine`, an
    N-best list of k sentences from the wider beam."""
    return Engine(engine.dict, engine.user, sentences=k, beam=SEARCH_BEAM, per_state=SEARCH_PER_STATE,
                  entries=SEARCH_ENTRIES)


class Reranker:
    """What the app does when the keypad rests, and what `parrot ime eval --llm` measures: the
    keys are searched again with the wider search (wide_engine), its first k whole-input
    candidates re-ordered by rerank(), and the list becomes the LEAD best of them followed by
    the candidates that were shown, less those repeated. A model that fails (or keys with
    fewer than two whole-input candidates) leaves the list shown as it was."""

    def __init__(self, scorer: LlmScorer, engine: Engine, k: int = TOP_K, weight: float = LATTICE_WEIGHT,
                 token_bonus: float = TOKEN_BONUS):
        self.scorer, self.k, self.weight, self.token_bonus = scorer, k, weight, token_bonus
        self.engine = wide_engine(engine, k)

    def __call__(self, keys: str, shown: Sequence[Candidate]) -> list[Candidate]:
        try:
            wide = self.engine.whole_input(keys, WORDS_PER_SENTENCE * self.k)
        except Exception:  # e.g. the user dictionary changed under the worker: stale anyway
            return list(shown)
        ranked = _rerank(wide, self.scorer, self.k, self.weight, self.token_bonus)
        if ranked is None:
            return list(shown)
        lead = [ranked[i] for i in covering(ranked)[:LEAD]]
        taken = {(c.text, c.consumed) for c in lead}
        return lead + [c for c in shown if (c.text, c.consumed) not in taken]
