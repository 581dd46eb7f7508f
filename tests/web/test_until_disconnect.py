"""The one disconnect watcher every websocket stream of the surface uses (ONCOP and the UI)."""

from __future__ import annotations

import trio
import trio.testing

from orkestra_trio.oncop.server import until_disconnect
from orkestra_trio.web import ui_routes


class FakeWebSocket:
    def __init__(self) -> None:
        self.send, self.inbox = trio.open_memory_channel[dict](10)

    async def receive(self) -> dict:
        return await self.inbox.receive()


async def test_ignores_messages_and_cancels_the_stream_on_disconnect():
    socket = FakeWebSocket()
    streamed = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(until_disconnect, socket, nursery.cancel_scope)

        async def stream() -> None:
            while True:
                streamed.append(1)
                await trio.sleep(1)

        nursery.start_soon(stream)
        await socket.send.send({"type": "websocket.receive", "text": "hello"})
        await trio.testing.wait_all_tasks_blocked()
        assert not nursery.cancel_scope.cancel_called
        await socket.send.send({"type": "websocket.disconnect"})
    assert nursery.cancel_scope.cancel_called and streamed
    socket.send.close()
    socket.inbox.close()


def test_the_control_center_uses_the_shared_watcher():
    assert ui_routes.until_disconnect is until_disconnect
    assert not hasattr(ui_routes, "_until_disconnect")
