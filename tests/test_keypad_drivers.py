"""The two keypad drivers against fakes that behave like the documented devices."""

import errno

import pytest

from parrot.errors import ConfigError
from parrot.keypad.driver import KeypadDriver, KeypadProtocolError, parse_layout
from parrot.keypad.fakes import FakeClock, FakePCF8574Bus, FakeSeedKeypadBus
from parrot.keypad.pcf8574 import PCF8574Keypad
from parrot.keypad.seed_module import SeedKeypadModule
from parrot.keys import DEFAULT_LAYOUT, Key

CUSTOM_LAYOUT = "D#0*C987B654A321"  # a module mounted upside down


def seed_pair(layout=DEFAULT_LAYOUT, module_layout=None):
    clock = FakeClock()
    bus = FakeSeedKeypadBus(clock=clock, layout=module_layout or layout)
    return bus, SeedKeypadModule(bus, layout=layout, sleep=clock.sleep)


@pytest.mark.parametrize("index,label", list(enumerate(DEFAULT_LAYOUT)))
def test_seed_module_reports_every_key_of_the_default_grid(index, label):
    bus, driver = seed_pair()
    assert driver.read() is None
    bus.hold(Key.from_label(label))
    assert driver.read() is Key.from_label(label)
    bus.release()
    assert driver.read() is None


def test_seed_module_custom_layout():
    bus, driver = seed_pair(layout=CUSTOM_LAYOUT)
    for label in CUSTOM_LAYOUT:
        bus.hold(Key.from_label(label))
        assert driver.read() is Key.from_label(label)
        bus.release()


def test_seed_module_wrong_layout_is_visible():
    # The module is wired per CUSTOM_LAYOUT; a driver with the default table misreads: the
    # table matters (this test fails if the driver ignores its layout).
    bus, driver = seed_pair(layout=DEFAULT_LAYOUT, module_layout=CUSTOM_LAYOUT)
    bus.hold(Key.K1)  # index 15 on the custom module
    assert driver.read() is Key.D


def test_seed_module_out_of_range_answer_is_a_protocol_error_then_recovers():
    bus, driver = seed_pair()
    bus.hold(Key.K4)
    bus.answer_garbage(0x11, 0xFF)
    for _ in range(2):
        with pytest.raises(KeypadProtocolError) as info:
            driver.read()
        assert isinstance(info.value, OSError)
    assert driver.read() is Key.K4


def test_seed_module_waits_for_the_answer():
    clock = FakeClock()
    bus = FakeSeedKeypadBus(clock=clock)
    impatient = SeedKeypadModule(bus, sleep=lambda s: None)
    patient = SeedKeypadModule(bus, sleep=clock.sleep)
    bus.hold(Key.K8)
    with pytest.raises(KeypadProtocolError):  # never answered yet: power-on garbage
        impatient.read()
    assert patient.read() is Key.K8
    bus.release()
    assert impatient.read() is Key.K8  # stale: the module had no time to update
    assert patient.read() is None


def test_seed_module_wrong_address_is_remote_io_error():
    clock = FakeClock()
    driver = SeedKeypadModule(FakeSeedKeypadBus(clock=clock), address=0x28, sleep=clock.sleep)
    with pytest.raises(OSError) as info:
        driver.read()
    assert info.value.errno == errno.EREMOTEIO


@pytest.mark.parametrize("layout", ["123", "123A456B789C*0#X", "123A456B789C*0#1", 5])
def test_bad_layout_is_a_config_error(layout):
    with pytest.raises(ConfigError):
        parse_layout(layout)


def test_drivers_implement_the_protocol():
    clock = FakeClock()
    assert isinstance(SeedKeypadModule(FakeSeedKeypadBus(clock=clock)), KeypadDriver)
    assert isinstance(PCF8574Keypad(FakePCF8574Bus(clock=clock)), KeypadDriver)


@pytest.mark.parametrize("label", list(DEFAULT_LAYOUT))
def test_pcf8574_reports_every_key(label):
    bus = FakePCF8574Bus(clock=FakeClock())
    driver = PCF8574Keypad(bus)
    assert driver.read() is None
    bus.hold(Key.from_label(label))
    assert driver.read() is Key.from_label(label)


def test_pcf8574_idle_read_is_two_transfers():
    bus = FakePCF8574Bus(clock=FakeClock())
    PCF8574Keypad(bus).read()
    assert bus.transfers == 2


def test_pcf8574_custom_pins_and_layout():
    rows, columns = (7, 5, 3, 1), (6, 4, 2, 0)
    bus = FakePCF8574Bus(clock=FakeClock(), row_pins=rows, column_pins=columns, layout=CUSTOM_LAYOUT, address=0x21)
    driver = PCF8574Keypad(bus, address=0x21, row_pins=rows, column_pins=columns, layout=CUSTOM_LAYOUT)
    for label in CUSTOM_LAYOUT:
        bus.hold(Key.from_label(label))
        assert driver.read() is Key.from_label(label)
        bus.release()
    # and the default pin assignment misreads this wiring (the pins matter)
    bus.hold(Key.K5)
    assert PCF8574Keypad(bus, address=0x21, layout=CUSTOM_LAYOUT).read() is not Key.K5


def test_pcf8574_several_keys_first_in_scan_order():
    bus = FakePCF8574Bus(clock=FakeClock())
    driver = PCF8574Keypad(bus)
    bus.hold(Key.D)
    bus.hold(Key.K6)
    assert driver.read() is Key.K6  # row 1 scanned before row 3
    bus.hold(Key.K4)
    assert driver.read() is Key.K4  # same row: leftmost column first


def test_pcf8574_fake_shows_ghost_key_like_a_diodeless_matrix():
    bus = FakePCF8574Bus(clock=FakeClock())
    for label in "254":  # an L of three keys: 2 (r0c1), 5 (r1c1), 4 (r1c0)
        bus.hold(Key.from_label(label))
    assert PCF8574Keypad(bus).read() is Key.K1  # r0c0 reads closed through the other three


def test_pcf8574_fault_mid_scan_raises_oserror():
    bus = FakePCF8574Bus(clock=FakeClock())
    driver = PCF8574Keypad(bus)
    bus.hold(Key.C)
    bus.fail_next(3)
    for _ in range(3):
        with pytest.raises(OSError):
            driver.read()
    assert driver.read() is Key.C


@pytest.mark.parametrize(
    "kwargs", [{"row_pins": (0, 1, 2)}, {"row_pins": (0, 1, 2, 4)}, {"column_pins": (4, 5, 6, 8)}]
)
def test_pcf8574_bad_pins_rejected(kwargs):
    with pytest.raises(ConfigError):
        PCF8574Keypad(FakePCF8574Bus(clock=FakeClock()), **kwargs)
