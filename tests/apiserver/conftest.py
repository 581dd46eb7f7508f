"""Fixtures for the embedded API server's tests: a live server on a loopback port."""

from collections.abc import AsyncIterator

import httpx
import pytest

from orkestra_trio.apiserver import ApiServer, open_apiserver


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    async with open_apiserver(workload_simulation=False, bookmark_interval=0.2) as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        yield c
