"""`parrot bench NAME`: each benchmark is a module with add_arguments(parser) and run(args) -> int."""

from __future__ import annotations

import importlib

BENCHMARKS = {
    "display": "parrot.display.bench",
    "ime": "parrot.ime.bench",
    "llm": "parrot.llm.bench",
    "tts": "parrot.speech.tts_bench",
    "voice": "parrot.speech.bench",
    "soak": "parrot.bench.soak",
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a shipped benchmark and print its figures")
    bsub = p.add_subparsers(dest="bench", metavar="NAME")
    for name, modname in BENCHMARKS.items():
        mod = importlib.import_module(modname)
        bp = bsub.add_parser(name, help=(mod.__doc__ or name).strip().splitlines()[0])
        mod.add_arguments(bp)
        bp.set_defaults(func=mod.run)
