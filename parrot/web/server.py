"""The web simulator's server (aiohttp): the page, the live screen and the keypad over a websocket.

The screen is read back from the emulated panel (FakeOledBus: the bytes luma's real driver sent,
decoded as the controller would), not from the app: the page shows what the OLED would show.
Keys clicked on the page are held on the keypad's fake I2C bus; the real keypad driver, poller
and key tracker read them (debounce, long press and repeat as on the device).

Protocol on /ws (one page or several: all see the screen, any can press):
  server -> page  binary: one frame, 128x64 1-bit packed row-major, MSB first (1024 bytes)
                  text:   {"on": bool, "contrast": 0..255} when the panel's power or contrast change
  page -> server  text:   {"key": "5", "down": true} / {"key": "5", "down": false}
GET /frame.png is the current frame (1x PNG), GET /state what the app shows ({"screen": "menu"}),
GET / the page.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import logging
from importlib import resources
from typing import Callable

from aiohttp import WSMsgType, web

from parrot.errors import UserError
from parrot.keys import Key

log = logging.getLogger(__name__)

FRAME_POLL_S = 0.03  # how often the panel is read back (the app draws at most ui.fps a second)


def check_loopback(host: str) -> str:
    """The simulator is for this machine only: it serves no one else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise UserError(f"--host {host}: the web simulator listens on loopback only (127.0.0.1 or ::1)")


class WebSimServer:
    """Serves one emulated panel and one fake keypad bus on host:port (port 0: any free one)."""

    def __init__(self, oled_bus, keypad_bus, host: str = "127.0.0.1", port: int = 8128,
                 on_ready: Callable[[str], None] | None = None, describe: Callable[[], dict] | None = None):
        self.oled_bus = oled_bus
        self.keypad_bus = keypad_bus
        self.host, self.port = host, port
        self.on_ready = on_ready
        self.describe = describe  # what the app shows, for GET /state (tests, scripts)
        self.url = ""
        self._sockets: set[web.WebSocketResponse] = set()
        self._frame = b""
        self._panel = {}  # {"on": ..., "contrast": ...} last sent
        self._held: dict[int, set[Key]] = {}  # per socket: keys it holds down

    # --- what the panel shows -------------------------------------------------------------
    def frame_bits(self) -> bytes:
        """The panel now, 1024 bytes; dark while the panel is switched off."""
        image = self.oled_bus.image()
        bits = image.convert("1").tobytes()
        return bits if self.oled_bus.display_on else bytes(len(bits))

    def panel_state(self) -> dict:
        return {"on": bool(self.oled_bus.display_on), "contrast": self.oled_bus.contrast}

    # --- keys -------------------------------------------------------------------------------
    def key(self, socket_id: int, label: str, down: bool) -> None:
        try:
            key = Key.from_label(label)
        except ValueError:
            log.warning("web: unknown key %r", label)
            return
        held = self._held.setdefault(socket_id, set())
        if down:
            held.add(key)
            self.keypad_bus.hold(key)
        elif key in held:
            held.discard(key)
            if not any(key in keys for keys in self._held.values()):
                self.keypad_bus.release(key)

    def _release_all(self, socket_id: int) -> None:
        for key in list(self._held.get(socket_id, ())):
            self.key(socket_id, key.value, False)
        self._held.pop(socket_id, None)

    # --- http -------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/frame.png", self._frame_png)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/state", self._state)
        return app

    async def _page(self, request):
        html = resources.files("parrot.web").joinpath("data/index.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html")

    async def _frame_png(self, request):
        buf = io.BytesIO()
        self.oled_bus.image().save(buf, "PNG")
        return web.Response(body=buf.getvalue(), content_type="image/png", headers={"Cache-Control": "no-store"})

    async def _state(self, request):
        return web.json_response(self.describe() if self.describe else {})

    async def _websocket(self, request):
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self._sockets.add(ws)
        sid = id(ws)
        try:
            await ws.send_str(json.dumps(self.panel_state()))
            await ws.send_bytes(self.frame_bits())
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                    self.key(sid, str(data["key"]), bool(data["down"]))
                except (ValueError, KeyError, TypeError):
                    log.warning("web: bad message %r", msg.data[:80])
        finally:
            self._sockets.discard(ws)
            self._release_all(sid)  # a page closed with a key down does not hold it forever
        return ws

    async def _broadcast(self, payload) -> None:
        for ws in list(self._sockets):
            try:
                if isinstance(payload, bytes):
                    await ws.send_bytes(payload)
                else:
                    await ws.send_str(payload)
            except (ConnectionError, RuntimeError):
                self._sockets.discard(ws)

    # --- running ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Serves until cancelled (a task beside the runtime, on the same event loop)."""
        runner = web.AppRunner(self.make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
            port = runner.addresses[0][1]
            self.url = f"http://{self.host}:{port}/"
            if self.on_ready:
                self.on_ready(self.url)
            while True:
                frame, panel = self.frame_bits(), self.panel_state()
                if panel != self._panel:
                    self._panel = panel
                    await self._broadcast(json.dumps(panel))
                if frame != self._frame:
                    self._frame = frame
                    await self._broadcast(frame)
                await asyncio.sleep(FRAME_POLL_S)
        finally:
            for ws in list(self._sockets):
                await ws.close()
            await runner.cleanup()
