"""The embedded API server on the wire (_h1serve under ApiApp), spoken to over raw sockets."""

import json

import pytest
import trio

from orkestra_trio._h1serve import MAX_HEAD_BYTES

CM = "/api/v1/namespaces/default/configmaps"


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                received += chunk
    return received


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a byte stream of Content-Length or chunked responses."""
    out = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" in headers:
            length = int(headers["content-length"])
            body, raw = raw[:length], raw[length:]
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, _, raw = raw.partition(b"\r\n")
                size = int(size_line, 16)
                body += raw[:size]
                raw = raw[size + 2 :]
                if size == 0:
                    break
        else:
            body, raw = raw, b""
        out.append((status, headers, body))
    return out


async def test_keep_alive_pipelined_requests_each_answered_in_order(server):
    get = f"GET {CM}/missing HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    version = b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answers = responses(await exchange(server.port, get + version))
    assert [a[0] for a in answers] == [404, 200]
    assert json.loads(answers[1][2])["major"] == "1"
    assert answers[1][1]["connection"] == "close"


async def test_chunked_request_body_is_decoded(server):
    body = json.dumps({"metadata": {"name": "chunky"}, "data": {"a": "b"}}).encode()
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:7], body[7:]))
    request = (
        (
            f"POST {CM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
        + chunks
        + b"0\r\n\r\n"
    )
    [(status, _, answer)] = responses(await exchange(server.port, request))
    assert status == 201
    assert json.loads(answer)["data"] == {"a": "b"}


async def test_expect_continue_is_honoured(server):
    body = json.dumps({"metadata": {"name": "expect"}}).encode()
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(
            (
                f"POST {CM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        with trio.fail_after(10):
            interim = await stream.receive_some(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")
        await stream.send_all(body)
        received = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                received += chunk
    assert responses(received)[0][0] == 201


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET /version HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET /version HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", 400),
        (b"POST /version HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST /version HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST /version HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET version HTTP/1.1\r\n\r\n", 400),
    ],
)
async def test_malformed_requests_get_an_error_and_a_closed_connection(
    server, request_bytes, status
):
    answers = responses(await exchange(server.port, request_bytes))
    assert [a[0] for a in answers] == [status]


async def test_oversized_head_is_refused(server):
    request = b"GET /version HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
    answers = responses(await exchange(server.port, request))
    assert [a[0] for a in answers] == [431]


async def test_oversized_body_is_refused_before_it_is_read(server):
    # Declared, never sent: the answer comes from the header alone.
    request = (
        f"POST {CM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    ).encode()
    [(status, headers, body)] = responses(await exchange(server.port, request))
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["kind"] == "Status"


async def test_head_request_has_no_body(server):
    answers = responses(
        await exchange(server.port, b"HEAD /version HTTP/1.1\r\nConnection: close\r\n\r\n")
    )
    assert len(answers) == 1
    status, headers, body = answers[0]
    assert status == 200 and int(headers["content-length"]) > 0 and body == b""


async def test_http10_client_gets_one_answer_and_a_close(server):
    answers = responses(await exchange(server.port, b"GET /version HTTP/1.0\r\n\r\n"))
    assert [a[0] for a in answers] == [200]


async def test_watch_head_arrives_before_any_event_and_stream_is_chunked(server):
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(f"GET {CM}?watch=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in received:
                received += await stream.receive_some(65536)
        assert received.startswith(b"HTTP/1.1 200 ")
        assert b"transfer-encoding: chunked" in received.lower()


async def test_stop_ends_idle_keep_alive_connections():
    from orkestra_trio.apiserver import open_apiserver

    async with open_apiserver(workload_simulation=False) as srv:
        stream = await trio.open_tcp_stream("127.0.0.1", srv.port)
        await stream.send_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(10):
            first = await stream.receive_some(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
    # The server is gone: the kept-alive connection was closed, not left hanging.
    with trio.fail_after(10):
        rest = await stream.receive_some(65536)
    assert rest == b""
    await stream.aclose()
