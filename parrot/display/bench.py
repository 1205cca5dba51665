"""Display: render time per frame and I2C bytes per update while an answer streams in."""

from __future__ import annotations

import statistics
import time

from parrot.cliargs import int_range

I2C_HZ = 400_000
BITS_PER_BYTE = 9  # 8 data bits + ACK

ANSWER = (
    "鹦鹉是一类色彩鲜艳的鸟，能模仿人说话。它们生活在热带和亚热带地区，"
    "以种子、果实和花蜜为食。很多鹦鹉能活几十年，所以养鹦鹉是一件需要长期负责的事情。"
    "Parrots can learn hundreds of words, 有些还能理解简单的意思。"
) * 2


def add_arguments(parser) -> None:
    parser.add_argument("--chip", default="ssd1306", choices=("ssd1306", "sh1106", "ssd1309"))
    parser.add_argument("--chars-per-token", type=int_range(1, 1000), default=2, help="characters appended per frame")


def run(args) -> int:
    from parrot.display.fake_oled import FakeOledBus
    from parrot.display.oled import make_luma_device, open_oled
    from parrot.ui.canvas import Canvas
    from parrot.ui.font import load_font
    from parrot.ui.layout import TextView

    # The chat screen's drawing, without the app (arrows point down): a title bar over a
    # scrolling text view that the answer streams into.
    canvas = Canvas(load_font(12))
    lh = canvas.font.line_height
    view = TextView(canvas.font, 123, (64 - 14) // lh, "问：给我讲讲鹦鹉\n答：")

    def render():
        canvas.clear()
        canvas.fill_rect(0, 0, 128, 12)
        canvas.text(1, 0, "鹦鹉", fill=0)
        for row, line in enumerate(view.visible()):
            canvas.text(1, 14 + row * lh, line)
        return canvas

    partial_bus, full_bus = FakeOledBus(args.chip), FakeOledBus(args.chip)
    partial = open_oled(args.chip, 1, 0x3C, bus=partial_bus, partial=True)
    full_device = make_luma_device(args.chip, bus=full_bus)  # luma's own whole-frame display()
    render_ms, partial_bytes, full_bytes, push_ms, full_push_ms = [], [], [], [], []
    step = max(1, args.chars_per_token)
    for i in range(0, len(ANSWER), step):
        view.append(ANSWER[i:i + step])
        t0 = time.perf_counter()
        image = render().image
        t1 = time.perf_counter()
        b0 = partial_bus.wire_bytes
        partial.show(image)
        t2 = time.perf_counter()
        partial_bytes.append(partial_bus.wire_bytes - b0)
        b0 = full_bus.wire_bytes
        full_device.display(image)
        t3 = time.perf_counter()
        full_bytes.append(full_bus.wire_bytes - b0)
        render_ms.append((t1 - t0) * 1000)
        push_ms.append((t2 - t1) * 1000)
        full_push_ms.append((t3 - t2) * 1000)
    assert (partial_bus.image().tobytes() == full_bus.image().tobytes()), "partial updates diverged from full frames"

    def wire_ms(n: float) -> float:
        return n * BITS_PER_BYTE / I2C_HZ * 1000

    n = len(render_ms)
    mean_partial, mean_full = statistics.mean(partial_bytes), statistics.mean(full_bytes)
    print(f"display bench: {n} frames of a streaming answer ({step} chars/frame), chip {args.chip}, I2C {I2C_HZ // 1000} kHz")
    print(f"  render (text view -> framebuffer): median {statistics.median(render_ms):.2f} ms, p95 {_p(render_ms, 95):.2f} ms")
    print(f"  encode+send, changed pages : median {statistics.median(push_ms):.2f} ms CPU, "
          f"{mean_partial:.0f} B/frame on the wire = {wire_ms(mean_partial):.2f} ms")
    print(f"  encode+send, full frame    : median {statistics.median(full_push_ms):.2f} ms CPU, "
          f"{mean_full:.0f} B/frame on the wire = {wire_ms(mean_full):.2f} ms")
    print(f"  ratio full/changed-pages   : {mean_full / max(mean_partial, 1):.1f}x fewer I2C bytes")
    return 0


def _p(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]
