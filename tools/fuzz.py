"""`make fuzz`: the fuzz targets of tests/fuzz_targets.py for minutes instead of seconds.

Each target runs in a worker process (so a segfault or an abort is caught too) for its share
of the time. Before each input the worker writes it to a file; when the worker dies, the
parent keeps that file as a regression. Inputs that raise anything but the promised
UserError are saved by the worker itself. Regressions land in
tests/data/fuzz/regressions/<target>/ and tests/test_fuzz.py replays them on every run.

    python tools/fuzz.py --minutes 10            # all targets, 2 minutes each
    python tools/fuzz.py --minutes 2 --target gguf
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import fuzz_targets as ft  # noqa: E402


def save_regression(target: str, data: bytes, why: str) -> Path:
    folder = ft.REGRESSIONS / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{hashlib.sha1(data).hexdigest()[:12]}.{'gguf' if target == 'gguf' else 'bin'}"
    path.write_bytes(data)
    (folder / (path.name + ".txt")).write_text(why.strip()[:2000] + "\n", "utf-8")
    return path


def worker(target: str, seed: int, seconds: float, current: Path) -> int:
    deadline = time.monotonic() + seconds
    count = found = 0

    def on_input(data: bytes) -> None:
        nonlocal count
        count += 1
        with open(current, "wb") as f:
            f.write(data)

    batch_seed = seed
    kinds: dict[str, int] = {}  # one bug tends to be found thousands of times: keep a few
    while time.monotonic() < deadline:
        for data, problem in ft.fuzz(target, 200, batch_seed, on_input=on_input):
            found += 1
            kind = problem[:48]
            kinds[kind] = kinds.get(kind, 0) + 1
            if kinds[kind] <= 3:
                path = save_regression(target, data, problem)
                print(f"  {target}: {problem} -> {path}", file=sys.stderr, flush=True)
        batch_seed += 1_000_003
    print(json.dumps({"inputs": count, "findings": found}), flush=True)
    return 0


def run_target(target: str, seconds: float, seed: int) -> dict:
    totals = {"inputs": 0, "findings": 0, "crashes": 0}
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory(prefix="parrot-fuzz-") as tmp:
        current = Path(tmp) / "current.bin"
        while (left := deadline - time.monotonic()) > 1:
            proc = subprocess.run([sys.executable, __file__, "--worker", target, "--seed", str(seed),
                                   "--seconds", f"{left:.1f}", "--current", str(current)],
                                  stdout=subprocess.PIPE, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode == 0 and lines:
                result = json.loads(lines[-1])
                totals["inputs"] += result["inputs"]
                totals["findings"] += result["findings"]
                break
            # the worker died on an input: keep it, then go on with other inputs
            totals["crashes"] += 1
            data = current.read_bytes() if current.exists() else b""
            path = save_regression(target, data, f"worker died with status {proc.returncode}")
            print(f"  {target}: CRASH (status {proc.returncode}) -> {path}", file=sys.stderr, flush=True)
            seed += 7919
    return totals


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="total time, shared by the targets (default 10)")
    p.add_argument("--target", action="append", choices=sorted(ft.TARGETS), help="only these (repeatable)")
    p.add_argument("--seed", type=int, default=int(time.time()), help="RNG seed (default: the time; printed)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--current", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.seed, args.seconds, args.current)
    targets = args.target or sorted(ft.TARGETS)
    share = args.minutes * 60 / len(targets)
    print(f"fuzzing {', '.join(targets)} for {args.minutes:g} min (seed {args.seed})", flush=True)
    grand = {"inputs": 0, "findings": 0, "crashes": 0}
    for name in targets:
        started = time.monotonic()
        totals = run_target(name, share, args.seed)
        for k in grand:
            grand[k] += totals[k]
        print(f"{name:10s} {totals['inputs']:8d} inputs  {totals['findings']} findings  {totals['crashes']} crashes  "
              f"({time.monotonic() - started:.0f} s)", flush=True)
    print(f"total      {grand['inputs']:8d} inputs  {grand['findings']} findings  {grand['crashes']} crashes")
    return 1 if grand["findings"] or grand["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
