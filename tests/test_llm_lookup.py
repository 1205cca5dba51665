"""Prompt lookup (exact speculative decoding): drafts copied from the context, verified in one
batched pass. Greedy output must equal plain decoding token for token, sampled output must keep
the seeded sequence (each emitted token is one draw from the same logits)."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, write_tiny  # noqa: E402

from parrot.llm import Model, Sampling  # noqa: E402

GREEDY = Sampling(temperature=0, top_k=0, top_p=1, min_p=0, repeat_penalty=1.0, seed=0, max_tokens=40)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    # a model that copies: embedding and output tied, so repeating the context is likely
    return write_tiny(tmp_path_factory.mktemp("lookup") / "m.gguf", Spec(arch="qwen2", tied=True, n_ctx_train=1024))


def generate(path, prompt, sampling, **kw):
    with Model(path, threads=2, context=512, **kw) as m:
        text = "".join(m.generate(prompt, sampling))
        return text, m._cached[len(prompt):], dict(m.stats), m._c.n_past


def repetitive_prompt():
    rng = np.random.default_rng(0)
    block = [int(i) for i in rng.integers(20, 200, 30)]
    return block + block[:20]


@pytest.mark.parametrize("lookup", [1, 4, 16])
def test_greedy_identical_to_plain_decoding(tiny, lookup):
    prompt = repetitive_prompt()
    plain = generate(tiny.path, prompt, GREEDY)
    spec = generate(tiny.path, prompt, dataclasses.replace(GREEDY, lookup=lookup))
    assert spec[0] == plain[0] and spec[1] == plain[1]
    assert spec[2]["decode_tokens"] == plain[2]["decode_tokens"]
    assert spec[3] == plain[3]  # the cache ends at the same position: no draft left behind
    assert spec[2]["drafted"] > 0 and 0 <= spec[2]["accepted"] <= spec[2]["drafted"]
    assert plain[2]["drafted"] == 0


def test_drafts_are_accepted_on_repeating_text(tiny):
    """The point of it: a context that repeats gets most drafts accepted."""
    prompt = repetitive_prompt()
    _, _, st, _ = generate(tiny.path, prompt, dataclasses.replace(GREEDY, lookup=8))
    # the tiny model's greedy continuation is itself periodic; its drafts are mostly right
    assert st["accepted"] > 0.5 * st["drafted"] > 0, st


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sampled_output_keeps_the_seeded_sequence(tiny, seed):
    s = Sampling(temperature=0.9, top_k=40, top_p=0.95, min_p=0.0, repeat_penalty=1.1, seed=seed, max_tokens=40)
    prompt = repetitive_prompt()
    plain = generate(tiny.path, prompt, s)
    spec = generate(tiny.path, prompt, dataclasses.replace(s, lookup=6))
    assert spec[1] == plain[1]


def test_max_tokens_and_stop_inside_a_draft(tiny):
    prompt = repetitive_prompt()
    for n in (1, 2, 3, 7):
        g = dataclasses.replace(GREEDY, max_tokens=n)
        plain = generate(tiny.path, prompt, g)
        spec = generate(tiny.path, prompt, dataclasses.replace(g, lookup=8))
        assert spec[1] == plain[1] and spec[3] == plain[3], n


def test_lookup_out_of_range_is_refused(tiny):
    with Model(tiny.path, threads=1, context=64) as m:
        with pytest.raises(ValueError, match="lookup must be 0..16"):
            "".join(m.generate([1, 2, 3], dataclasses.replace(GREEDY, lookup=17)))


def test_chat_benchmark_runs_and_compares_texts(tiny):
    from parrot.llm.chatbench import TASKS, run_chat_bench

    r = run_chat_bench(str(tiny.path), 2, 8)
    assert len(r["tasks"]) == len(TASKS) and r["tokens"] > 0
    assert r["identical"] and all(t["identical"] for t in r["tasks"])
    assert r["plain_tps"] > 0 and r["lookup_tps"] > 0 and 0 <= r["acceptance"] <= 1


@pytest.mark.parametrize("wtype", ["Q8_0", "Q5_0", "Q4_0", "F32"])
def test_batched_logits_equal_one_token_at_a_time_bitwise(tmp_path, wtype):
    """What makes the verification exact: a token's logits do not depend on the batch it is in."""
    from gguf import GGMLQuantizationType as QT

    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2", wtype=QT[wtype], n_embd=128, n_ff=256))
    ids = list(range(20, 59))  # 39 tokens: batches of 32 + 7, tiles of 4 + a remainder
    with Model(t.path, threads=2, context=128) as m:
        batched = m.eval(ids)
        m.reset()
        single = np.concatenate([m.eval([i]) for i in ids])
    assert np.array_equal(batched, single)
