"""Who may use the runtime's HTTP surface: with a token set, every path but the probes.

``--oncop-token`` used to guard only ONCOP and the live feed; ``/metrics``
and the Control Center answered anyone. Now one middleware covers the whole
surface, so a route added later is guarded without anyone remembering to:

* open: ``/healthz``, ``/readyz``, ``/health``, ``/ready``, ``/startup``
  (kubelet probes cannot send a token);
* everything else (ONCOP under ``/katalog``, ``/metrics``, ``/ui`` and its
  ``/ui/live`` websocket) needs the token, as ``Authorization: Bearer``; a
  browser opens ``/ui/?token=TOKEN`` once, which sets an HttpOnly,
  SameSite=Strict cookie that the page's assets, fetches and websocket then
  carry (the token is dropped from the address bar).

More identities (ServiceAccount tokens checked by TokenReview) plug in as
further token authenticators of the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from orkestra_trio.auth import (
    AuthMiddleware,
    StaticToken,
    TokenAuthenticator,
    TokenChain,
    UserInfo,
    bearer_token,
)
from orkestra_trio.auth.middleware import ASGIApp, Receive, Scope, Send

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/health", "/ready", "/startup"})
COOKIE = "orkestra_token"
# Whoever holds the shared token (--oncop-token).
TOKEN_USER = UserInfo("oncop-token-holder")
_UNAUTHORIZED = b'{"error":"unauthorized: send Authorization: Bearer <token>"}'


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def web_credentials(scope: Scope) -> str | None:
    """The bearer header, else the Control Center's cookie, else ``?token=`` under /ui."""
    headers = _headers(scope)
    token = bearer_token(headers)
    if token is not None:
        return token
    cookie_header = headers.get("cookie")
    if cookie_header:
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except Exception:  # a malformed Cookie header is no credential
            cookies = SimpleCookie()
        if COOKIE in cookies:
            return unquote(str(cookies[COOKIE].value))
    if scope["path"].startswith("/ui"):
        query: dict[str, list[str]] = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token")
        if given:
            return given[0]
    return None


class _UiLogin:
    """``/ui/?token=...`` that authenticated: set the cookie and drop the token from the URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/ui/":
            query: dict[str, list[str]] = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token")
            if given:
                cookie = f"{COOKIE}={quote(given[0], safe='')}; Path=/; HttpOnly; SameSite=Strict"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [
                            (b"location", b"/ui/"),
                            (b"set-cookie", cookie.encode("latin-1")),
                            (b"content-length", b"0"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def protect(
    app: Any,
    token: str | None,
    *,
    extra: Iterable[TokenAuthenticator] = (),
) -> Any:
    """``app`` behind authentication when a token (or another authenticator) is given."""
    authenticators: list[TokenAuthenticator] = list(extra)
    if token:
        authenticators.insert(0, StaticToken.single(token, TOKEN_USER))
    if not authenticators:
        return app
    return AuthMiddleware(
        _UiLogin(app),
        TokenChain(authenticators),
        public_paths=PUBLIC_PATHS,
        unauthorized=lambda: _UNAUTHORIZED,
        credentials=web_credentials,
    )
