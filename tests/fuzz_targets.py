"""Fuzz targets for parrot's inputs from outside: GGUF files (through the real C loader),
tokenizer text (any bytes), config files, sim scripts and keypad byte streams from the bus.

Each target takes bytes and either accepts them or refuses them with the error the product
promises for bad input (a UserError, one line); anything else - another exception, a broken
invariant, or the process dying - is a finding. Mutations are blind but structure-aware where
it pays: GGUF inputs get their count, length, dimension, type and offset fields set to
boundary values (located with the `gguf` reader in the seed files).

Used by tests/test_fuzz.py (bounded, fixed RNG seeds, plus every saved regression) and by
tools/fuzz.py (`make fuzz`: long runs in worker processes, findings saved as regressions).
"""
from __future__ import annotations

import math
import os
import random
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from parrot.errors import UserError

DATA = Path(__file__).parent / "data" / "fuzz"
SEEDS = DATA / "seeds"
REGRESSIONS = DATA / "regressions"


class Finding(Exception):
    """The target misbehaved on this input (the message says how)."""


# ------------------------------------------------------------------------------ mutations

INTERESTING_INTS = [0, 1, 2, 7, 8, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 4096, 65535, 65536,
                    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


def _pack_int(value: int, size: int) -> bytes:
    return (value % (1 << (8 * size))).to_bytes(size, "little")


@dataclass
class Mutator:
    tokens: list[bytes] = field(default_factory=list)  # dictionary of meaningful pieces
    slots: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)  # seed -> integer fields

    def mutate(self, rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
        buf = bytearray(data)
        slots = self.slots.get(data, [])
        for _ in range(rng.choice((1, 1, 2, 3, 5))):
            op = rng.randrange(9 if slots else 8)
            n = len(buf)
            if op == 0 and n:  # flip a bit
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
            elif op == 1 and n:  # an interesting byte
                buf[rng.randrange(n)] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0x0A, 0x22, 0x5B))
            elif op == 2 and self.tokens:  # insert a dictionary token
                i = rng.randrange(n + 1)
                buf[i:i] = rng.choice(self.tokens) * rng.choice((1, 1, 1, 2, 50))
            elif op == 3 and n:  # delete a chunk
                i = rng.randrange(n)
                del buf[i:i + rng.randint(1, max(1, min(64, n - i)))]
            elif op == 4 and n:  # duplicate a chunk
                i = rng.randrange(n)
                j = min(n, i + rng.randint(1, 64))
                buf[i:i] = buf[i:j]
            elif op == 5 and n:  # truncate
                del buf[rng.randrange(n):]
            elif op == 6 and corpus:  # splice with another input
                other = rng.choice(corpus)
                if other:
                    cut = rng.randrange(len(buf) + 1)
                    buf[cut:] = other[rng.randrange(len(other)):]
            elif op == 7 and n >= 4:  # an interesting integer anywhere
                size = rng.choice((1, 2, 4, 8))
                i = rng.randrange(max(1, n - size))
                buf[i:i + size] = _pack_int(rng.choice(INTERESTING_INTS), size)
            elif op == 8:  # an interesting value in a structural integer field of the seed
                off, size = rng.choice(slots)
                if off + size <= len(buf):
                    old = int.from_bytes(buf[off:off + size], "little")
                    value = rng.choice(INTERESTING_INTS + [old + 1, old - 1, old * 2, old + 4096, rng.getrandbits(8 * size)])
                    buf[off:off + size] = _pack_int(value, size)
        return bytes(buf)


# ------------------------------------------------------------------------------ targets


@dataclass
class Target:
    name: str
    check: Callable[[bytes], None]  # raises Finding; other exceptions are findings too
    mutator: Mutator
    seeds: Callable[[], list[bytes]]


def _seed_files(name: str) -> list[bytes]:
    folder = SEEDS / name
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()] if folder.is_dir() else []


def _tmp_file(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(prefix="parrot-fuzz-", suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


# --- GGUF through the real loader


def gguf_slots(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every integer in the header, KV and tensor-info sections."""
    import gguf
    import numpy as np

    path = _tmp_file(data, ".gguf")
    try:
        reader = gguf.GGUFReader(path)
        base = reader.data.__array_interface__["data"][0]
        slots = [(0, 4), (4, 4), (8, 8), (16, 8)]  # magic, version, n_tensors, n_kv
        fields = list(reader.fields.values()) + [t.field for t in reader.tensors]
        for f in fields:
            for part in f.parts:
                if part.dtype.kind in "iu" and part.dtype.itemsize >= 2:
                    off = part.__array_interface__["data"][0] - base
                    slots += [(off + k * part.dtype.itemsize, part.dtype.itemsize) for k in range(min(part.size, 8))]
        del reader
        return sorted(set(s for s in slots if s[0] >= 0 and s[0] + s[1] <= len(data) and np.isfinite(s[0])))
    finally:
        os.unlink(path)


def _inspect_verdict(path: str) -> bool | None:
    """`parrot models inspect`'s verdict (runs or not), None when it refuses the file; it must
    never fail otherwise, and it must agree with the loader (checked by the caller)."""
    from parrot.llm.gguf_info import inspect_path

    try:
        return inspect_path(path).runnable
    except UserError as e:
        if not str(e) or not str(e).isprintable() or "\n" in str(e):
            raise Finding(f"inspect's error is not one printable line: {str(e)!r}") from None
        return None


def check_gguf(data: bytes) -> None:
    from parrot.llm import Model

    path = _tmp_file(data, ".gguf")
    try:
        runs = _inspect_verdict(path)
        try:
            model = Model(path, threads=1, context=32)
        except UserError as e:  # refused with a one-line message: what a corrupt file must get
            if not str(e) or not str(e).isprintable():
                raise Finding(f"the error is not one printable line: {str(e)!r}") from None
            if runs:
                raise Finding(f"inspect says the file runs, the loader refuses it: {e}") from None
            return
        if not runs and model.has_tokenizer:
            model.close()
            raise Finding(f"inspect says {'the file does not run' if runs is False else 'it cannot read the file'}, "
                          "the loader takes it")
        try:
            ids = model.tokenize("hi") if model.has_tokenizer else [0]
            ids = [i for i in ids if 0 <= i < model.n_vocab] or [0]
            try:
                logits = model.eval(ids[:4])
            except UserError:
                return
            if logits.shape[-1] != model.n_vocab:
                raise Finding(f"eval returned {logits.shape} logits for a vocabulary of {model.n_vocab}")
        finally:
            model.close()
    finally:
        os.unlink(path)


# --- tokenizer: any bytes

_TOKENIZER_MODEL = None


def tokenizer_model():
    global _TOKENIZER_MODEL
    if _TOKENIZER_MODEL is None:
        from parrot.llm import Model

        seed = sorted((SEEDS / "gguf").glob("*.gguf"))[0]
        _TOKENIZER_MODEL = Model(str(seed), threads=1, context=32)
    return _TOKENIZER_MODEL


def check_tokenizer(data: bytes) -> None:
    model = tokenizer_model()
    text = data.decode("utf-8", "replace")
    ids = model.tokenize(text, special=False)
    if any(not 0 <= i < model.n_vocab for i in ids):
        raise Finding(f"token id out of the vocabulary: {ids}")
    back = model.detokenize(ids)
    if back != text:  # byte-level BPE: every text comes back exactly
        raise Finding(f"round trip changed the text: {text!r} -> {back!r}")
    model.tokenize(text, special=True)  # special tokens parsed: no crash
    raw = data.decode("utf-8", "surrogateescape")  # undecodable bytes as Python hands them over
    try:
        model.tokenize(raw, special=False)
    except (UnicodeEncodeError, ValueError, UserError):
        pass


# --- config files


def check_config(data: bytes) -> None:
    from parrot.config import load_config

    path = _tmp_file(data, ".toml")
    try:
        try:
            cfg = load_config(path)
        except UserError as e:
            if "\n" in str(e).strip() or not str(e):
                raise Finding(f"config error is not one line: {e!r}") from None
            return
        for section, values in cfg.as_dict().items():
            for key, value in values.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise Finding(f"config accepted {section}.{key} = {value}")
    finally:
        os.unlink(path)


# --- the user dictionary file


def check_user_dictionary(data: bytes) -> None:
    """Any file loads (never an exception), and whatever it had that was not kept is in a
    `.corrupt-` copy identical to the original: nothing learned is lost."""
    from parrot.ime.dictionary import UserDictionary
    from parrot.storage import release_data_dir

    folder = Path(tempfile.mkdtemp(prefix="parrot-fuzz-"))
    path = folder / "user_dict.json"
    path.write_bytes(data)
    try:
        user = UserDictionary(path)
        aside = list(folder.glob("user_dict.json.corrupt-*"))
        if aside and aside[0].read_bytes() != data:
            raise Finding("the set-aside copy differs from the original file")
        if not aside and path.exists() and path.read_bytes() != data:
            raise Finding("the file was changed without keeping the original")
        for word in user.words.values():
            if len(word.reading) != len(word.word) or not word.digits.isdigit():
                raise Finding(f"kept a bad word {word}")
    finally:
        release_data_dir(folder)
        shutil.rmtree(folder)


# --- a saved conversation file


def check_conversation(data: bytes) -> None:
    """Any file is a conversation or a clear ConversationUnreadable, never another exception."""
    from parrot.app.conversations import ConversationUnreadable, read_record, read_turns
    from parrot.app.screens.history import summary
    from parrot.app.state import SavedConversation

    folder = Path(tempfile.mkdtemp(prefix="parrot-fuzz-"))
    path = folder / "20261129-093000.json"
    path.write_bytes(data)
    try:
        try:
            entry = SavedConversation.of_record(read_record(path))
        except ConversationUnreadable:
            return
        turns = read_turns(path)
        if not all(isinstance(q, str) and isinstance(a, str) for q, a in turns) or not isinstance(entry.first, str):
            raise Finding(f"accepted a damaged record: {turns!r}")
        summary(entry)  # the history row: its date must be one
    finally:
        shutil.rmtree(folder)


# --- sim scripts


def check_script(data: bytes) -> None:
    from parrot.sim.script import SNAP_NAME, Hold, Snap, Wait, WaitFor, parse_keys, parse_script

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the CLI refuses it before parsing (cliargs.utf8_file)
    for parse in (lambda: parse_script(text, "fuzz"), lambda: parse_keys(text)):
        try:
            steps = parse()
        except UserError:
            continue
        for step in steps:
            seconds = step.seconds if isinstance(step, (Hold, Wait)) else step.timeout_s if isinstance(step, WaitFor) else 0
            if not math.isfinite(seconds) or seconds < 0:
                raise Finding(f"script step with bad time: {step}")
            if isinstance(step, Snap) and (not SNAP_NAME.fullmatch(step.name) or ".." in step.name):
                raise Finding(f"snap name escapes the frames folder: {step.name!r}")


# --- keypad byte streams from the bus


class _StreamBus:
    """An I2C bus whose reads come from the fuzz input: each read takes two bytes, the first
    says whether the transfer fails (like a NACK), the second is the byte read."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def _next(self) -> int:
        if self.pos + 2 > len(self.data):
            raise EOFError
        flag, value = self.data[self.pos], self.data[self.pos + 1]
        self.pos += 2
        if flag >= 0xE0:
            raise OSError(121, "Remote I/O error")
        return value

    def write_byte(self, addr, value):
        pass

    def read_byte(self, addr):
        return self._next()


def _check_key_events(events) -> None:
    """One key at a time: PRESS, then LONG at most once, REPEATs only after LONG, then one release."""
    from parrot.keys import KeyAction as A

    held, long_sent = None, False
    for e in events:
        if e.action == A.PRESS:
            if held is not None:
                raise Finding(f"PRESS {e.key} while {held} is down")
            held, long_sent = e.key, False
        elif e.key != held:
            raise Finding(f"{e.action} of {e.key} while {held} is down")
        elif e.action == A.LONG:
            if long_sent:
                raise Finding("second LONG")
            long_sent = True
        elif e.action == A.REPEAT and not long_sent:
            raise Finding("REPEAT before LONG")
        elif e.action in (A.RELEASE, A.LONG_RELEASE):
            if (e.action == A.LONG_RELEASE) != long_sent:
                raise Finding(f"{e.action} after long_sent={long_sent}")
            held = None


def check_keypad(data: bytes) -> None:
    from parrot.keypad.fakes import FakeClock
    from parrot.keypad.pcf8574 import PCF8574Keypad
    from parrot.keypad.poller import KeypadPoller
    from parrot.keypad.seed_module import SeedKeypadModule
    from parrot.keypad.tracker import KeyTracker

    bus_seed, bus_pcf = _StreamBus(data), _StreamBus(data)
    for driver in (SeedKeypadModule(bus_seed, sleep=lambda s: None), PCF8574Keypad(bus_pcf)):
        clock = FakeClock(0.0)
        events = []
        poller = KeypadPoller(driver, KeyTracker(), events.append, clock=clock, read_in_thread=False)
        bus = driver.bus
        while bus.pos + 2 <= len(bus.data):
            try:
                poller.poll_once()
            except EOFError:  # the stream ran out inside a read: a driver-level exception by design
                break
            clock.advance(0.01)
        events += poller.tracker.reset()
        _check_key_events(events)


def _generated_gguf_seeds() -> list[bytes]:
    return _seed_files("gguf")


TARGETS: dict[str, Target] = {}


def _register(name, check, tokens=(), seeds=None):
    TARGETS[name] = Target(name, check, Mutator(tokens=[t.encode() if isinstance(t, str) else t for t in tokens]),
                           seeds or (lambda: _seed_files(name)))


_register("gguf", check_gguf, tokens=[b"GGUF", struct.pack("<I", 3), b"\xff" * 8, b"\0" * 8, b"general.architecture"],
          seeds=_generated_gguf_seeds)
_register("tokenizer", check_tokenizer, tokens=["<|im_end|>", "<|im_start|>", "\r\n", "  ", "你好", "hello", "\u200d",
                                                 "\U0001F600", b"\xc3", b"\xe4\xbd", b"\xf0\x9f", "'s", "123", "\t"])
_register("config", check_config, tokens=["[", "]", "[[", "]]", "{", "}", "=", '"', "'''", '"""', "nan", "inf", "-inf",
                                           "1e309", "0x", "-", "true", "\n", "[ui]", "[display]", "[keypad]", "[llm]",
                                           "splash_s", "address", "layout", "fps", "#", "\\u0000", "."])
_register("script", check_script, tokens=["press ", "type ", "long ", "hold ", "wait ", "wait-for ", "llm-done", "screen ",
                                           "snap ", "nan", "inf", "-1", "1e309", "0x10", "../", "/", "'", '"', "\n", "#",
                                           "[", "+", "_", "!", "A", "5", " ", "\\", "chat"])
_register("userdict", check_user_dictionary, tokens=['"words"', '"follows"', '"uses"', '"version"', "[", "]", ",", "null",
                                                     "-1", "1e309", "NaN", "1.5", '"HAO"', '"ü"', '""', "true", "{}", "\\u0000"])
_register("conversation", check_conversation, tokens=['"turns"', '"q"', '"a"', '"id"', '"started"', "[", "]", "{", "}", ",",
                                                         "null", "NaN", "1e309", "-1", "true", '"20261129-093000"', "\\ud800"])
_register("keypad", check_keypad, tokens=[b"\0\x10", b"\0\x03", b"\xff\0", b"\0\xff", b"\0\x0f", b"\0\xef", b"\0\x7f"])


def load_target(name: str) -> tuple[Target, list[bytes]]:
    """The target and its corpus (seeds plus saved regressions), GGUF slots located."""
    target = TARGETS[name]
    corpus = target.seeds() + regression_inputs(name)
    if name == "gguf" and not target.mutator.slots:
        target.mutator.slots = {seed: gguf_slots(seed) for seed in target.seeds()}
    return target, corpus


def regression_inputs(name: str) -> list[bytes]:
    """Saved findings (each beside a .txt note saying what went wrong)."""
    folder = REGRESSIONS / name
    if not folder.is_dir():
        return []
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".txt"]


def run_one(target: Target, data: bytes) -> str | None:
    """None when the target behaved; else what went wrong."""
    try:
        target.check(data)
    except Finding as e:
        return f"finding: {e}"
    except Exception as e:  # anything but the promised UserError is a finding
        return f"{type(e).__name__}: {e}"
    return None


def fuzz(name: str, iterations: int, seed: int, on_input: Callable[[bytes], None] | None = None):
    """Yields (input, problem) for each misbehaving input of `iterations` mutated inputs."""
    target, corpus = load_target(name)
    rng = random.Random(seed)
    for _ in range(iterations):
        data = target.mutator.mutate(rng, rng.choice(corpus), corpus)
        if on_input:
            on_input(data)
        problem = run_one(target, data)
        if problem:
            yield data, problem
