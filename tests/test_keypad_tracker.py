"""KeyTracker: debounce, long press, repeat, key switches, failed reads - pure timelines."""

import pytest

from parrot.events import KeyEvent
from parrot.keypad.tracker import KeyTracker
from parrot.keys import Key, KeyAction

P, R, L, RP, LR = KeyAction.PRESS, KeyAction.RELEASE, KeyAction.LONG, KeyAction.REPEAT, KeyAction.LONG_RELEASE
STEP_MS = 10


def feed(tracker, samples):
    """samples: [(ms, key or None or 'fail')] -> [(ms, event)]"""
    out = []
    for ms, raw in samples:
        now = ms / 1000
        events = tracker.poll_failed(now) if raw == "fail" else tracker.update(raw, now)
        out.extend((ms, e) for e in events)
    return out


def held(key, start_ms, end_ms, step_ms=STEP_MS):
    return [(ms, key) for ms in range(start_ms, end_ms, step_ms)]


def actions(timed):
    return [(e.key, e.action) for _, e in timed]


def test_press_needs_debounce_time_then_release():
    t = KeyTracker(debounce_s=0.02)
    timed = feed(t, held(None, 0, 50) + held(Key.K1, 50, 150) + held(None, 150, 250))
    assert timed == [(70, KeyEvent(Key.K1, P)), (170, KeyEvent(Key.K1, R))]


def test_bouncing_contacts_give_one_press_and_one_release():
    bounce_down = [Key.K7, None, Key.K7, None, None, Key.K7]  # 1 ms apart
    bounce_up = [None, Key.K7, None, Key.K7, None]
    samples = [(ms, raw) for ms, raw in enumerate(bounce_down, start=100)]
    samples += held(Key.K7, 106, 200, 1)
    samples += [(ms, raw) for ms, raw in enumerate(bounce_up, start=200)]
    samples += held(None, 205, 300, 1)
    timed = feed(KeyTracker(debounce_s=0.02), samples)
    assert actions(timed) == [(Key.K7, P), (Key.K7, R)]
    assert timed[0][0] == 125  # 20 ms after the bouncing stopped at 105


def test_blip_shorter_than_debounce_is_ignored():
    samples = held(None, 0, 50) + held(Key.A, 50, 60) + held(None, 60, 200)
    assert feed(KeyTracker(debounce_s=0.02), samples) == []


def test_long_press_exactly_at_threshold_then_long_release():
    t = KeyTracker(long_press_s=0.4, debounce_s=0.02)
    timed = feed(t, held(Key.K0, 0, 450) + held(None, 450, 500))
    assert [(ms, e.action) for ms, e in timed] == [(20, P), (400, L), (470, LR)]


def test_release_just_before_threshold_is_short():
    t = KeyTracker(long_press_s=0.4, debounce_s=0.02)
    timed = feed(t, held(Key.K0, 0, 390) + held(None, 390, 450))
    assert actions(timed) == [(Key.K0, P), (Key.K0, R)]


def test_repeat_cadence_after_long_press():
    t = KeyTracker(long_press_s=0.4, repeat_delay_s=0.2, repeat_interval_s=0.15, debounce_s=0.02)
    timed = feed(t, held(Key.HASH, 0, 1200, 1) + held(None, 1200, 1300, 1))
    repeats = [ms for ms, e in timed if e.action is RP]
    # first repeat 0.2 s after LONG (at 400), then every 150 ms while held; ±1 poll
    assert repeats == pytest.approx([600, 750, 900, 1050], abs=1)
    assert actions(timed)[-1] == (Key.HASH, LR)
    assert [e.action for _, e in timed].count(L) == 1


def test_switch_from_one_key_to_another_releases_then_presses():
    t = KeyTracker(debounce_s=0.02)
    timed = feed(t, held(Key.K1, 0, 100) + held(Key.K2, 100, 200) + held(None, 200, 300))
    assert actions(timed) == [(Key.K1, P), (Key.K1, R), (Key.K2, P), (Key.K2, R)]
    assert timed[1][0] == timed[2][0] == 120


def test_failed_reads_mid_hold_change_nothing():
    t = KeyTracker(debounce_s=0.02, long_press_s=2.0)
    samples = held(Key.B, 0, 100) + held("fail", 100, 500) + held(Key.B, 500, 600) + held(None, 600, 700)
    assert actions(feed(t, samples)) == [(Key.B, P), (Key.B, R)]


def test_failed_reads_are_not_taken_as_a_release():
    # read, fail, read, fail ... with the key held all along: one press, no release.
    t = KeyTracker(debounce_s=0.02)
    samples = [(ms, Key.C if (ms // STEP_MS) % 2 == 0 else "fail") for ms in range(0, 300, STEP_MS)]
    assert actions(feed(t, samples)) == [(Key.C, P)]
    assert t.held_key is Key.C


def test_no_timers_during_outage_long_fires_after_recovery():
    t = KeyTracker(debounce_s=0.02, long_press_s=0.4, outage_release_s=1.0)
    samples = held(Key.K5, 0, 100) + held("fail", 100, 700) + held(Key.K5, 700, 720)
    timed = feed(t, samples)
    assert [(ms, e.action) for ms, e in timed] == [(20, P), (700, L)]


def test_long_outage_releases_held_key_once_and_it_does_not_act_again_on_recovery():
    t = KeyTracker(debounce_s=0.02, outage_release_s=1.0, long_press_s=0.4)
    samples = held(Key.D, 0, 100) + held("fail", 100, 2500) + held(Key.D, 2500, 3600)
    timed = feed(t, samples)
    # still held when the bus returns: the same press (no second PRESS, no LONG, no REPEAT)
    assert [(ms, e.key, e.action) for ms, e in timed] == [(20, Key.D, P), (1100, Key.D, R)]
    # a bounce while it is still down does not end it; letting go and pressing again does
    timed = feed(t, [(3600, None), (3601, Key.D)] + held(Key.D, 3610, 3700) + held(None, 3700, 3800)
                 + held(Key.D, 3800, 3900) + held(None, 3900, 4000))
    assert [(ms, e.key, e.action) for ms, e in timed] == [(3820, Key.D, P), (3920, Key.D, R)]


def test_after_a_long_outage_another_key_presses_at_once():
    t = KeyTracker(debounce_s=0.02, outage_release_s=1.0)
    timed = feed(t, held(Key.K1, 0, 100) + held("fail", 100, 1500) + held(Key.K2, 1500, 1600))
    assert [(ms, e.key, e.action) for ms, e in timed] == [(20, Key.K1, P), (1100, Key.K1, R), (1520, Key.K2, P)]


def test_outage_while_idle_emits_nothing():
    t = KeyTracker()
    assert feed(t, held(None, 0, 100) + held("fail", 100, 3000) + held(None, 3000, 3100)) == []


def test_reset_releases_held_key():
    t = KeyTracker(debounce_s=0.0)
    t.update(Key.K9, 0.0)
    assert t.reset() == [KeyEvent(Key.K9, R)]
    assert t.held_key is None


@pytest.mark.parametrize("kwargs", [{"long_press_s": 0}, {"repeat_interval_s": -1}, {"debounce_s": -0.01}])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        KeyTracker(**kwargs)
