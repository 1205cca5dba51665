"""Boards: one small class per target that supplies every edge of the appliance.

The app never names a chip, a bus or a library: `parrot.app.assemble.build_appliance(board,
config, ...)` asks the board for its parts and wires them to the one app and runtime. A new
target is a new Board subclass, nothing else (the xiaozhi-esp32 idea).

The interface (every method is called once, by build_appliance, which then owns the result):

    clock                 Clock (parrot.clock): `now()`, `wall(t)`, `virtual`. A virtual clock
                          makes the runtime step the model one event per tick (deterministic).
    display()             Display (parrot.display): show(image), set_contrast(0..255),
                          power(on), close().
    keypad()              KeypadDriver (parrot.keypad.driver): read() -> Key | None, or None
                          for no keypad. Polled every keypad.poll_ms by the same poller and
                          key tracker on every board (debounce, long press, repeat).
    gauge()               a battery gauge: read() -> BatteryReading | None (None: no answer),
                          or None when the board has none.
    power_off()           sync and power off; None when done, else a one-line reason.
    audio_in()            AudioIn (parrot.audio.ports); NullAudioIn when there is no mic.
    audio_out()           AudioOut (parrot.audio.ports); NullAudioOut when there is no speaker.
    tasks(post)           extra coroutines that run beside the runtime in real time (the
                          terminal's key reader, a web page's server); `post(event)` feeds the
                          app (e.g. Quit). Not used on a virtual clock.
    close()               release what the board opened (buses, servers).

Subclasses here: DeviceBoard (parrot.boards.device: the config's I2C parts, wall clock),
SimBoard (parrot.boards.sim: emulated OLED and gauge on fake buses, a scripted/terminal keypad,
virtual clock when headless), TestBoard (parrot.boards.test: in-memory parts for the tests).
A web board is a SimBoard whose display() and keypad() live in a browser page; voice work
returns real AudioIn/AudioOut adapters from audio_in()/audio_out().
"""

from __future__ import annotations

from typing import Callable

from parrot.audio.ports import AudioIn, AudioOut, NullAudioIn, NullAudioOut
from parrot.clock import Clock, WallClock
from parrot.events import Event


class Board:
    name = "board"

    def __init__(self, clock: Clock | None = None):
        self.clock: Clock = clock or WallClock()

    def display(self):
        raise NotImplementedError

    def keypad(self):
        return None

    def gauge(self):
        return None

    def power_off(self) -> str | None:
        return f"the {self.name} board cannot power off"

    def audio_in(self) -> AudioIn:
        return NullAudioIn()

    def audio_out(self) -> AudioOut:
        return NullAudioOut()

    def tasks(self, post: Callable[[Event], None]) -> list:
        return []

    def close(self) -> None:
        pass
