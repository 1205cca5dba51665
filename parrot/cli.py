"""The `parrot` console script. Each part of the appliance adds its own subcommands.

A part that has commands ships a module with `register(subparsers)`; every subcommand
sets `func(args) -> int`. Errors the user can act on are raised as `parrot.errors.UserError`
and printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from parrot import lifecycle
from parrot.errors import UserError

# Parts that contribute subcommands (module must define register(subparsers)).
COMMAND_MODULES = [
    "parrot.app.cli",  # sim, run, render, config
    "parrot.keypad.cli",  # keypad, battery (hardware bring-up)
    "parrot.bench.cli",  # bench display|ime|llm
    "parrot.ime.cli",  # ime keys|eval
    "parrot.llm.cli",  # chat, convert, models
    "parrot.speech.tts_cli",  # say, tts pull
    "parrot.speech.cli",  # listen, doctor
    "parrot.app.web_cli",  # web
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parrot", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        # Every part is built: a missing one is a broken install, said as such (not skipped).
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ImportError as e:  # a part of the appliance is missing: a broken install, said plainly
        print(f"parrot: broken install: cannot load {e.name or e} ({e}); reinstall parrot", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # SIGTERM/SIGHUP unwind like Ctrl-C: finally blocks run, then the registered cleanups
    old_handlers = lifecycle.install_signal_handlers()
    signaled = False
    try:
        return _run(args)
    except lifecycle.Terminated as e:
        signaled = True
        logging.getLogger("parrot").info("%s", e)
        return int(e.code)
    except KeyboardInterrupt:
        signaled = True
        return 130
    finally:
        lifecycle.run_cleanups(signaled)
        lifecycle.restore_signal_handlers(old_handlers)


def _run(args) -> int:
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"parrot: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a file we could not read or write, a full disk, a missing device
        where = f"{e.filename}: " if e.filename else ""
        print(f"parrot: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: one line for the user, the traceback with -v
        logging.getLogger("parrot").debug("internal error", exc_info=True)
        print(f"parrot: internal error: {type(e).__name__}: {e} (run with -v for the traceback)", file=sys.stderr)
        return 70
