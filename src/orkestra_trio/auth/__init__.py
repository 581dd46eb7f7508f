"""Who is asking: authentication shared by the API server and the runtime's HTTP surface.

A request is mapped to a :class:`UserInfo` (name, uid, groups) or rejected.
The pieces are small so that other sources of identity plug in beside the
static ones: anything with ``async authenticate_token(token) -> UserInfo |
None`` is a :class:`TokenAuthenticator`; :class:`TokenChain` asks several in
order; :class:`AuthMiddleware` puts the chain in front of an ASGI app, leaves
the user in ``scope["orkestra.user"]`` for authorization, and answers 401 for
bad or missing credentials (except on the public paths it is given).

This package is the lowest layer: it imports nothing else of orkestra_trio.
"""

from orkestra_trio.auth.authenticator import (
    ANONYMOUS,
    AUTHENTICATED_GROUP,
    UNAUTHENTICATED_GROUP,
    StaticToken,
    TokenAuthenticator,
    TokenChain,
    UserInfo,
    bearer_token,
)
from orkestra_trio.auth.middleware import USER_SCOPE_KEY, AuthMiddleware, user_of
from orkestra_trio.auth.tokenfile import TokenFileError, load_token_file, parse_token_file

__all__ = [
    "ANONYMOUS",
    "AUTHENTICATED_GROUP",
    "UNAUTHENTICATED_GROUP",
    "USER_SCOPE_KEY",
    "AuthMiddleware",
    "StaticToken",
    "TokenAuthenticator",
    "TokenChain",
    "TokenFileError",
    "UserInfo",
    "bearer_token",
    "load_token_file",
    "parse_token_file",
    "user_of",
]
