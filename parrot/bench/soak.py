"""Soak: N random keys through the simulated appliance with the real model; exceptions and RSS growth.

The whole app runs as in `parrot sim --headless` (real fonts, real IME data, the emulated OLED
behind luma's real driver, the real GGUF model on the C core), in a throw-away state folder.
Keys are random: short presses, long presses, and now and then a wait for the answer being
streamed, so questions are asked, answered, aborted, and the menus, settings and shutdown
screen all get visited. An accepted shutdown (a dry run here) powers the box off: a new app
boots on the same folder, as after a reboot, in the same process (so what a boot leaks shows).
A model switch chosen on the models screen is answered as a switch back to the loaded model,
so memory is compared with one model. Every exception, raised or only logged by a worker, is counted and printed;
resident memory is sampled after each block of keys and its growth reported from the end of
the warm-up (the KV cache is touched end to end first, and by then the model's pages are).
"""

from __future__ import annotations

import gc
import logging
import random
import sys
import threading
import time
import traceback

from parrot.cliargs import float_range, int_range

LONG_PRESS_SHARE = 0.1


def add_arguments(p) -> None:
    from parrot.llm.models import DEFAULT_MODEL

    p.add_argument("--keys", type=int_range(1, 10**7), default=10000, help="random keys to press (default 10000)")
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=1, help="random seed (default 1)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model (default {DEFAULT_MODEL})")
    p.add_argument("--backend", choices=("llm", "echo"), default="llm", help="echo: the app without a model")
    p.add_argument("--max-tokens", type=int_range(1, 4096), default=32, help="answer length cap (default 32)")
    p.add_argument("--threads", type=int_range(1, 64), default=2, help="model threads (default 2)")
    p.add_argument("--wait-share", type=float_range(0, 1), default=0.005,
                   help="share of keys followed by waiting for the streaming answer to end (default 0.005)")
    p.add_argument("--warmup", type=int_range(0, 10**7), default=2000,
                   help="keys before the RSS baseline: the KV cache fills up meanwhile (default 2000)")
    p.add_argument("--block", type=int_range(1, 10**6), default=500, help="keys between RSS samples (default 500)")
    p.add_argument("--step", type=int_range(1, 10**6), default=50, help="keys between checks for a shutdown (default 50)")
    p.add_argument("--max-growth-mb", type=float_range(0, 1e6), default=5.0, help="RSS growth that fails the run (default 5)")


def rss_mb() -> float:
    """Anonymous resident memory (heap, KV cache, Python objects), in MB: where a leak shows.
    The model's weights are a file mapping whose pages come in as tokens first use them (an
    embedding row per new token), which is not a leak; they are reported apart."""
    return _status_kb("RssAnon") / 1024


def file_rss_mb() -> float:
    return _status_kb("RssFile") / 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class _ErrorCounter(logging.Handler):
    """Counts (and keeps the first few of) log records at ERROR and above: the app's workers
    log the exceptions they catch instead of raising them."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Session:
    """The appliance on a headless SimBoard (what `parrot sim --headless` builds)."""

    def __init__(self, config, state, backend: str, seed: int, on_event):
        from parrot.app.assemble import build_appliance
        from parrot.boards.sim import SimBoard
        from parrot.events import LlmLoaded
        from parrot.sim.headless import HeadlessRunner

        self.board = SimBoard(headless=True)
        self.appliance = build_appliance(self.board, config, state, backend=backend, seed=seed)
        runtime = self.appliance.runtime
        runtime.listeners.append(on_event)
        self.switches_refused = 0
        chat, real_load = runtime.backend, runtime.backend.load

        def pinned_load(name):
            if getattr(chat, "model", None) is None:
                return real_load(name)
            self.switches_refused += 1  # answered as a switch back to the model in use
            return iter([LlmLoaded(chat.name)])

        chat.load = pinned_load
        self.runner = HeadlessRunner(self.appliance)

    def close(self) -> None:
        self.appliance.close(wait=True)


def fill_kv_cache(model) -> None:
    """Touch the whole KV cache once (a prompt as long as the context), then forget it: its
    pages are then resident, so RSS growth afterwards is not the cache filling up."""
    if model is None:
        return
    from parrot.llm.engine import GREEDY

    import dataclasses

    ids = model.tokenize("鹦鹉 ", special=False) or [0]
    prompt = (ids * model.n_ctx)[: model.n_ctx - 2]
    for _ in model.generate(prompt, sampling=dataclasses.replace(GREEDY, max_tokens=1)):
        pass
    model.reset()


def random_steps(rng: random.Random, n: int, wait_share: float) -> list:
    from parrot.keys import Key
    from parrot.sim.script import GAP_S, LONG_S, PRESS_S, Hold, Wait, WaitFor

    keys = list(Key)
    steps = []
    for _ in range(n):
        hold = LONG_S if rng.random() < LONG_PRESS_SHARE else PRESS_S
        steps += [Hold(rng.choice(keys), hold), Wait(GAP_S)]
        if rng.random() < wait_share:
            steps.append(WaitFor("llm-done", timeout_s=1800.0))  # real seconds: a busy CPU is slow, not broken
    return steps


def run(args) -> int:
    from parrot import lifecycle
    from parrot.app.core import ScreenName
    from parrot.config import Config, validate
    from parrot.events import LlmDone, LlmLoaded

    config = Config(validate({"llm": {"model": args.model, "max_tokens": args.max_tokens, "threads": args.threads}}))
    if args.backend == "llm":
        from parrot.llm.models import resolve_model

        resolve_model(args.model)  # a clear error (and the hash check) before anything starts
    state = lifecycle.temp_dir("parrot-soak-")
    errors = _ErrorCounter()
    logging.getLogger().addHandler(errors)
    thread_errors: list[str] = []
    old_hook = threading.excepthook
    threading.excepthook = lambda a: thread_errors.append(f"{a.exc_type.__name__}: {a.exc_value} in {a.thread}")
    answers = {"done": 0, "aborted": 0, "error": 0}
    loaded = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, LlmDone):
            answers["error" if event.error else "aborted" if event.aborted else "done"] += 1
        elif isinstance(event, LlmLoaded):
            loaded.set()

    rng = random.Random(args.seed)
    raised: list[str] = []
    shutdowns = 0
    start = time.perf_counter()
    def boot(seed: int) -> _Session:
        loaded.clear()
        session = _Session(config, state, args.backend, seed, on_event)
        deadline = time.monotonic() + 600
        while not loaded.is_set() and time.monotonic() < deadline:  # the model loads behind the splash
            session.runner.advance(0.01)
        fill_kv_cache(getattr(session.appliance.runtime.backend, "model", None))
        return session

    app = boot(args.seed)
    rss_start = rss_mb()
    baseline = None
    samples = []
    file_last = file_rss_mb()
    pressed = 0
    try:
        while pressed < args.keys:
            n = min(args.step, args.keys - pressed)
            try:
                app.runner.run(random_steps(rng, n, args.wait_share))
            except Exception as e:  # a crash of the app: counted and printed
                raised.append("".join(traceback.format_exception(e)))
                print(f"raised: {raised[-1]}", file=sys.stderr, flush=True)
            pressed += n
            screen = app.appliance.app.screen
            if screen.name is ScreenName.SHUTDOWN and getattr(screen, "confirmed", False):
                shutdowns += 1  # the box powered off: boot it again on the same folder
                app.close()
                app = boot(args.seed + shutdowns)
            if pressed % args.block and pressed < args.keys:
                continue
            gc.collect()
            rss = rss_mb()
            samples.append((pressed, rss))
            file_last = file_rss_mb()
            if baseline is None and pressed >= args.warmup:
                baseline = rss
            print(f"  {pressed:7d} keys  anon {rss:7.1f} MB  file {file_last:7.1f} MB  answers {answers['done']}  "
                  f"aborted {answers['aborted']}  shutdowns {shutdowns}  errors {len(errors.records) + len(thread_errors) + len(raised)}  "
                  f"{time.perf_counter() - start:6.0f} s", file=sys.stderr, flush=True)
    finally:
        app.close()
        threading.excepthook = old_hook
        logging.getLogger().removeHandler(errors)
    elapsed = time.perf_counter() - start
    exceptions = len(errors.records) + len(thread_errors) + len(raised)
    for record in errors.records[:5]:
        print(f"logged: {record.getMessage()}" + (f"\n{''.join(traceback.format_exception(*record.exc_info))}"
                                                   if record.exc_info else ""))
    for text in thread_errors[:5] + raised[:5]:
        print(f"raised: {text}")
    baseline = baseline if baseline is not None else rss_start
    final = samples[-1][1] if samples else rss_start
    growth = final - baseline
    print(f"soak: {pressed} keys ({args.backend}: {args.model if args.backend == 'llm' else 'echo'}), "
          f"{shutdowns} shutdowns (and boots), {app.switches_refused} model switches refused in the last boot, "
          f"{answers['done']} answers, {answers['aborted']} aborted, {answers['error']} failed, {elapsed:.0f} s")
    print(f"exceptions: {exceptions}")
    print(f"file-backed rss (model pages): {file_last:.1f} MB at the last sample")
    print(f"anonymous rss: {rss_start:.1f} MB after the model loaded, {baseline:.1f} MB after {min(args.warmup, pressed)} keys, "
          f"{final:.1f} MB at the end, max {max(r for _, r in samples) if samples else final:.1f} MB: "
          f"growth after warm-up {growth:+.1f} MB (limit {args.max_growth_mb:g})")
    failures = ([f"{exceptions} exceptions"] if exceptions else []) + \
        ([f"growth {growth:+.1f} MB is not under the {args.max_growth_mb:g} MB limit"] if growth >= args.max_growth_mb else [])
    print(f"result: FAIL ({'; '.join(failures)})" if failures else
          f"result: PASS (0 exceptions, growth {growth:+.1f} MB under the {args.max_growth_mb:g} MB limit)")
    return 1 if failures else 0
