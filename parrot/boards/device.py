"""The real box: OLED, keypad and battery gauge on the I2C buses named in the config, safe
shutdown by the configured command, the wall clock. `buses` ({"display"|"keypad"|"battery":
smbus-like}) replaces the real buses: bring-up without hardware and the device test."""

from __future__ import annotations

from parrot.boards import Board
from parrot.config import Config


class NoDisplay:
    """display.driver = "none": a headless box (frames go nowhere)."""

    def show(self, image) -> None:
        pass

    def set_contrast(self, level: int) -> None:
        pass

    def power(self, on: bool) -> None:
        pass

    def close(self) -> None:
        pass


class DeviceBoard(Board):
    name = "device"

    def __init__(self, config: Config, buses: dict | None = None):
        super().__init__()
        self.config = config
        self.buses = buses or {}

    def display(self):
        from parrot.display.oled import open_oled

        d = self.config.display
        if d.driver == "none":
            return NoDisplay()
        return open_oled(d.driver, d.port, d.address, rotate=d.rotate, partial=d.partial_updates,
                         bus=self.buses.get("display"))

    def keypad(self):
        from parrot.keypad.wiring import keypad_driver_from_config

        return keypad_driver_from_config(self.config["keypad"], bus=self.buses.get("keypad"))

    def gauge(self):
        from parrot.keypad.wiring import gauge_from_config

        return gauge_from_config(self.config["battery"], bus=self.buses.get("battery"))

    def _audio(self):
        if getattr(self, "_ports", None) is None:
            from parrot.speech.engines import make_audio

            self._ports = make_audio(self.config["audio"])  # [audio]: sounddevice, or none
        return self._ports

    def audio_in(self):
        return self._audio()[0]

    def audio_out(self):
        return self._audio()[1]

    def power_off(self) -> str | None:
        from parrot.keypad.wiring import shutdown_from_config

        return shutdown_from_config(self.config["power"]).run()
