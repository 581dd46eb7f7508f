"""A client that leaves while sending its body is not a server error."""

import logging

CM = "/api/v1/namespaces/default/configmaps"


async def test_disconnect_mid_body_is_answered_by_silence(server, caplog):
    scope = {
        "type": "http",
        "method": "POST",
        "path": CM,
        "raw_path": CM.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    incoming = [
        {"type": "http.request", "body": b'{"apiVersion": "v1", ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    with caplog.at_level(logging.ERROR):
        await server.app(scope, receive, send)
    assert sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
