"""`parrot chat` and `parrot bench llm` on the tiny converted models."""

from __future__ import annotations

import builtins
import json
import sys

import numpy as np
import pytest

import llm_tiny
from parrot.cli import main

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def engine():
    from parrot.llm import Model  # the engine is built: failing to import it is a failure

    return Model


def _transformers_greedy_chat(arch: str, text: str, max_tokens: int) -> str:
    """The answer transformers gives (greedy) to one user message laid out by the model's own
    chat template (the one its GGUF carries), without thinking as the presets ask."""
    tok = llm_tiny.tiny_hf_tokenizer(arch)
    model = llm_tiny.tiny_reference(arch)
    messages = [{"role": "user", "content": text}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, enable_thinking=False)
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    stops = {tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")}
    answer = []
    for _ in range(max_tokens):
        with torch.no_grad():
            token = int(model(torch.tensor([ids + answer])).logits[0, -1].argmax())
        if token in stops:
            break
        answer.append(token)
    # Random tiny models may pick the padding ids past the tokenizer; GGUF names them [PADn].
    pieces, run = [], []
    for token in answer + [None]:
        if token is None or token >= len(tok):
            pieces.append(tok.decode(run))
            run = []
            if token is not None:
                pieces.append(f"[PAD{token}]")
        else:
            run.append(token)
    return "".join(pieces)


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_chat_prompt_streams_the_greedy_answer(engine, arch, capsys):
    text = "你好 parrot"
    rc = main(["chat", "--model", str(llm_tiny.tiny_gguf(arch, "f32")), "--temp", "0", "--max-tokens", "10", text])
    out = capsys.readouterr().out
    assert rc == 0
    assert out == _transformers_greedy_chat(arch, text, 10) + "\n"


def test_chat_repl_survives_ctrl_c_and_keeps_going(engine, monkeypatch, capsys):
    """Ctrl-C during an answer aborts that answer; the next prompt is answered; EOF quits."""
    prompts = iter(["first question", "second question"])

    def fake_input(prompt=""):
        try:
            return next(prompts)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr(builtins, "input", fake_input)
    real_write = sys.stdout.write
    writes = {"n": 0}

    class InterruptingStdout:
        def write(self, s):
            writes["n"] += 1
            if writes["n"] == 2:  # the user presses Ctrl-C while the first answer streams
                raise KeyboardInterrupt
            return real_write(s)

        def flush(self):
            sys.__stdout__.flush()

    monkeypatch.setattr(sys, "stdout", InterruptingStdout())
    path = llm_tiny.tiny_gguf("qwen2", "f32")
    rc = main(["chat", "--model", str(path), "--temp", "0", "--max-tokens", "6"])
    monkeypatch.undo()
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("[aborted]") == 1
    assert writes["n"] > 4  # the second answer was streamed after the abort


def test_chat_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))
    assert main(["chat", "--model", "smollm2-135m", "hi"]) == 1
    err = capsys.readouterr().err
    assert "not pulled yet" in err and err.count("\n") == 1
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    assert main(["chat", "--model", str(bad), "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("parrot: ") and err.count("\n") == 1 and "Traceback" not in err


def test_bench_llm_reports_figures(engine, capsys, tmp_path):
    path = llm_tiny.tiny_gguf("qwen3", "q8_0")
    argv = ["bench", "llm", "--model", str(path), "--threads", "2", "--prompt-tokens", "24", "--gen", "8",
            "--runs", "2", "--peer-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["parrot_info"]["arch"] == "qwen3" and figures["peer"] is None
    for key in ("prefill_tps", "decode_tps", "max_rss_mb"):
        s = figures["parrot"][key]
        assert 0 < s["min"] <= s["median"] <= s["max"] and np.isfinite(s["max"]), key
    assert figures["parrot_info"]["weight_bytes_per_token"] > 0 and figures["read_bandwidth_gbs"] > 0
    assert main(argv[:-1] + ["--no-peer"]) == 0
    text = capsys.readouterr().out
    assert "prefill tok/s" in text and "parrot" in text and "of weights read per decoded token" in text


FAKE_PEER = """#!/bin/sh
echo "ggml: illegal instruction in the matmul kernel" >&2
kill -{sig} $$
"""


def fake_peer(tmp_path, body):
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "llama-bench"
    exe.write_text(body)
    exe.chmod(0o755)


def test_bench_llm_reports_a_crashed_peer_with_its_signal_and_stderr(engine, capsys, tmp_path):
    fake_peer(tmp_path, FAKE_PEER.format(sig="SEGV"))
    path = llm_tiny.tiny_gguf("llama", "q8_0")
    argv = ["bench", "llm", "--model", str(path), "--prompt-tokens", "8", "--gen", "2", "--runs", "1",
            "--peer-dir", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "peer: llama-bench failed: killed by SIGSEGV (signal 11)" in out
    assert "illegal instruction in the matmul kernel" in out


def test_bench_llm_against_a_peer_prints_ratios(engine, capsys, tmp_path):
    """A stand-in llama-bench printing llama-bench's JSON: the ratios are parrot / peer."""
    rows = [{"n_prompt": 8, "n_gen": 0, "avg_ts": 1.0e6}, {"n_prompt": 0, "n_gen": 2, "avg_ts": 2.0e6}]
    fake_peer(tmp_path, "#!/bin/sh\ncat <<'EOF'\n" + json.dumps(rows) + "\nEOF\n")
    path = llm_tiny.tiny_gguf("llama", "q8_0")
    argv = ["bench", "llm", "--model", str(path), "--prompt-tokens", "8", "--gen", "2", "--runs", "2",
            "--peer-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["peer"]["prefill_tps"]["median"] == 1.0e6 and figures["peer"]["decode_tps"]["max"] == 2.0e6
    assert main(argv[:-1]) == 0
    out = capsys.readouterr().out
    assert "llama.cpp min / median / max" in out and "parrot/llama.cpp" in out
