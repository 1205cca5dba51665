"""The web simulator's board: the sim board whose screen and keypad live in a browser page.

The display is the sim board's: luma's real OLED driver on the fake bus (the page shows the panel's
RAM as the controller decoded it); the keypad is the device's own seed-module driver on a fake
I2C bus that the page holds keys on, so the poller, debouncer and long-press tracker that read
it are the device's. Real time (a person clicks); the server is the board's task.
"""

from __future__ import annotations

from typing import Callable

from parrot.boards.sim import SimBoard
from parrot.events import Event


class WebBoard(SimBoard):
    name = "web"

    def __init__(self, chip: str = "ssd1306", battery_percent: float | None = 80.0, host: str = "127.0.0.1",
                 port: int = 8128, partial: bool = True, on_ready: Callable[[str], None] | None = None):
        super().__init__(chip=chip, battery_percent=battery_percent, headless=False, partial=partial, terminal=False)
        from parrot.keypad.fakes import FakeSeedKeypadBus
        from parrot.web.server import WebSimServer

        self.keypad_bus = FakeSeedKeypadBus(clock=self.clock.now)
        self.server = WebSimServer(self.oled_bus, self.keypad_bus, host, port, on_ready=on_ready)

    def keypad(self):
        from parrot.keypad.seed_module import SeedKeypadModule

        return SeedKeypadModule(self.keypad_bus)

    def tasks(self, post: Callable[[Event], None]) -> list:
        return [self.server.run()]
