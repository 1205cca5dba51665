"""The simulator's board: luma's real OLED driver on a fake bus that decodes the controller's
protocol (what is recorded is what the panel would hold), a MAX17048 gauge on a fake bus, a
keypad fed by a script or by terminal keystrokes, shutdown as a dry run.

Headless (a script, a recording) it runs on a virtual clock: deterministic frames, no waiting.
Interactive it runs in real time and also draws into the terminal.
"""

from __future__ import annotations

from typing import Callable

from parrot.boards import Board
from parrot.clock import VirtualClock, WallClock
from parrot.events import Event, Quit


class SimBoard(Board):
    name = "sim"

    def __init__(self, chip: str = "ssd1306", battery_percent: float | None = 80.0, wall_start: float = 0.0,
                 headless: bool = True, term_style: str = "half", partial: bool = True, record_speech: bool = False,
                 terminal: bool | None = None, wav_in: list[str] | None = None):
        """headless: a virtual clock (scripts, recordings); else the wall clock. terminal: draw
        into this terminal and read its keys (default: when not headless; a web board says no)."""
        clock = VirtualClock(wall_start) if headless else WallClock()
        super().__init__(clock)
        from parrot.display.fake_oled import FakeOledBus
        from parrot.sim.keypad import SimKeypad

        self.chip = chip
        self.headless = headless
        self.terminal = (not headless) if terminal is None else terminal
        self.term_style = term_style
        self.partial = partial
        self.oled_bus = FakeOledBus(chip)  # the panel's RAM: what the recorder reads back
        self.sim_keypad = SimKeypad(self.clock.now)
        self.battery_percent = battery_percent
        self.shutdowns = 0
        # --wav-out: a speaker that records what the appliance says on the board's clock
        self.speech_recording = None
        self.wav_in = list(wav_in or [])
        if record_speech:
            from parrot.audio.sim import RecordingOut

            self.speech_recording = RecordingOut(self.clock.now)

    def display(self):
        from parrot.display import MultiDisplay
        from parrot.display.oled import open_oled

        displays = [open_oled(self.chip, port=1, address=0x3C, bus=self.oled_bus, partial=self.partial)]
        if self.terminal:
            from parrot.sim.terminal import TerminalDisplay

            displays.append(TerminalDisplay(style=self.term_style))
        return MultiDisplay(*displays)

    def keypad(self):
        return self.sim_keypad

    def gauge(self):
        if self.battery_percent is None:
            return None
        from parrot.keypad.fakes import FakeMax17048Bus
        from parrot.power.battery import BatteryGauge

        bus = FakeMax17048Bus()
        bus.set_battery(volts=3.5 + 0.7 * self.battery_percent / 100, percent=self.battery_percent)
        return BatteryGauge(bus)

    def power_off(self) -> str | None:
        self.shutdowns += 1
        from parrot.power.shutdown import SafeShutdown

        return SafeShutdown(dry_run=True).run()  # logs what the device would run

    def audio_in(self):
        """--wav-in: each press of the talk key hears the next WAV, from the moment it goes down."""
        if not self.wav_in:
            return super().audio_in()
        from parrot.audio.sim import WavFileIn

        return WavFileIn(self.wav_in, self.clock.now)

    def audio_out(self):
        return self.speech_recording or super().audio_out()

    def frame(self):
        """What the emulated panel shows now."""
        return self.oled_bus.image()

    def tasks(self, post: Callable[[Event], None]) -> list:
        if not self.terminal:
            return []
        from parrot.sim.terminal import read_terminal_keys

        return [read_terminal_keys(self.sim_keypad.hold, lambda: post(Quit("user")))]
