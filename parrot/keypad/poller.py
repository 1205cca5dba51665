"""Polls a keypad driver on a fixed cadence and posts key events to the app.

Reads run in a dedicated one-thread executor. A read is short (the seed module needs
two transfers and a 1 ms pause, ~1.5 ms at 100 kHz) but it is a blocking syscall plus a
sleep, and on a bit-banged i2c-gpio bus shared with a display push it can stall for tens
of ms; that must never freeze the event loop, which also draws the screen and streams
LLM tokens. One dedicated thread keeps reads in order and cannot starve the default
executor. The tracker and `post` run on the event-loop thread.

I2C errors never escape: a failed read is reported to the tracker (which keeps the last
stable key state), logged once when an outage starts and once when it ends, and the
poller keeps trying forever. On a flaky bus (a read failing every few polls) outages are
reported at most once a minute; the rest go to debug.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from parrot.events import Event, KeyEvent
from parrot.keypad.driver import KeypadDriver
from parrot.keypad.tracker import KeyTracker
from parrot.keys import Key

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 0.01  # the seed polls every ~10 ms
OUTAGE_REPORT_QUIET_S = 60.0


class KeypadPoller:
    def __init__(
        self,
        driver: KeypadDriver,
        tracker: KeyTracker,
        post: Callable[[Event], None],
        interval_s: float = DEFAULT_POLL_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
        read_in_thread: bool = True,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"poll interval must be > 0, got {interval_s}")
        self.driver = driver
        self.tracker = tracker
        self.post = post
        self.interval_s = interval_s
        self.clock = clock
        self._sleep = sleep
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="keypad") if read_in_thread else None
        self._closed = False
        self._outage_started: float | None = None
        self._failed_reads = 0  # in the current outage
        self._outage_reported = False
        self._last_report_at: float | None = None
        self.total_failed_reads = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def _read(self) -> tuple[Key | None, Exception | None, float]:
        """One driver read: (key, error, time of the sample). Never raises."""
        try:
            key = self.driver.read()
        except Exception as e:  # OSError: a bus fault; anything else a driver bug - neither may stop the keypad
            return None, e, self.clock()
        return key, None, self.clock()

    def _handle(self, key: Key | None, error: Exception | None, now: float) -> list[KeyEvent]:
        if error is None:
            if self._outage_started is not None:
                self._log_recovery(now)
            events = self.tracker.update(key, now)
        else:
            self.total_failed_reads += 1
            if self._outage_started is None:
                self._log_outage(error, now)
            self._failed_reads += 1
            events = self.tracker.poll_failed(now)
        for event in events:
            self.post(event)
        return events

    def _log_outage(self, error: Exception, now: float) -> None:
        self._outage_started = now
        self._failed_reads = 0
        # A flaky bus fails a read every few polls: report at most one outage a minute.
        quiet = self._last_report_at is not None and now - self._last_report_at < OUTAGE_REPORT_QUIET_S
        self._outage_reported = not quiet
        if quiet:
            log.debug("keypad read failed: %s", error)
            return
        self._last_report_at = now
        if isinstance(error, OSError):
            log.warning("keypad read failed: %s; retrying", error)
        else:
            log.error("keypad driver error; retrying", exc_info=error)

    def _log_recovery(self, now: float) -> None:
        level = logging.WARNING if self._outage_reported else logging.DEBUG
        log.log(
            level,
            "keypad answering again after %.1f s (%d failed reads; %d in all)",
            now - self._outage_started,
            self._failed_reads,
            self.total_failed_reads,
        )
        self._outage_started = None

    def poll_once(self) -> list[KeyEvent]:
        """Read once in the calling thread, feed the tracker, post and return the events."""
        return self._handle(*self._read())

    async def run(self) -> None:
        """Poll until `close()`; keeps a steady cadence, dropping ticks when behind."""
        loop = asyncio.get_running_loop()
        next_at = self.clock()
        while not self._closed:
            if self._executor is not None:
                try:
                    sample = await loop.run_in_executor(self._executor, self._read)
                except RuntimeError:  # executor shut down by close() while we waited
                    break
            else:
                sample = self._read()
            if self._closed:
                break
            self._handle(*sample)
            next_at += self.interval_s
            now = self.clock()
            if next_at < now:
                next_at = now  # fell behind (suspend, slow bus): do not try to catch up
            await self._sleep(next_at - now)

    def close(self) -> None:
        """Stop polling. Safe to call more than once and from any task."""
        self._closed = True
        if self._executor is not None:
            # A read already queued still runs (about a millisecond); run() then sees
            # `closed` and returns. Cancelling it instead would raise CancelledError in run().
            self._executor.shutdown(wait=False)
