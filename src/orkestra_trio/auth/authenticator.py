"""Users, bearer tokens and the token authenticators that map one to the other.

The shapes follow kube-apiserver's: a user has a name, a uid and groups;
every authenticated user is also in ``system:authenticated``; a request
without credentials is ``system:anonymous`` in ``system:unauthenticated``.
A token authenticator answers a user or None ("not mine"); a chain asks each
in turn, so ServiceAccount tokens, TokenReview or anything else can be added
next to the static ones without touching the HTTP layers.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import attrs

AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"


@attrs.frozen
class UserInfo:
    """An authenticated (or anonymous) identity, as kube's user.Info."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_anonymous(self) -> bool:
        return UNAUTHENTICATED_GROUP in self.groups

    def authenticated(self) -> UserInfo:
        """This user with ``system:authenticated`` added, as kube does for every real user."""
        if AUTHENTICATED_GROUP in self.groups:
            return self
        return attrs.evolve(self, groups=(*self.groups, AUTHENTICATED_GROUP))


ANONYMOUS = UserInfo("system:anonymous", groups=(UNAUTHENTICATED_GROUP,))


class TokenAuthenticator(Protocol):
    """Maps a bearer token to a user; None when the token is not one it knows."""

    async def authenticate_token(self, token: str) -> UserInfo | None: ...


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None.

    ``headers`` must be keyed by lower-case names (Starlette's and httpx's are).
    A header that is present but not a bearer token gives "" (a credential
    that cannot authenticate), so it is refused rather than read as anonymous.
    """
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


@attrs.define
class StaticToken:
    """Tokens known in advance (a token file, a generated admin token, ``--oncop-token``)."""

    users: dict[str, UserInfo] = attrs.field(factory=dict)

    @classmethod
    def single(cls, token: str, user: UserInfo) -> StaticToken:
        return cls({token: user})

    def add(self, token: str, user: UserInfo) -> None:
        self.users[token] = user

    async def authenticate_token(self, token: str) -> UserInfo | None:
        if not token:
            return None
        # Compare in constant time against every token so a timing probe
        # learns nothing about how much of a guess matched.
        found: UserInfo | None = None
        given = token.encode()
        for known, user in self.users.items():
            if hmac.compare_digest(given, known.encode()):
                found = user
        return None if found is None else found.authenticated()


@attrs.define
class TokenChain:
    """Several token authenticators asked in order; the first to know the token wins."""

    authenticators: list[TokenAuthenticator] = attrs.field(factory=list)

    @classmethod
    def of(cls, authenticators: Iterable[TokenAuthenticator]) -> TokenChain:
        return cls(list(authenticators))

    def add(self, authenticator: TokenAuthenticator) -> None:
        self.authenticators.append(authenticator)

    async def authenticate_token(self, token: str) -> UserInfo | None:
        for authenticator in self.authenticators:
            user = await authenticator.authenticate_token(token)
            if user is not None:
                return user
        return None


def group_list(text: str) -> Sequence[str]:
    """Groups as kube's token file spells them: comma separated, empty entries dropped."""
    return tuple(g.strip() for g in text.split(",") if g.strip())
