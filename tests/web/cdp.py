"""A small Chrome DevTools Protocol driver for headless Chromium, Trio-native.

Just enough to test the Control Center in a real browser: start Chromium
with ``--remote-debugging-port=0``, read the port it picked from
``DevToolsActivePort``, open one page over a flat CDP session on the browser
websocket (trio-websocket), navigate, evaluate JavaScript, take screenshots.
No Selenium, no chromedriver, no new dependency.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]
#: Longest Chromium may take to start and print its DevTools port.
START_TIMEOUT = 20.0


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


class CdpError(Exception):
    pass


class Page:
    """One browser tab, driven through a flat CDP session."""

    def __init__(self, ws: WebSocketConnection, session_id: str) -> None:
        self._ws = ws
        self._session = session_id
        self._ids = itertools.count(1)
        self._waiting: dict[int, trio.MemorySendChannel[dict[str, Any]]] = {}

    async def _read(self) -> None:
        while True:
            try:
                message = json.loads(await self._ws.get_message())
            except ConnectionClosed:
                return
            waiter = self._waiting.pop(message.get("id", -1), None)
            if waiter is not None:
                waiter.send_nowait(message)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> Any:
        ident = next(self._ids)
        send, receive = trio.open_memory_channel[dict[str, Any]](1)
        self._waiting[ident] = send
        request: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = self._session
        await self._ws.send_message(json.dumps(request))
        with trio.fail_after(15):
            answer = await receive.receive()
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def navigate(self, url: str, *, timeout: float = 10.0) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'", timeout=timeout, what="page load")

    async def wait_for(self, expression: str, *, timeout: float = 10.0, what: str = "") -> Any:
        """Evaluate until truthy (its value); a bounded wait on what the page shows."""
        last: Any = None
        with trio.move_on_after(timeout):
            while True:
                last = await self.evaluate(expression)
                if last:
                    return last
                await trio.sleep(0.05)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what or expression} (last: {last!r})"
        )

    async def screenshot(self, path: Path) -> Path:
        result = await self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        path.write_bytes(base64.b64decode(result["data"]))
        return path


async def _devtools_url(user_data: Path, process: trio.Process) -> str:
    port_file = user_data / "DevToolsActivePort"
    with trio.fail_after(START_TIMEOUT):
        while True:
            if port_file.exists():
                lines = port_file.read_text().split("\n")
                if len(lines) >= 2 and lines[1].strip():
                    return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
            if process.returncode is not None:
                raise CdpError(f"chromium exited with {process.returncode} before it listened")
            await trio.sleep(0.05)


@asynccontextmanager
async def open_page(tmp: Path, *, width: int = 1400, height: int = 1000) -> AsyncIterator[Page]:
    """Headless Chromium with one page of ``width`` x ``height``; closed (and reaped) on exit."""
    user_data = tmp / "chromium-profile"
    user_data.mkdir()
    log = (tmp / "chromium.log").open("wb")
    process = await trio.lowlevel.open_process(
        [CHROMIUM, *FLAGS, f"--user-data-dir={user_data}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        url = await _devtools_url(user_data, process)
        async with open_websocket_url(url, max_message_size=64 * 1024 * 1024) as ws:
            browser = Page(ws, "")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(browser._read)
                target = await browser.send(
                    "Target.createTarget", {"url": "about:blank"}, session=False
                )
                attached = await browser.send(
                    "Target.attachToTarget",
                    {"targetId": target["targetId"], "flatten": True},
                    session=False,
                )
                page = Page(ws, attached["sessionId"])
                page._ids = browser._ids
                page._waiting = browser._waiting
                await page.send("Page.enable")
                await page.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                )
                yield page
                nursery.cancel_scope.cancel()
            # Ask Chromium to quit; its answer may never come (it closes the socket).
            with contextlib.suppress(ConnectionClosed):
                await ws.send_message(json.dumps({"id": 0, "method": "Browser.close"}))
    finally:
        with trio.move_on_after(10) as waited:
            await process.wait()
        if waited.cancelled_caught:
            process.kill()
            await process.wait()
        log.close()
