"""Keypad, display and battery gauge on one faulty I2C wire, as in the box: random NACKs and
bus errors on every transfer, and the whole bus unplugged and replugged (the OLED losing
power with it). No key may be lost or doubled, the screen must come back showing the latest
frame, and the gauge must answer again."""
from __future__ import annotations

import random

import pytest
from PIL import Image, ImageDraw

from parrot.display.fake_oled import FakeOledBus
from parrot.display.oled import open_oled
from parrot.keypad.fakes import FakeApplianceBus, FakeClock, KeyScript
from parrot.keypad.poller import KeypadPoller
from parrot.keypad.seed_module import SeedKeypadModule
from parrot.keypad.tracker import KeyTracker
from parrot.keys import Key, KeyAction
from parrot.power.battery import BatteryGauge
from test_keypad_faults import FAULT_TEST_TRACKER, T0, scripted_presses

P, R = KeyAction.PRESS, KeyAction.RELEASE
POLL_S = 0.01
FRAME_EVERY = 5  # polls (50 ms, the app's 20 fps)
GAUGE_EVERY = 50  # polls (0.5 s)


class OledOnTheWire:
    """The OLED's smbus surface on the shared wire: the wire's faults hit its transfers too."""

    def __init__(self, wire: FakeApplianceBus, oled: FakeOledBus):
        self.wire, self.oled = wire, oled
        self.failed = 0

    def write_i2c_block_data(self, addr, control, data):
        try:
            self.wire.faults.check()
        except OSError:
            self.failed += 1
            raise
        self.oled.write_i2c_block_data(addr, control, data)

    def close(self):
        pass


def frame(n: int) -> Image.Image:
    img = Image.new("1", (128, 64))
    draw = ImageDraw.Draw(img)
    draw.text((2, 2), f"events {n}", fill=1)
    draw.rectangle((0, 40, n % 128, 50), fill=1)
    return img


class Box:
    def __init__(self, script: KeyScript, seed: int):
        self.clock = FakeClock(T0)
        self.wire = FakeApplianceBus(clock=self.clock, seed=seed)
        self.wire.held.script = script
        self.oled = FakeOledBus()
        self.oled_wire = OledOnTheWire(self.wire, self.oled)
        self.display = open_oled("ssd1306", 1, 0x3C, bus=self.oled_wire)
        self.display.set_contrast(0x60)
        self.gauge = BatteryGauge(self.wire)
        self.events = []
        self.poller = KeypadPoller(SeedKeypadModule(self.wire, sleep=self.clock.sleep), KeyTracker(**FAULT_TEST_TRACKER),
                                   self.events.append, clock=self.clock, read_in_thread=False)
        self.readings = []
        self.polls = 0
        self.shown = frame(0)

    def run_until(self, end: float) -> None:
        while self.clock() < end:
            self.poller.poll_once()
            self.polls += 1
            if self.polls % FRAME_EVERY == 0:
                self.shown = frame(len(self.events))
                self.display.show(self.shown)
            if self.polls % GAUGE_EVERY == 0:
                self.readings.append(self.gauge.read())
            self.clock.advance(POLL_S)

    def unplug(self) -> None:
        self.wire.unplug()
        self.oled.unplug()  # the OLED loses power with the bus: it comes back reset and dark

    def replug(self) -> None:
        self.wire.replug()
        self.oled.replug()

    @property
    def faults(self) -> int:
        return self.wire.failed_transfers + self.oled_wire.failed


@pytest.mark.parametrize("seed", [11, 12])
def test_random_faults_and_unplugs_lose_and_double_nothing(seed):
    intervals, expected, end = scripted_presses(40, seed)
    box = Box(KeyScript(intervals, bounce_s=0.004, seed=seed), seed)
    box.wire.fail_randomly(0.1, seed=seed)  # per transfer: keypad reads, OLED pushes and gauge reads alike
    # unplug the whole bus a few times in the gaps between presses (up to 0.8 s, under the
    # tracker's 1 s release); the OLED loses power each time and must come back by itself
    rng = random.Random(seed)
    gaps = [(a[2], b[1]) for a, b in zip(intervals, intervals[1:]) if b[1] - a[2] > 0.2]
    recovery_s = []
    for up, down in sorted(rng.sample(gaps, 6)):
        box.run_until(up + 0.05)
        box.unplug()
        box.run_until(max(box.clock() + 0.1, min(down - 0.05, up + 0.8)))
        box.replug()
        reinits, back_at = box.display.reinits, box.clock()
        while box.display.reinits == reinits or box.oled.image().tobytes() != box.shown.tobytes():
            assert box.clock() - back_at < 3.0, "the screen did not come back within 3 s of the bus"
            box.run_until(box.clock() + POLL_S)
        recovery_s.append(box.clock() - back_at)
    box.run_until(end + 1.0)
    box.wire.fail_randomly(0.0)
    box.run_until(end + 1.5)

    assert [(e.key, e.action) for e in box.events] == expected  # no key lost or doubled
    assert box.oled.display_on and box.oled.contrast == 0x60  # re-initialised after each power loss
    assert box.oled.image().tobytes() == box.shown.tobytes()  # showing the latest frame
    assert box.readings[-1] is not None and box.readings[-1].percent == pytest.approx(80.0, abs=0.01)
    assert None in box.readings  # the gauge did miss reads meanwhile
    assert box.faults > 500, box.faults
    print(f"faults injected {box.faults} of {box.wire.transfers} transfers, 6 unplugs, "
          f"screen back after {max(recovery_s):.2f} s at most")


def test_long_unplug_with_a_key_held_releases_it_once_and_recovers_everything():
    box = Box(KeyScript([(Key.K8, T0 + 0.2, T0 + 5.0), (Key.K9, T0 + 5.5, T0 + 5.7)]), seed=3)
    box.run_until(T0 + 1.0)
    box.unplug()
    box.run_until(T0 + 3.5)  # 2.5 s dark: the held key is released once, nothing stays stuck
    box.replug()
    box.run_until(T0 + 6.5)
    # long press and one repeat before the outage, one release in it, no second PRESS of 8 after it
    assert [(e.key, e.action) for e in box.events] == [(Key.K8, P), (Key.K8, KeyAction.LONG), (Key.K8, KeyAction.REPEAT),
                                                         (Key.K8, KeyAction.LONG_RELEASE), (Key.K9, P), (Key.K9, R)]
    assert box.oled.display_on and box.oled.image().tobytes() == box.shown.tobytes()
    assert box.readings[-1] is not None
