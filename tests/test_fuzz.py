"""Bounded fuzzing (fixed RNG seeds, a few seconds) of every outside input, plus every saved
regression. `make fuzz` runs the same targets for minutes; what it finds is saved under
tests/data/fuzz/regressions/<target>/ and replayed here forever."""
from __future__ import annotations

import pytest

import fuzz_targets as ft

# target -> (iterations, RNG seeds): sized for ~1-3 s each on a slow CI core
BUDGET = {"gguf": (1500, [1, 2]), "tokenizer": (1500, [1, 2]), "config": (1000, [1, 2]),
          "script": (3000, [1, 2]), "keypad": (300, [1, 2]), "userdict": (300, [1, 2]),
          "conversation": (1000, [1, 2])}


@pytest.mark.parametrize("name", sorted(BUDGET))
def test_seeds_are_accepted(name):
    target, _ = ft.load_target(name)
    seeds = target.seeds()
    assert seeds, f"no seed inputs for {name}"
    for data in seeds:
        assert ft.run_one(target, data) is None


@pytest.mark.parametrize("name,seed", [(n, s) for n, (_, seeds) in sorted(BUDGET.items()) for s in seeds])
def test_bounded_fuzz(name, seed):
    iterations, _ = BUDGET[name]
    problems = list(ft.fuzz(name, iterations, seed))
    assert not problems, f"{len(problems)} finding(s), first: {problems[0][1]} on {problems[0][0][:200]!r}"


@pytest.mark.parametrize("name", sorted(BUDGET))
def test_saved_regressions_stay_fixed(name):
    target, _ = ft.load_target(name)
    for data in ft.regression_inputs(name):
        assert ft.run_one(target, data) is None


def test_a_finding_is_reported():
    """The harness can fail: a target that misbehaves is caught."""
    target = ft.Target("broken", lambda data: [][len(data)], ft.Mutator(), lambda: [b"x"])
    assert ft.run_one(target, b"abc").startswith("IndexError")
    assert ft.run_one(ft.TARGETS["script"], b"snap ok") is None
