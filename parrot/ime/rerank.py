"""Re-ranking whole-input sentence candidates with the LLM as the language model.

The lattice (lattice.py) scores sentences with word bigrams counted from newspapers and
reviews; the right sentence is often in its N-best list but not first. The on-device LLM
knows everyday Chinese far better: each candidate is scored by the total log-probability of
its tokens after a short fixed prefix (a user turn in the model's chat markup), plus the
end-of-turn token, and the candidates are ordered by

    LLM log P(candidate) + LATTICE_WEIGHT * lattice score

(LATTICE_WEIGHT tuned on tests/data/ime/sentences_dev.txt only). Cost: the prefix is
evaluated once and stays in the KV cache; candidates are evaluated in token order so each
one only evaluates what it does not share with the one before (the cache is cut back to the
common prefix). A model that fails (busy generating, closed) leaves the lattice order.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from parrot.ime.engine import Candidate

TOP_K = 12  # candidates re-ranked: the 48/6 search has the right one in its top 12 for 85% of dev (8: 84%, 24: 85%)
SEARCH_BEAM = 48  # the lattice's width when it feeds the re-ranker (engine default: 8; 32/4 on dev: 73.8% exact)
SEARCH_PER_STATE = 6  # hypotheses per last word (default 1): an N-best list that varies early words too
LATTICE_WEIGHT = 1.0  # dev set: 0.3-1.0 give the same exact rate, 1.0 the best characters (README)
PREFIX = "<|im_start|>user\n"  # the sentences are what a user says or asks
SUFFIX = "<|im_end|>"  # scored too: how well the candidate ends a message


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

    def score(self, texts: Sequence[str]) -> list[float]:
        seqs = [self.prefix + self.model.tokenize(t, False) + self.suffix for t in texts]
        out = [0.0] * len(seqs)
        for i in sorted(range(len(seqs)), key=lambda i: seqs[i]):  # neighbours share prefixes
            out[i] = self._score_one(seqs[i])
        return out

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
           weight: float = LATTICE_WEIGHT) -> list[Candidate]:
    """The first k whole-input candidates re-ordered by LLM log P + weight * lattice score,
    in the places they held (partial candidates stay where they are); ties keep the lattice
    order. Their score becomes the combined one. If the model fails, the list is unchanged."""
    places = covering(cands)[:k]
    if len(places) < 2:
        return list(cands)
    chosen = [cands[i] for i in places]
    try:
        llm = scorer.score([c.text for c in chosen])
    except Exception:  # the model is busy, closed or broken: the lattice order stands
        return list(cands)
    combined = [lp + weight * c.score for lp, c in zip(llm, chosen)]
    if not all(math.isfinite(s) for s in combined):
        return list(cands)
    order = sorted(range(len(chosen)), key=lambda j: -combined[j])  # stable: ties keep order
    out = list(cands)
    for place, j in zip(places, order):
        out[place] = replace(chosen[j], score=combined[j])
    return out


class Reranker:
    """rerank() with its scorer and settings, as one callable (eval, the app)."""

    def __init__(self, scorer: LlmScorer, k: int = TOP_K, weight: float = LATTICE_WEIGHT):
        self.scorer, self.k, self.weight = scorer, k, weight

    def __call__(self, cands: Sequence[Candidate]) -> list[Candidate]:
        return rerank(cands, self.scorer, self.k, self.weight)
