"""Simulator scripts: what the simulated user does, step by step.

Script file (one step a line; a line starting with `#` is a comment — `#` is also a key,
so there are no trailing comments):

    press 6 4 4 2 6      short presses (key down 80 ms, then 120 ms before the next)
    type 64426D          the same, one character per key
    long 0               long press (held 700 ms)
    hold A 1.5           hold a key for N seconds
    wait 0.5             let N seconds of simulated time pass
    wait-for llm-done 300    until the current answer has finished (real-time limit, seconds)
    wait-for screen chat     until that screen is shown
    snap NAME            save the current frame as NAME.png (needs --frames DIR)

`--keys` is the compact form: each character is a key press, `+X` a long press of X,
`_` half a second of waiting, `!` wait for the answer to finish; spaces are ignored.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass

from parrot.errors import UserError
from parrot.keys import Key

PRESS_S = 0.08
GAP_S = 0.12
LONG_S = 0.7
MAX_SECONDS = 24 * 3600.0  # longer than any session: a typo, not a plan
# a snap name is one plain file name (it lands in --frames DIR, never outside it)
SNAP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class Hold:
    key: Key
    seconds: float


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class WaitFor:
    what: str  # "llm-done" or "screen"
    arg: str = ""
    timeout_s: float = 300.0


@dataclass(frozen=True)
class Snap:
    name: str


Step = Hold | Wait | WaitFor | Snap


def _key(label: str, where: str) -> Key:
    try:
        return Key.from_label(label)
    except ValueError as e:
        raise UserError(f"{where}: {e}") from None


def _seconds(text: str, where: str, positive: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0) or value > MAX_SECONDS:
        low = "above 0" if positive else "from 0"
        raise UserError(f"{where}: {text!r} seconds is out of range (a finite number {low} to {MAX_SECONDS:g})")
    return value


def _snap_name(name: str, where: str) -> str:
    if not SNAP_NAME.fullmatch(name) or ".." in name:
        raise UserError(f"{where}: snap name {name!r} must be a plain file name (letters, digits, _ . -), no folders")
    return name


def _presses(labels: str, where: str) -> list[Step]:
    steps: list[Step] = []
    for label in labels:
        steps += [Hold(_key(label, where), PRESS_S), Wait(GAP_S)]
    return steps


def parse_keys(spec: str) -> list[Step]:
    steps: list[Step] = []
    chars = iter(spec.replace(" ", ""))
    for c in chars:
        if c == "+":
            label = next(chars, None)
            if label is None:
                raise UserError("--keys: '+' must be followed by a key")
            steps += [Hold(_key(label, "--keys"), LONG_S), Wait(GAP_S)]
        elif c == "_":
            steps.append(Wait(0.5))
        elif c == "!":
            steps.append(WaitFor("llm-done"))
        else:
            steps += _presses(c, "--keys")
    return steps


def parse_script(text: str, name: str = "script") -> list[Step]:
    steps: list[Step] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):  # whole-line comments only: '#' is also a key
            continue
        where = f"{name}:{lineno}"
        try:
            words = shlex.split(line, comments=False)
        except ValueError as e:
            raise UserError(f"{where}: {e}") from None
        cmd, args = words[0].lower(), words[1:]
        try:
            if cmd == "press":
                for a in args:
                    steps += _presses(a, where)
            elif cmd == "type":
                steps += _presses("".join(args), where)
            elif cmd == "long" and len(args) == 1:
                steps += [Hold(_key(args[0], where), LONG_S), Wait(GAP_S)]
            elif cmd == "hold" and len(args) == 2:
                steps += [Hold(_key(args[0], where), _seconds(args[1], where, positive=True)), Wait(GAP_S)]
            elif cmd == "wait" and len(args) == 1:
                steps.append(Wait(_seconds(args[0], where)))
            elif cmd == "wait-for" and args and args[0] == "llm-done" and len(args) <= 2:
                steps.append(WaitFor("llm-done", timeout_s=_seconds(args[1], where) if len(args) == 2 else 300.0))
            elif cmd == "wait-for" and len(args) in (2, 3) and args[0] == "screen":
                steps.append(WaitFor("screen", args[1], _seconds(args[2], where) if len(args) == 3 else 30.0))
            elif cmd == "snap" and len(args) == 1:
                steps.append(Snap(_snap_name(args[0], where)))
            else:
                raise UserError(f"{where}: cannot understand {line!r} (see `parrot sim --help`)")
        except ValueError as e:
            raise UserError(f"{where}: {e}") from None
    return steps
