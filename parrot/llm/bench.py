"""LLM speed: prefill and decode tokens/s, load time and peak memory of our engine.

If llama-cpp-python happens to be importable, the same model and prompt are also run through
it (in a fresh interpreter, so its memory is measured on its own) and the ratios printed.
It is a benchmark peer only, never a dependency: it may also live in another environment,
named by $PARROT_PEER_PYTHON (that environment's python).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from parrot.cliargs import int_range
from parrot.errors import UserError

# Mixed Chinese/English text; repeated until it yields --prompt-tokens tokens.
PROMPT_TEXT = (
    "电子鹦鹉是一个离线的语音助手。它用九宫格键盘输入中文，在小小的屏幕上显示回答，"
    "还能把回答读出来。The parrot runs a small language model on a tiny board, "
    "so every byte of memory bandwidth counts. 请用三句话介绍一下你自己，并说明你能做什么。"
)


def add_arguments(p) -> None:
    from parrot.llm.cli import add_model_arguments

    add_model_arguments(p)
    p.add_argument("--prompt-tokens", type=int_range(1, 1 << 20), default=128, help="prompt length for the prefill figure")
    p.add_argument("--gen", type=int_range(1, 1 << 20), default=64, help="tokens decoded for the decode figure")
    p.add_argument("--no-peer", action="store_true", help="skip llama-cpp-python even if installed")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def _max_rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def prompt_ids(tokenize, n_tokens: int) -> list[int]:
    ids: list[int] = []
    text = PROMPT_TEXT
    while len(ids) < n_tokens:
        ids = tokenize(text)
        text += PROMPT_TEXT
    return ids[:n_tokens]


def bench_parrot(path: str, threads: int, ctx: int, n_prompt: int, n_gen: int) -> dict:
    from parrot.llm import Model, ModelError

    t0 = time.perf_counter()
    try:
        model = Model(path, threads=threads, context=ctx)
    except ModelError as e:
        raise UserError(f"{path}: {e}") from e
    load_s = time.perf_counter() - t0
    try:
        ids = prompt_ids(lambda text: model.tokenize(text, special=False), n_prompt)
        # Warm-up: touches every weight page once so the timed runs measure compute, not page faults.
        model.reset()
        model.eval(ids[:8])
        model.reset()

        t0 = time.perf_counter()
        logits = model.eval(ids)
        prefill_s = time.perf_counter() - t0

        token = int(np.argmax(logits[-1]))
        t0 = time.perf_counter()
        for _ in range(n_gen):
            token = int(np.argmax(model.eval([token])[-1]))  # greedy, one token per step
        decode_s = time.perf_counter() - t0

        # The streaming path chat uses (generation thread + sampler), same prompt, greedy.
        import dataclasses

        from parrot.llm import GREEDY

        model.reset()
        for _ in model.generate(ids, dataclasses.replace(GREEDY, max_tokens=n_gen)):
            pass
        stream = model.stats
        name, arch = model.name, model.arch
    finally:
        model.close()
    return {
        "engine": "parrot",
        "model": name,
        "arch": arch,
        "load_s": load_s,
        "prefill_tps": n_prompt / prefill_s,
        "decode_tps": n_gen / decode_s,
        "generate_decode_tps": stream["decode_tps"],
        "generate_decode_tokens": stream["decode_tokens"],
        "max_rss_mb": _max_rss_mb(),
    }


# Runs in a fresh interpreter: argv[1] = JSON {path, threads, ctx, ids, n_gen}; prints JSON.
_PEER_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
from llama_cpp import Llama
a = json.loads(sys.argv[1])
t0 = time.perf_counter()
llm = Llama(model_path=a["path"], n_threads=a["threads"], n_threads_batch=a["threads"],
            n_ctx=a["ctx"], n_batch=512, verbose=False)
load_s = time.perf_counter() - t0
ids = a["ids"]
llm.reset(); llm.eval(ids[:8]); llm.reset()
t0 = time.perf_counter(); llm.eval(ids); prefill_s = time.perf_counter() - t0
token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
t0 = time.perf_counter()
for _ in range(a["n_gen"]):
    llm.eval([token]); token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
decode_s = time.perf_counter() - t0
print(json.dumps({"engine": "llama.cpp", "load_s": load_s, "prefill_tps": len(ids) / prefill_s,
                  "decode_tps": a["n_gen"] / decode_s,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _peer_python() -> str | None:
    """An interpreter that can import llama_cpp: $PARROT_PEER_PYTHON, else this one if it can."""
    import importlib.util

    explicit = os.environ.get("PARROT_PEER_PYTHON")
    if explicit:
        return explicit
    return sys.executable if importlib.util.find_spec("llama_cpp") is not None else None


def bench_peer(path: str, threads: int, ctx: int, ids: list[int], n_gen: int) -> dict | None:
    python = _peer_python()
    if python is None:
        return None
    args = json.dumps({"path": path, "threads": threads, "ctx": ctx, "ids": ids, "n_gen": n_gen})
    try:
        result = subprocess.run([python, "-c", _PEER_SCRIPT, args], capture_output=True, text=True)
    except OSError as e:
        return {"engine": "llama.cpp", "error": f"{python}: {e.strerror}"}
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"engine": "llama.cpp", "error": tail}
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(args) -> int:
    from parrot.llm.models import resolve_model

    path = str(resolve_model(args.model))
    if args.prompt_tokens < 1 or args.gen < 1:
        raise UserError("--prompt-tokens and --gen must be positive")
    ctx = max(args.ctx, args.prompt_tokens + args.gen + 16)
    ours = bench_parrot(path, args.threads, ctx, args.prompt_tokens, args.gen)
    peer = None
    if not args.no_peer:
        from parrot.llm import Model

        with_ids = Model(path, threads=1, context=64)
        try:
            ids = prompt_ids(lambda text: with_ids.tokenize(text, special=False), args.prompt_tokens)
        finally:
            with_ids.close()
        peer = bench_peer(path, args.threads, ctx, ids, args.gen)

    if args.json:
        print(json.dumps({"parrot": ours, "peer": peer}))
        return 0
    print(f"model   {path} ({ours['arch']}, {ours['model']})")
    print(f"setup   threads {args.threads}, prompt {args.prompt_tokens} tokens, decode {args.gen} tokens (greedy)")
    print(f"{'engine':<10} {'load s':>7} {'prefill tok/s':>14} {'decode tok/s':>13} {'max RSS MB':>11}")

    def row(r):
        print(f"{r['engine']:<10} {r['load_s']:7.2f} {r['prefill_tps']:14.1f} {r['decode_tps']:13.1f} {r['max_rss_mb']:11.0f}")

    row(ours)
    print(
        f"{'':<10} generate() streaming path: decode {ours['generate_decode_tps']:.1f} tok/s "
        f"over {ours['generate_decode_tokens']} tokens"
    )
    if peer is None:
        if not args.no_peer:
            print("peer: llama-cpp-python not importable; skipped (install it, or set PARROT_PEER_PYTHON)")
    elif "error" in peer:
        print(f"peer: llama-cpp-python failed: {peer['error']}")
    else:
        row(peer)
        print(
            f"ratio parrot/llama.cpp: prefill {ours['prefill_tps'] / peer['prefill_tps']:.2f}x, "
            f"decode {ours['decode_tps'] / peer['decode_tps']:.2f}x, "
            f"RSS {ours['max_rss_mb'] / peer['max_rss_mb']:.2f}x"
        )
    return 0
