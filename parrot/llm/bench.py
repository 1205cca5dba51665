"""LLM speed side by side with llama.cpp: prefill and decode tokens/s, peak memory, bandwidth.

Our engine and llama.cpp's own `llama-bench` (built from source by `make peer`, never a
dependency; found in --peer-dir, $PARROT_PEER_DIR or build/peer) run the same GGUF with the same
threads, prompt and generation lengths, in alternating runs, each in its own process (so its
peak RSS is its own). Every figure is printed as min / median / max over the runs, and as the
ratio parrot / llama.cpp of the medians. Decode is also put against the memory: weight bytes
read per token and the share of the read bandwidth measured in the same run. `--chat` adds the
chat benchmark (parrot.llm.chatbench): answers that repeat their context, plain decoding
against prompt lookup, greedy text identical.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    p.add_argument("--prompt-tokens", type=int_range(1, 1 << 20), default=64, help="prompt length for the prefill figure")
    p.add_argument("--gen", type=int_range(1, 1 << 20), default=64, help="tokens decoded for the decode figure")
    p.add_argument("--runs", type=int_range(1, 1000), default=3, help="alternating runs of each engine (default 3)")
    p.add_argument("--peer-dir", default=os.environ.get("PARROT_PEER_DIR", "build/peer"),
                   help="where `make peer` put llama.cpp (bin/llama-bench)")
    p.add_argument("--no-peer", action="store_true", help="our engine only")
    p.add_argument("--peer-passive", action="store_true",
                   help="run llama.cpp with OMP_WAIT_POLICY=PASSIVE: its OpenMP threads sleep instead of "
                        "spinning, which it needs on a machine shared with other work")
    p.add_argument("--kernels", help="integer kernel set of our engine (default: the fastest this CPU runs)")
    p.add_argument("--chat", action="store_true", help="also the chat benchmark, plain vs prompt lookup")
    p.add_argument("--lookup", type=int_range(1, 64), default=8, help="prompt lookup: most draft tokens per pass")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def prompt_ids(tokenize, n_tokens: int) -> list[int]:
    ids: list[int] = []
    text = PROMPT_TEXT
    while len(ids) < n_tokens:
        ids = tokenize(text)
        text += PROMPT_TEXT
    return ids[:n_tokens]


# ---------------------------------------------------------------------- child processes

def run_child(cmd: list[str], timeout: float = 900, env: dict | None = None) -> dict:
    """Runs cmd; returns rc (negative: killed by that signal), stdout, stderr and its peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        except OSError as e:
            return {"rc": 127, "stdout": "", "stderr": f"{cmd[0]}: {e.strerror}", "max_rss_mb": 0.0}
        deadline = time.monotonic() + timeout
        while True:  # wait4 (not Popen.wait) to get this child's own rusage
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"rc": proc.returncode, "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"), "max_rss_mb": usage.ru_maxrss / 1024}


def failure(r: dict) -> str:
    """One line on why a child failed: its signal or exit status, and the end of its stderr."""
    if r["rc"] < 0:
        try:
            why = f"killed by {signal.Signals(-r['rc']).name} (signal {-r['rc']})"
        except ValueError:
            why = f"killed by signal {-r['rc']}"
    else:
        why = f"exit status {r['rc']}"
    tail = " | ".join(line for line in r["stderr"].strip().splitlines()[-3:] if line.strip())
    return f"{why}; stderr: {tail or '(empty)'}"


def bench_parrot(path: str, threads: int, n_prompt: int, n_gen: int, kernels: str | None) -> dict:
    """Like llama-bench: prefill of n_prompt tokens from an empty cache, then n_gen single-token
    steps from an empty cache; one warm-up pass first."""
    from parrot.llm import Model, ModelError

    t0 = time.perf_counter()
    try:
        model = Model(path, threads=threads, context=max(n_prompt, n_gen) + 16, kernels=kernels)
    except ModelError as e:
        raise UserError(f"{path}: {e}") from e
    load_s = time.perf_counter() - t0
    try:
        ids = prompt_ids(lambda text: model.tokenize(text, special=False), n_prompt)
        model.eval(ids[:8])  # touches every weight page once
        model.reset()
        t0 = time.perf_counter()
        logits = model.eval(ids, last_only=True)  # like llama-bench: logits of the last position
        prefill_s = time.perf_counter() - t0
        model.reset()
        token = int(np.argmax(logits[-1]))
        t0 = time.perf_counter()
        for _ in range(n_gen):
            token = int(np.argmax(model.eval([token])[-1]))  # greedy, one token per step
        decode_s = time.perf_counter() - t0
        info = model.info
    finally:
        model.close()
    return {"engine": "parrot", "model": info["name"], "arch": info["arch"], "kernels": info["kernels"],
            "weight_bytes_per_token": info["weight_bytes_per_token"], "load_s": load_s,
            "prefill_tps": n_prompt / prefill_s, "decode_tps": n_gen / decode_s}


def parrot_run(path: str, threads: int, n_prompt: int, n_gen: int, kernels: str | None) -> dict:
    args = json.dumps({"path": path, "threads": threads, "n_prompt": n_prompt, "n_gen": n_gen, "kernels": kernels})
    r = run_child([sys.executable, "-m", "parrot.llm.bench", args])
    if r["rc"] != 0:
        raise UserError(f"parrot bench run failed: {failure(r)}")
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    res["max_rss_mb"] = r["max_rss_mb"]
    return res


def find_peer(peer_dir: str) -> Path | None:
    for cand in (Path(peer_dir) / "bin" / "llama-bench", Path(peer_dir) / "build" / "bin" / "llama-bench"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def peer_run(exe: Path, path: str, threads: int, n_prompt: int, n_gen: int, passive: bool = False) -> dict:
    cmd = [str(exe), "-m", path, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen), "-r", "1", "-o", "json"]
    r = run_child(cmd, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE") if passive else None)
    if r["rc"] != 0:
        return {"engine": "llama.cpp", "error": failure(r)}
    try:
        rows = json.loads(r["stdout"])
        pp = next(x["avg_ts"] for x in rows if x["n_prompt"] == n_prompt and x["n_gen"] == 0)
        tg = next(x["avg_ts"] for x in rows if x["n_gen"] == n_gen and x["n_prompt"] == 0)
    except (ValueError, KeyError, StopIteration, TypeError):
        return {"engine": "llama.cpp", "error": f"unreadable llama-bench output: {r['stdout'][-200:]!r}"}
    return {"engine": "llama.cpp", "prefill_tps": pp, "decode_tps": tg, "max_rss_mb": r["max_rss_mb"]}


def read_bandwidth_gbs(threads: int, mb: int = 256) -> float:
    """Best of 5 passes reading a buffer larger than the caches, split over `threads` threads
    (integer max: the cheapest reduction numpy vectorizes, so memory is the limit, not adds)."""
    from concurrent.futures import ThreadPoolExecutor

    a = np.ones(mb * 1024 * 1024 // 8, dtype=np.int64)
    parts = np.array_split(a, max(1, threads))
    best = float("inf")
    with ThreadPoolExecutor(max(1, threads)) as ex:
        for _ in range(5):
            t0 = time.perf_counter()
            list(ex.map(np.max, parts))
            best = min(best, time.perf_counter() - t0)
    return a.nbytes / best / 1e9


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


# ---------------------------------------------------------------------- the command

def run(args) -> int:
    from parrot.llm.models import resolve_model

    path = str(resolve_model(args.model))
    if args.prompt_tokens < 1 or args.gen < 1 or args.runs < 1:
        raise UserError("--prompt-tokens, --gen and --runs must be positive")
    peer_exe = None if args.no_peer else find_peer(args.peer_dir)
    load = os.getloadavg()[0]
    ours: list[dict] = []
    peer: list[dict] = []
    peer_error = None
    for _ in range(args.runs):  # alternating, so a change in the machine's load hits both
        ours.append(parrot_run(path, args.threads, args.prompt_tokens, args.gen, args.kernels))
        if peer_exe and not peer_error:
            p = peer_run(peer_exe, path, args.threads, args.prompt_tokens, args.gen, args.peer_passive)
            if "error" in p:
                peer_error = p["error"]
            else:
                peer.append(p)
    bw = read_bandwidth_gbs(args.threads)
    chat = None
    if args.chat:
        from parrot.llm.chatbench import run_in_child

        chat = run_in_child(path, args.threads, args.lookup, args.kernels)

    keys = ("prefill_tps", "decode_tps", "max_rss_mb")
    result = {
        "model": path, "threads": args.threads, "prompt_tokens": args.prompt_tokens, "gen": args.gen,
        "runs": args.runs, "load_average": load, "read_bandwidth_gbs": bw, "peer_passive": args.peer_passive,
        "parrot": {k: spread([r[k] for r in ours]) for k in keys},
        "parrot_info": {k: ours[0][k] for k in ("model", "arch", "kernels", "weight_bytes_per_token")},
        "peer": {k: spread([r[k] for r in peer]) for k in keys} if peer else None,
        "peer_error": peer_error,
        "chat": chat,
    }
    dec = result["parrot"]["decode_tps"]["median"]
    result["decode_bandwidth_share"] = dec * ours[0]["weight_bytes_per_token"] / (bw * 1e9)
    if args.json:
        print(json.dumps(result))
        return 0
    print_report(result, peer_exe, args)
    return 0


def print_report(r: dict, peer_exe, args) -> None:
    info = r["parrot_info"]
    print(f"model   {r['model']} ({info['arch']}, {info['model']}), kernels {info['kernels']}")
    print(f"setup   threads {r['threads']}, prompt {r['prompt_tokens']} tokens, decode {r['gen']} tokens, "
          f"{r['runs']} alternating runs, load average {r['load_average']:.1f} at start"
          + (", llama.cpp with OMP_WAIT_POLICY=PASSIVE" if r["peer_passive"] else ""))

    def fmt(s):
        return f"{s['min']:7.1f} {s['median']:7.1f} {s['max']:7.1f}"

    names = {"prefill_tps": "prefill tok/s", "decode_tps": "decode tok/s", "max_rss_mb": "peak RSS MB"}
    head = f"{'':15} {'parrot min / median / max':>26}"
    if r["peer"]:
        head += f"   {'llama.cpp min / median / max':>29}   parrot/llama.cpp (median; min..max)"
    print(head)
    for k, name in names.items():
        line = f"{name:15} {fmt(r['parrot'][k]):>26}"
        if r["peer"]:
            p, q = r["parrot"][k], r["peer"][k]
            line += (f"   {fmt(q):>29}   {p['median'] / q['median']:.2f}x "
                     f"({p['min'] / q['max']:.2f}..{p['max'] / q['min']:.2f})")
        print(line)
    wb = info["weight_bytes_per_token"]
    dec = r["parrot"]["decode_tps"]["median"]
    print(f"memory  {wb / 1e6:.0f} MB of weights read per decoded token; read bandwidth measured now "
          f"{r['read_bandwidth_gbs']:.1f} GB/s ({r['threads']} threads): decode uses "
          f"{dec * wb / 1e9:.1f} GB/s = {100 * r['decode_bandwidth_share']:.0f}% of it")
    if args.no_peer:
        pass
    elif peer_exe is None:
        print(f"peer: llama-bench not found in {args.peer_dir} (build it: make peer PEER_DIR=...)")
    elif r["peer_error"]:
        print(f"peer: llama-bench failed: {r['peer_error']}")
    if r["chat"]:
        from parrot.llm.chatbench import print_chat

        print_chat(r["chat"], r["peer"]["decode_tps"]["median"] if r["peer"] else None)


def _worker(argv: list[str]) -> None:
    a = json.loads(argv[0])
    print(json.dumps(bench_parrot(a["path"], a["threads"], a["n_prompt"], a["n_gen"], a["kernels"])))


def _peer_python() -> str | None:
    """An interpreter that can import llama_cpp (the Python binding, for the reference tests):
    $PARROT_PEER_PYTHON, else this one if it can."""
    import importlib.util

    explicit = os.environ.get("PARROT_PEER_PYTHON")
    if explicit:
        return explicit
    return sys.executable if importlib.util.find_spec("llama_cpp") is not None else None


if __name__ == "__main__":
    _worker(sys.argv[1:])
