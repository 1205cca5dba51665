"""Bus faults between the keypad and the app: nothing lost, nothing doubled, no crash."""

import asyncio
import logging
import random

import pytest

from parrot.keypad.fakes import FakeClock, FakePCF8574Bus, FakeSeedKeypadBus, KeyScript
from parrot.keypad.pcf8574 import PCF8574Keypad
from parrot.keypad.poller import KeypadPoller
from parrot.keypad.seed_module import SeedKeypadModule
from parrot.keypad.tracker import KeyTracker
from parrot.keys import Key, KeyAction

P, R, L, RP, LR = KeyAction.PRESS, KeyAction.RELEASE, KeyAction.LONG, KeyAction.REPEAT, KeyAction.LONG_RELEASE
POLL_S = 0.01
T0 = 1000.0  # FakeClock's start


def seed_rig(script=None, tracker=None):
    clock = FakeClock(T0)
    bus = FakeSeedKeypadBus(clock=clock, script=script)
    events = []
    poller = KeypadPoller(
        SeedKeypadModule(bus, sleep=clock.sleep),
        tracker or KeyTracker(),
        events.append,
        clock=clock,
        read_in_thread=False,
    )
    return clock, bus, poller, events


def poll_until(clock, poller, end):
    while clock() < end:
        poller.poll_once()
        clock.advance(POLL_S)


def actions(events):
    return [(e.key, e.action) for e in events]


def test_fault_in_the_middle_of_a_held_key_adds_nothing():
    clock, bus, poller, events = seed_rig(KeyScript([(Key.K5, T0 + 0.1, T0 + 0.3)]))
    poll_until(clock, poller, T0 + 0.2)
    bus.fail_next(6)
    poll_until(clock, poller, T0 + 0.5)
    assert actions(events) == [(Key.K5, P), (Key.K5, R)]
    assert bus.failed_transfers == 6


# LONG at 0.4 s, REPEAT at 0.7, 1.0, ... : wide timer spacing so that hold times can stay
# 150 ms (>10 polls) away from every timer edge even when half the reads fail.
FAULT_TEST_TRACKER = dict(long_press_s=0.4, repeat_delay_s=0.3, repeat_interval_s=0.3)


def scripted_presses(count, seed):
    """`count` presses with gaps, and the events they must produce."""
    rng = random.Random(seed)
    holds = [(0.15, [R]), (0.25, [R]), (0.55, [L, LR]), (0.85, [L, RP, LR]), (1.15, [L, RP, RP, LR])]
    intervals, expected, t = [], [], T0 + 0.2
    for _ in range(count):
        key = rng.choice(list(Key))
        hold, tail = rng.choice(holds)
        intervals.append((key, t, t + hold))
        expected += [(key, P)] + [(key, action) for action in tail]
        t += hold + rng.uniform(0.15, 0.3)
    return intervals, expected, t + 0.3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_faults_lose_and_double_nothing(seed, caplog):
    caplog.set_level(logging.INFO, logger="parrot.keypad")
    intervals, expected, end = scripted_presses(50, seed)
    script = KeyScript(intervals, bounce_s=0.004, seed=seed)
    clock, bus, poller, events = seed_rig(script, KeyTracker(**FAULT_TEST_TRACKER))
    bus.fail_randomly(0.3, seed=seed)  # per transfer: about half the reads (2 transfers) fail
    poll_until(clock, poller, end)
    assert actions(events) == expected
    assert bus.failed_transfers > 0.2 * bus.transfers  # the faults really happened
    minutes = (end - T0) / 60
    assert len(caplog.records) <= 2 * (int(minutes) + 1)  # no log spam


def test_random_faults_pcf8574():
    intervals, expected, end = scripted_presses(20, seed=7)
    clock = FakeClock(T0)
    bus = FakePCF8574Bus(clock=clock, script=KeyScript(intervals, bounce_s=0.004, seed=7), seed=7)
    bus.fail_randomly(0.1)
    events = []
    tracker = KeyTracker(**FAULT_TEST_TRACKER)
    poller = KeypadPoller(PCF8574Keypad(bus), tracker, events.append, clock=clock, read_in_thread=False)
    poll_until(clock, poller, end)
    assert actions(events) == expected
    assert bus.failed_transfers > 0


def test_unplugged_keypad_logged_once_and_recovers_on_replug(caplog):
    clock, bus, poller, events = seed_rig(KeyScript([(Key.K2, T0 + 3.5, T0 + 3.7)]))
    caplog.set_level(logging.INFO, logger="parrot.keypad")
    poll_until(clock, poller, T0 + 0.5)
    bus.unplug()
    poll_until(clock, poller, T0 + 3.0)  # 250 failed reads
    bus.replug()
    poll_until(clock, poller, T0 + 4.0)
    assert actions(events) == [(Key.K2, P), (Key.K2, R)]
    failures = [r for r in caplog.records if "read failed" in r.getMessage()]
    recoveries = [r for r in caplog.records if "answering again" in r.getMessage()]
    assert len(failures) == 1 and len(recoveries) == 1
    assert poller.total_failed_reads == 250


def test_unplugged_with_key_held_releases_once():
    clock, bus, poller, events = seed_rig()
    bus.hold(Key.C)
    poll_until(clock, poller, T0 + 0.2)
    bus.unplug()
    poll_until(clock, poller, T0 + 3.0)
    assert actions(events) == [(Key.C, P), (Key.C, R)]  # released once after 1 s, not stuck
    bus.replug()
    poll_until(clock, poller, T0 + 4.0)
    assert actions(events) == [(Key.C, P), (Key.C, R)]  # still held: the same press, it does not act twice
    bus.release()
    poll_until(clock, poller, T0 + 4.2)
    bus.hold(Key.C)
    poll_until(clock, poller, T0 + 4.4)
    assert actions(events) == [(Key.C, P), (Key.C, R), (Key.C, P)]  # a real second press does


def test_driver_bug_does_not_kill_the_poller(caplog):
    class Broken:
        calls = 0

        def read(self):
            self.calls += 1
            if self.calls < 5:
                raise ZeroDivisionError("bug")
            return Key.K1

    clock = FakeClock(T0)
    events = []
    poller = KeypadPoller(Broken(), KeyTracker(), events.append, clock=clock, read_in_thread=False)
    poll_until(clock, poller, T0 + 0.1)
    assert actions(events) == [(Key.K1, P)]
    assert sum("driver error" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("read_in_thread", [False, True])
def test_async_run_posts_events_and_stops_on_close(read_in_thread):
    clock = FakeClock(T0)
    bus = FakeSeedKeypadBus(clock=clock, script=KeyScript([(Key.HASH, T0 + 0.1, T0 + 0.73)]))
    bus.fail_randomly(0.05, seed=5)
    events = []
    poller = KeypadPoller(
        SeedKeypadModule(bus, sleep=clock.sleep),
        KeyTracker(),
        events.append,
        clock=clock,
        sleep=clock.async_sleep,
        read_in_thread=read_in_thread,
    )

    async def main():
        task = asyncio.create_task(poller.run())
        while clock() < T0 + 1.0:
            await asyncio.sleep(0)
        poller.close()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert actions(events) == [(Key.HASH, P), (Key.HASH, L), (Key.HASH, RP), (Key.HASH, LR)]
    assert poller.closed
