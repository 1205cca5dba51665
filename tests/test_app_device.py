"""`parrot run`'s assembly on fake I2C buses that behave like the seed's box: the real keypad
driver, poller and gauge feed the app, and luma's driver draws on the emulated SSD1306."""

import asyncio

import numpy as np

from parrot.app.assemble import build_appliance
from parrot.app.state import ScreenName
from parrot.boards.device import DeviceBoard
from parrot.config import Config, validate
from parrot.display.fake_oled import FakeOledBus
from parrot.keypad.fakes import FakeApplianceBus
from parrot.keys import Key


def test_device_boots_reads_keys_and_battery(tmp_path):
    config = Config(validate({"ui": {"splash_s": 0.0}, "battery": {"poll_s": 1}}))
    oled, appliance = FakeOledBus(), FakeApplianceBus()
    appliance.set_battery(volts=3.7, percent=42.0)
    board = DeviceBoard(config, buses={"display": oled, "keypad": appliance, "battery": appliance})
    device = build_appliance(board, config, tmp_path, backend="echo")
    app = device.runtime.app

    async def user():
        await asyncio.sleep(0.3)
        appliance.hold(Key.D)  # splash -> menu
        await asyncio.sleep(0.1)
        appliance.release()
        await asyncio.sleep(0.2)
        appliance.fail_next(3)  # a glitch on the bus while the next key is down
        appliance.hold(Key.HASH)
        await asyncio.sleep(0.1)
        appliance.release()
        await asyncio.sleep(0.4)
        device.runtime.stopped = True

    async def main():
        await asyncio.gather(device.run(), user())

    try:
        asyncio.run(main())
    finally:
        device.close()
    assert app.screen.name is ScreenName.MENU
    assert app.screen.list.index == 1, "one # press, neither lost nor doubled by the bus glitch"
    assert app.status.battery == 42.0
    shown = np.asarray(oled.image())
    assert shown.any() and np.array_equal(shown, np.asarray(app.canvas.image))
    assert oled.contrast == app.settings["contrast"], "the user's contrast is applied at boot"
