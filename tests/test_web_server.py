"""The web simulator's server without a browser: protocol, key holds, loopback only."""
import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from parrot.display.fake_oled import FakeOledBus
from parrot.display.oled import open_oled
from parrot.errors import UserError
from parrot.keypad.fakes import FakeSeedKeypadBus
from parrot.keys import Key
from parrot.web.server import check_loopback
from parrot.web.server import WebSimServer


def _server():
    from PIL import Image, ImageDraw

    bus = FakeOledBus("ssd1306")
    display = open_oled("ssd1306", port=1, address=0x3C, bus=bus)
    image = Image.new("1", (128, 64), 0)
    ImageDraw.Draw(image).rectangle((0, 0, 9, 3), fill=1)  # 10x4 lit pixels, top left
    display.show(image)
    return WebSimServer(bus, FakeSeedKeypadBus()), image


def test_frame_is_the_panels_ram_packed_row_major():
    server, image = _server()
    bits = server.frame_bits()
    assert len(bits) == 128 * 64 // 8
    assert bits == image.tobytes()
    assert bits[0] == 0xFF and bits[1] == 0xC0 and bits[16 * 4] == 0  # row 0: 10 pixels; row 4: none
    server.oled_bus.display_on = False  # the panel switched off (0xAE) shows nothing
    assert server.frame_bits() == bytes(1024)


def test_websocket_sends_the_frame_and_holds_keys_until_release_or_disconnect():
    server, image = _server()

    async def scenario():
        async with TestClient(TestServer(server.make_app())) as client:
            ws = await client.ws_connect("/ws")
            panel = json.loads((await ws.receive()).data)
            assert panel["on"] is True
            assert (await ws.receive()).data == image.tobytes()
            await ws.send_str(json.dumps({"key": "5", "down": True}))
            await ws.send_str(json.dumps({"key": "a", "down": True}))
            await ws.send_str("not json")  # ignored, logged
            await asyncio.sleep(0.05)
            assert server.keypad_bus.held.now() == {Key.K5, Key.A}
            await ws.send_str(json.dumps({"key": "5", "down": False}))
            await asyncio.sleep(0.05)
            assert server.keypad_bus.held.now() == {Key.A}
            await ws.close()  # the page went away with A still down
            await asyncio.sleep(0.05)
            assert server.keypad_bus.held.now() == set()
            png = await client.get("/frame.png")
            assert png.status == 200 and png.content_type == "image/png"
            page = await client.get("/")
            assert "image-rendering: pixelated" in await page.text()

    asyncio.run(scenario())


def test_loopback_only():
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    assert check_loopback("localhost") == "127.0.0.1"
    for host in ("0.0.0.0", "192.168.1.5", "example.org"):
        with pytest.raises(UserError, match="loopback only"):
            check_loopback(host)


def test_web_board_runs_the_appliance_through_the_page_protocol(tmp_path):
    """Without a browser: the WebBoard built by build_appliance, a websocket client pressing keys."""
    import aiohttp

    from parrot.app.assemble import build_appliance
    from parrot.boards.web import WebBoard
    from parrot.config import Config, validate
    from parrot.events import Quit

    urls = []
    board = WebBoard(port=0, on_ready=urls.append)
    appliance = build_appliance(board, Config(validate({"ui": {"splash_s": 0}})), tmp_path, backend="echo")
    board.server.describe = lambda: {"screen": appliance.screen}
    screens, frames = [], []

    async def client():
        while not urls:
            await asyncio.sleep(0.02)
        async with aiohttp.ClientSession() as session, session.ws_connect(urls[0] + "ws") as ws:

            async def until_screen(name):
                for _ in range(200):
                    async with session.get(urls[0] + "state") as r:
                        if (await r.json())["screen"] == name:
                            screens.append(name)
                            return
                    await asyncio.sleep(0.02)

            await until_screen("splash")
            for down in (True, False):
                await ws.send_str(json.dumps({"key": "5", "down": down}))
                await asyncio.sleep(0.1)
            await until_screen("menu")
            await asyncio.sleep(0.2)
            async for msg in ws:  # the frames, up to the one the panel holds now (the menu)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    frames.append(msg.data)
                    if msg.data == board.frame().tobytes():
                        break
        appliance.post(Quit("test"))

    async def main():
        task = asyncio.ensure_future(client())
        await appliance.run()
        await task

    try:
        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        appliance.close()
    assert screens == ["splash", "menu"]
    assert frames[-1] == board.frame().tobytes() and len(frames) >= 2  # the menu came after what was there
