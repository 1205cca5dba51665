"""The C sampler: greedy, temperature, top-k, top-p, min-p, repetition penalty, seeding."""
from __future__ import annotations

from collections import Counter

import numpy as np

from parrot.llm import _core

N = 50


def logits_fixture():
    rng = np.random.default_rng(0)
    lg = rng.standard_normal(N).astype(np.float32) * 2
    return lg


def draw(lg, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, rep=1.0, hist=(), seed=1, n=4000, last_n=64):
    return _core.sample(np.asarray(lg, np.float32).tobytes(), list(hist), temperature, top_k, top_p, min_p, rep,
                        last_n, seed, n)


def probs(lg, t=1.0):
    p = np.exp((lg - lg.max()) / t)
    return p / p.sum()


def test_greedy_is_argmax():
    lg = logits_fixture()
    assert set(draw(lg, temperature=0.0, n=20)) == {int(np.argmax(lg))}


def test_top_k_restricts_support():
    lg = logits_fixture()
    got = set(draw(lg, top_k=5))
    allowed = set(np.argsort(-lg)[:5].tolist())
    assert got <= allowed and len(got) == 5


def test_top_p_restricts_support():
    lg = logits_fixture()
    p = probs(lg)
    order = np.argsort(-p)
    cum = np.cumsum(p[order])
    k = int(np.searchsorted(cum, 0.7) + 1)  # smallest prefix reaching 0.7
    got = set(draw(lg, top_p=0.7, n=6000))
    assert got <= set(order[:k].tolist())
    assert len(got) == k


def test_min_p_restricts_support():
    lg = logits_fixture()
    p = probs(lg)
    allowed = set(np.nonzero(p >= 0.2 * p.max())[0].tolist())
    got = set(draw(lg, min_p=0.2, n=6000))
    assert got == allowed


def test_temperature_distribution_matches_softmax():
    lg = np.array([2.0, 1.0, 0.0, -1.0], np.float32)
    n = 20000
    for t in (0.5, 1.0, 2.0):
        c = Counter(draw(lg, temperature=t, n=n, seed=5))
        freq = np.array([c[i] / n for i in range(4)])
        np.testing.assert_allclose(freq, probs(lg, t), atol=0.02)


def test_seed_reproduces_and_differs():
    lg = logits_fixture()
    a = draw(lg, seed=42, n=200)
    assert a == draw(lg, seed=42, n=200)
    assert a != draw(lg, seed=43, n=200)


def test_repetition_penalty_lowers_positive_and_negative_logits():
    lg = np.array([2.0, -2.0, 0.5, -0.5, 1.0], np.float32)
    out = lg.copy()
    _core.repeat_penalty(out, [0, 1, 1, 3], 2.0)  # token 1 twice: penalized once
    np.testing.assert_allclose(out, [1.0, -4.0, 0.5, -1.0, 1.0])
    assert (out <= lg).all()


def test_repetition_penalty_changes_greedy_choice():
    lg = np.array([1.0, 0.9, -3.0], np.float32)
    assert draw(lg, temperature=0.0, rep=1.3, hist=[0], n=1) == [1]
    # a negative-logit token must not become the winner by being penalized
    lg = np.array([-1.0, -1.1], np.float32)
    assert draw(lg, temperature=0.0, rep=1.5, hist=[0], n=1) == [1]
    # only the last `last_n` tokens count
    lg = np.array([1.0, 0.9], np.float32)
    assert draw(lg, temperature=0.0, rep=2.0, hist=[0, 1, 1], last_n=2, n=1) == [0]


def test_combined_filters_large_vocab():
    rng = np.random.default_rng(9)
    lg = rng.standard_normal(150000).astype(np.float32) * 3
    got = draw(lg, temperature=0.7, top_k=20, top_p=0.8, n=500)
    assert set(got) <= set(np.argsort(-lg)[:20].tolist())
    got = draw(lg, temperature=0.6, top_p=0.95, n=200)  # no top-k: the nucleus path over the full vocab
    p = probs(lg, 0.6)
    order = np.argsort(-p)
    k = int(np.searchsorted(np.cumsum(p[order]), 0.95) + 1)
    assert set(got) <= set(order[:k].tolist())


# --- defect: min-p removing every token (or NaN logits) read before the candidate array


def test_min_p_above_one_keeps_the_most_likely_token():
    lg = logits_fixture()
    best = int(np.argmax(lg))
    for top_k in (0, 5):
        assert set(draw(lg, top_k=top_k, top_p=1.0, min_p=2.0, n=50)) == {best}
    assert set(draw(lg, top_p=0.5, min_p=float("inf"), n=50)) == {best}


def test_nan_and_infinite_logits_give_ids_in_the_vocabulary():
    nan = np.full(N, np.nan, np.float32)
    assert all(0 <= t < N for t in draw(nan, min_p=0.05, top_p=0.9, n=200))
    assert all(0 <= t < N for t in draw(nan, temperature=0.0, n=5))
    some = logits_fixture()
    some[::3] = np.nan
    finite = np.where(np.isnan(some), -np.inf, some)
    assert set(draw(some, temperature=0.0, n=5)) == {int(np.argmax(finite))}
    assert set(draw(some, n=500)) <= set(np.flatnonzero(~np.isnan(some)).tolist())
    inf = logits_fixture()
    inf[[7, 11]] = np.inf
    assert set(draw(inf, n=200)) == {7, 11}


def test_out_of_range_sampling_is_a_clear_error():
    import pytest

    from parrot.errors import UserError
    from parrot.llm.engine import Sampling

    for bad in ({"min_p": 2.0}, {"top_p": float("nan")}, {"temperature": -1}, {"top_k": 2**40},
                {"max_tokens": 0}, {"repeat_penalty": 0}, {"repeat_penalty": float("inf")}):
        with pytest.raises(UserError, match=next(iter(bad))):
            Sampling(**bad)
