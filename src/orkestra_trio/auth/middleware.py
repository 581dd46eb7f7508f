"""Authentication in front of an ASGI app: one place for every route, websockets included.

Putting the check in a middleware rather than in each handler means a route
added later is covered without anyone remembering to guard it. The decision
is kube-apiserver's: credentials that do not authenticate are refused (401)
even where anonymous requests are fine; a request without credentials is
``system:anonymous`` and passes only on the public paths (probes, version).
The user lands in ``scope["orkestra.user"]`` for an authorizer to read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, MutableMapping
from typing import Any

from orkestra_trio.auth.authenticator import ANONYMOUS, TokenAuthenticator, UserInfo, bearer_token

USER_SCOPE_KEY = "orkestra.user"

# The ASGI shapes, spelled as Starlette does so its apps fit without casts.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Where a request's token comes from: the Authorization header by default.
CredentialSource = Callable[[Scope], str | None]


def header_credentials(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    return bearer_token(headers)


def user_of(scope: Scope) -> UserInfo | None:
    """The user the middleware authenticated for this request (None: no middleware ran)."""
    user = scope.get(USER_SCOPE_KEY)
    return user if isinstance(user, UserInfo) else None


class AuthMiddleware:
    """Authenticate every http and websocket request before ``app`` sees it.

    ``unauthorized`` builds the 401 body (each surface has its own error
    shape); ``public_paths`` may be reached without credentials.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: TokenAuthenticator,
        *,
        public_paths: Container[str] = frozenset(),
        unauthorized: Callable[[], bytes] = lambda: b'{"error":"Unauthorized"}',
        credentials: CredentialSource = header_credentials,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = public_paths
        self.unauthorized = unauthorized
        self.credentials = credentials

    async def authenticate(self, scope: Scope) -> UserInfo | None:
        """The request's user, ANONYMOUS without credentials, None when refused."""
        token = self.credentials(scope)
        if token is None:
            return ANONYMOUS
        return await self.authenticator.authenticate_token(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        user = await self.authenticate(scope)
        if user is not None and (not user.is_anonymous or scope["path"] in self.public_paths):
            scope[USER_SCOPE_KEY] = user
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            await self._refuse_http(send)
        else:
            await self._refuse_websocket(scope, send)

    async def _refuse_http(self, send: Send) -> None:
        body = self.unauthorized()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _refuse_websocket(self, scope: Scope, send: Send) -> None:
        # With the denial extension the client sees a real 401; without it the
        # handshake is closed, which servers answer with 403.
        if "websocket.http.response" in (scope.get("extensions") or {}):
            body = self.unauthorized()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
