"""The low-bit files board users download (issue 14), made by llama.cpp's own llama-quantize from
the registry Qwen2.5-Coder-0.5B (`make test-quants`): each answers a simple question, and its
greedy text equals llama.cpp's (llama-completion, from `make peer`) on the same file and prompt.
Slow: real 400 MB models; skipped when the files or llama.cpp are not built."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
NEAR_TIE = 0.5  # logits; the largest measured was 0.2 (Q2_K file), the f32 path gives the same


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


def follow_text(m: Model, prompt_ids: list[int], text: bytes, pieces: dict[bytes, list[int]]):
    """Feeds llama.cpp's continuation back to our engine: at each step, of the tokens that spell
    the next bytes of its text, the one our engine rates highest (the text is compared, not
    token ids, which llama-completion does not print and a re-tokenization could split
    differently). Returns, per step, how far that token's logit is below our top one (0: our
    greedy choice writes the same text)."""
    m.reset()
    logits = m.eval(prompt_ids)[-1]
    gaps, pos = [], 0
    longest = max(map(len, pieces))
    while pos < len(text):
        cands = [i for n in range(1, min(longest, len(text) - pos) + 1) for i in pieces.get(text[pos:pos + n], ())]
        if not cands:
            break
        best = max(cands, key=lambda i: logits[i])
        gaps.append(float(logits.max() - logits[best]))
        pos += len(m._c.detokenize([best]))
        logits = m.eval([best])[-1]
    return gaps, pos == len(text)


@pytest.mark.parametrize("name", FILES)
def test_greedy_text_matches_llama_cpp(name):
    """llama.cpp's greedy continuation (same file, same prompt), followed by our engine: at
    every step its text is our top token's, or within a near tie of it. The engines round
    activations to 8 bits differently (llama.cpp per 256 for K types) and sum in other orders,
    so logits a few tenths apart may order either way and the free-running texts then part."""
    path, exe = quant_file(name), llama_completion()
    steps = same = 0
    with Model(path, threads=2, context=256) as m:
        pieces: dict[bytes, list[int]] = {}
        for i in range(m.n_vocab):
            pieces.setdefault(m._c.detokenize([i]), []).append(i)
        pieces.pop(b"", None)
        for prompt in PROMPTS:
            text = theirs(exe, path, prompt)
            gaps, whole = follow_text(m, m.tokenize(prompt), text.encode(), pieces)
            assert whole and len(gaps) >= N_TOKENS // 2, (prompt, text, gaps)
            print(name, repr(prompt), repr(text), "gaps:", [round(g, 3) for g in gaps if g > 0])
            assert max(gaps) < NEAR_TIE, (prompt, text, gaps)
            steps += len(gaps)
            same += sum(g == 0 for g in gaps)
    assert same >= 0.8 * steps, (same, steps)
