"""A workaround shared by our two httpx clients (kube and ONCOP): request bodies
that cannot be left behind half-sent.

httpx wraps every in-memory request body (even a GET's empty one) in a stream
whose ``__aiter__`` is an async generator. If a request is cancelled while
the connection writes that chunk (a deadline, a watch left by its consumer),
the generator stays suspended and, when garbage-collected, Trio reports a
ResourceWarning. A plain iterator object has nothing to finalize. Install
:func:`body_without_generator` as a ``request`` event hook. It can go once
httpx stops using a generator there (tests/kube/test_request_body.py flags it).
"""

from __future__ import annotations

import httpx


async def body_without_generator(request: httpx.Request) -> None:
    """Swap an in-memory body for one without a generator; real streams stay."""
    if isinstance(request.stream, httpx.ByteStream):
        request.stream = _InMemoryBody(request.content)


class _InMemoryBody(httpx.AsyncByteStream):
    """An in-memory request body; each iteration (one per retry) starts afresh."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def __aiter__(self) -> _OneChunk:
        return _OneChunk(self._content)


class _OneChunk:
    """The body as a single chunk (none when empty), from a plain async iterator."""

    def __init__(self, content: bytes) -> None:
        self._content: bytes | None = content or None

    def __aiter__(self) -> _OneChunk:
        return self

    async def __anext__(self) -> bytes:
        content, self._content = self._content, None
        if content is None:
            raise StopAsyncIteration
        return content
