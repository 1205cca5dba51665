"""Opening /dev/i2c-N: a clear DeviceError, never a traceback."""

import threading
import time

import pytest

from parrot.errors import DeviceError
from parrot.keypad.bus import LockedBus, open_i2c_bus
from parrot.keypad.fakes import FakeClock, FakeSeedKeypadBus
from parrot.keypad.seed_module import SeedKeypadModule
from parrot.keys import Key


def test_missing_bus_is_a_device_error_naming_the_path():
    with pytest.raises(DeviceError, match=r"I2C bus /dev/i2c-250 not found"):
        open_i2c_bus(250)


@pytest.mark.parametrize("port", [-1, "1", 1.5, True])
def test_bad_bus_number(port):
    with pytest.raises(DeviceError, match="whole number"):
        open_i2c_bus(port)


def test_locked_bus_delegates_and_serializes():
    clock = FakeClock()
    bus = FakeSeedKeypadBus(clock=clock)
    shared = LockedBus(bus)
    bus.hold(Key.K3)
    assert SeedKeypadModule(shared, sleep=clock.sleep).read() is Key.K3
    busy, overlaps = threading.Lock(), []

    class Probe:
        def read_byte(self, addr):
            if not busy.acquire(blocking=False):
                overlaps.append(addr)  # another thread is mid-transfer
                return 0
            time.sleep(0.0002)  # let the other threads run into us
            busy.release()
            return 0

    def hammer(bus):
        threads = [threading.Thread(target=lambda: [bus.read_byte(0x27) for _ in range(30)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    hammer(LockedBus(Probe()))
    assert overlaps == []
    hammer(Probe())  # the probe does see overlaps without the lock
    assert overlaps
