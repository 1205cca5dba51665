"""The OLED adapter: luma's real drivers over a fake bus that decodes the controller protocol."""

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from parrot.display.fake_oled import FakeOledBus
from parrot.display.oled import make_luma_device, open_oled
from parrot.display.pages import changed_spans, image_to_pages, pages_to_image
from parrot.errors import DeviceError


def random_frame(rng, base=None):
    img = base.copy() if base else Image.new("1", (128, 64))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 4)):
        x, y = rng.randrange(128), rng.randrange(64)
        d.rectangle((x, y, min(127, x + rng.randrange(20)), min(63, y + rng.randrange(10))), fill=rng.randrange(2))
    return img


def test_pages_roundtrip_and_bit_order():
    img = Image.new("1", (128, 64))
    img.putpixel((5, 0), 1)  # page 0, bit 0
    img.putpixel((5, 15), 1)  # page 1, bit 7
    pages = image_to_pages(img)
    assert pages[0, 5] == 0x01 and pages[1, 5] == 0x80 and pages.sum() == 0x81
    assert pages_to_image(pages).tobytes() == img.tobytes()


def test_changed_spans():
    a = np.zeros((8, 128), np.uint8)
    b = a.copy()
    b[3, 10] = 1
    b[3, 40] = 2
    b[7, 127] = 1
    assert changed_spans(a, b) == [(3, 10, 40), (7, 127, 127)]
    assert len(changed_spans(None, b)) == 8


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106", "ssd1309"])
def test_partial_updates_match_the_intended_picture(chip):
    rng = random.Random(1)
    bus = FakeOledBus(chip)
    display = open_oled(chip, 1, 0x3C, bus=bus)
    assert bus.display_on
    frame = None
    for _ in range(60):
        frame = random_frame(rng, frame)
        display.show(frame)
        assert bus.image().tobytes() == frame.tobytes()


def test_partial_sends_far_fewer_bytes_than_luma_full_frames():
    full_bus, part_bus = FakeOledBus(), FakeOledBus()
    full = make_luma_device("ssd1306", bus=full_bus)
    part = open_oled("ssd1306", 1, 0x3C, bus=part_bus)
    img = Image.new("1", (128, 64))
    full.display(img)
    part.show(img)
    img.putpixel((64, 32), 1)
    b_full, b_part = full_bus.wire_bytes, part_bus.wire_bytes
    full.display(img)
    part.show(img)
    assert full_bus.wire_bytes - b_full > 1024
    assert part_bus.wire_bytes - b_part < 20
    assert full_bus.image().tobytes() == part_bus.image().tobytes() == img.tobytes()


def test_rotation_180():
    bus = FakeOledBus()
    display = open_oled("ssd1306", 1, 0x3C, bus=bus, rotate=2)
    img = Image.new("1", (128, 64))
    img.putpixel((0, 0), 1)
    display.show(img)
    assert bus.image().getpixel((127, 63)) and not bus.image().getpixel((0, 0))


def test_bus_fault_resends_whole_frame_and_never_raises(caplog):
    bus = FakeOledBus()
    display = open_oled("ssd1306", 1, 0x3C, bus=bus)
    img = Image.new("1", (128, 64))
    display.show(img)
    img2 = img.copy()
    ImageDraw.Draw(img2).rectangle((0, 0, 127, 20), fill=1)
    bus.fail_next = 1
    display.show(img2)  # NACK in the middle: logged, not raised
    assert "display write failed" in caplog.text
    display.show(img2)  # recovers with a full resend
    assert bus.image().tobytes() == img2.tobytes()


def test_absent_display_is_a_device_error():
    bus = FakeOledBus(address=0x3D)
    with pytest.raises(DeviceError, match="0x3C"):
        open_oled("ssd1306", 1, 0x3C, bus=bus)


def test_missing_i2c_bus_is_a_device_error():
    with pytest.raises(DeviceError):
        open_oled("ssd1306", 250, 0x3C)


@pytest.mark.parametrize("chip", ["ssd1306", "sh1106"])
def test_power_glitch_is_recovered(chip, caplog):
    """The display loses power mid-session and comes back reset (dark): the next frame
    re-initialises it, restores the contrast and repaints the whole picture."""
    bus = FakeOledBus(chip)
    display = open_oled(chip, 1, 0x3C, bus=bus)
    display.set_contrast(0x40)
    img = Image.new("1", (128, 64))
    ImageDraw.Draw(img).text((4, 4), "before", fill=1)
    display.show(img)
    assert bus.display_on and bus.contrast == 0x40
    bus.unplug()
    img2 = img.copy()
    ImageDraw.Draw(img2).rectangle((0, 40, 127, 50), fill=1)
    display.show(img2)  # the write fails: logged, not raised
    display.show(img2)  # still away
    assert not bus.display_on
    bus.replug()
    assert not bus.display_on and not bus.image().getbbox()  # a reset controller: dark
    display.show(img2)
    assert bus.display_on and bus.contrast == 0x40
    assert bus.image().tobytes() == img2.tobytes()
    assert display.reinits == 1
    img3 = img2.copy()
    img3.putpixel((100, 10), 1)
    before = bus.transfers
    display.show(img3)  # back to small partial updates, no more re-inits
    assert bus.image().tobytes() == img3.tobytes() and display.reinits == 1
    assert bus.transfers - before <= 3
