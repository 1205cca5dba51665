"""The low-bit files board users download (issue 14), made by llama.cpp's own llama-quantize from
the registry Qwen2.5-Coder-0.5B (`make test-quants`): each answers a simple question, and its
greedy text equals llama.cpp's (llama-completion, from `make peer`) on the same file and prompt.
Slow: real 400 MB models; skipped when the files or llama.cpp are not built."""
from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from parrot.llm import Model
from parrot.llm.engine import GREEDY
from parrot.llm.gguf_info import inspect_path
from parrot.llm.models import models_dir

pytestmark = pytest.mark.slow

QUANTS = models_dir() / "test-quants"
# file suffix -> the low-bit types it must hold (what this test exercises)
FILES = {"q2_k-ffn": {"Q2_K"}, "q2_k": {"Q3_K"}, "q3_k_s": {"Q3_K"}, "iq4_nl": {"IQ4_NL"},
         "iq4_xs": {"IQ4_XS", "IQ4_NL"}}
PROMPTS = ["The capital of France is", "def fibonacci(n):", "中国的首都是"]
N_TOKENS = 16


def quant_file(name: str) -> Path:
    path = QUANTS / f"qwen2.5-coder-0.5b-instruct-{name}.gguf"
    if not path.is_file():
        pytest.skip(f"{path} missing: make test-quants (needs make peer)")
    return path


def llama_completion() -> Path:
    peer = Path(os.environ.get("PARROT_PEER_DIR", "build/peer"))
    for c in (peer / "bin" / "llama-completion", peer / "build" / "bin" / "llama-completion"):
        if c.is_file():
            return c
    pytest.skip(f"llama-completion not in {peer} (make peer PEER_DIR=..., or set PARROT_PEER_DIR)")


@pytest.mark.parametrize("name", FILES)
def test_inspect_and_answer(name):
    path = quant_file(name)
    info = inspect_path(path)
    assert info.runnable, info.reasons
    assert FILES[name] <= set(info.type_counts), info.type_counts
    with Model(path, threads=2, context=512) as m:
        answer = "".join(m.chat("What is the capital of France? Answer in one word.", GREEDY))
    assert "Paris" in answer, answer


def theirs(exe: Path, path: Path, prompt: str) -> str:
    r = subprocess.run([str(exe), "-m", str(path), "-p", prompt, "-n", str(N_TOKENS), "--temp", "0", "-no-cnv",
                        "--no-display-prompt", "--simple-io", "--no-warmup", "-t", "2", "-c", "256",
                        "--repeat-penalty", "1", "-s", "1"], capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.removesuffix(" [end of text]\n").rstrip("\n")


@pytest.mark.parametrize("name", FILES)
def test_greedy_text_matches_llama_cpp(name):
    """llama.cpp's greedy continuation, fed back to our engine token by token: at every position
    its token is our top token, or within a near tie of it. Both engines round activations to
    8 bits, differently (llama.cpp per 256 for K types), so a tie within a few hundredths of a
    logit may break either way and the free-running texts then part (measured: 0.009 at the
    one place they part on the Q3_K_S file; on the f32 path ours follows llama.cpp's exactly)."""
    path, exe = quant_file(name), llama_completion()
    positions = same = 0
    with Model(path, threads=2, context=256) as m:
        for prompt in PROMPTS:
            text = theirs(exe, path, prompt)
            p_ids, t_ids = m.tokenize(prompt), m.tokenize(text)
            assert len(t_ids) >= N_TOKENS // 2, text
            m.reset()
            logits = m.eval(p_ids + t_ids)[len(p_ids) - 1:-1]
            gap = logits.max(axis=1) - logits[np.arange(len(t_ids)), t_ids]
            assert gap.max() < 0.1, (prompt, text, gap)
            positions += len(t_ids)
            same += int((gap == 0).sum())
            m.reset()
            ours = "".join(m.generate(p_ids, dataclasses.replace(GREEDY, max_tokens=N_TOKENS)))
            assert ours[:8] == text[:8], (prompt, ours, text)
    assert same >= 0.9 * positions, (same, positions)
