"""Simulated outputs: record frames to a GIF and/or numbered PNGs (scaled up, crisp pixels)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from parrot.storage import atomic_write

# An OLED's look: light pixels on black.
ON = (235, 245, 255)
OFF = (8, 10, 16)


def scale_frame(image: Image.Image, scale: int) -> Image.Image:
    """1-bit frame -> RGB, scaled by an integer with nearest-neighbour (no blur)."""
    rgb = Image.new("RGB", image.size, OFF)
    rgb.paste(ON, (0, 0), image.convert("1"))
    return rgb.resize((image.width * scale, image.height * scale), Image.NEAREST)


class FrameRecorder:
    """Keeps every distinct frame with its (simulated) time."""

    def __init__(self, frames_dir: str | Path | None = None, scale: int = 4):
        self.frames: list[tuple[float, Image.Image]] = []
        self.frames_dir = Path(frames_dir) if frames_dir else None
        self.scale = scale
        if self.frames_dir:
            self.frames_dir.mkdir(parents=True, exist_ok=True)

    def add(self, t: float, image: Image.Image) -> None:
        if self.frames and self.frames[-1][1].tobytes() == image.tobytes():
            return  # unchanged
        frame = image.copy()
        self.frames.append((t, frame))
        if self.frames_dir:
            self.save_png(self.frames_dir / f"frame_{len(self.frames):05d}.png", frame)

    @property
    def last(self) -> Image.Image | None:
        return self.frames[-1][1] if self.frames else None

    def save_png(self, path: Path, frame: Image.Image) -> None:
        buf = io.BytesIO()
        scale_frame(frame, self.scale).save(buf, "PNG")
        atomic_write(path, buf.getvalue())

    def save_gif(self, path: str | Path, end_time: float, scale: int = 3) -> None:
        if not self.frames:
            raise ValueError("no frames recorded")
        images, durations = [], []
        for i, (t, frame) in enumerate(self.frames):
            t_next = self.frames[i + 1][0] if i + 1 < len(self.frames) else max(end_time, t + 1.0)
            ms = max(20, int(round((t_next - t) * 1000)))
            images.append(scale_frame(frame, scale).convert("P", palette=Image.ADAPTIVE, colors=2))
            durations.append(ms)
        buf = io.BytesIO()
        images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=False)
        atomic_write(path, buf.getvalue())
