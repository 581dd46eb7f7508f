"""The authentication seam alone: token file parsing, chains, the ASGI middleware."""

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orkestra_trio.auth import (
    ANONYMOUS,
    AuthMiddleware,
    StaticToken,
    TokenChain,
    TokenFileError,
    UserInfo,
    bearer_token,
    load_token_file,
    parse_token_file,
    user_of,
)


async def test_token_file_kube_format() -> None:
    tokens = parse_token_file(
        'tok-a,alice,uid-a,"devs,ops"\n'
        "\n"
        "tok-b, bob, uid-b\n"
        ",nobody,uid-x\n"  # an empty token is skipped, as kube does
        "tok-a,alice2,uid-a2\n"  # a later line with the same token wins
    )
    alice = await tokens.authenticate_token("tok-a")
    bob = await tokens.authenticate_token("tok-b")
    assert alice == UserInfo("alice2", uid="uid-a2", groups=("system:authenticated",))
    assert bob is not None and bob.name == "bob" and bob.uid == "uid-b"
    assert await tokens.authenticate_token("") is None
    assert await tokens.authenticate_token("tok-c") is None
    groups = parse_token_file('t,u,i,"devs,ops"\n')
    user = await groups.authenticate_token("t")
    assert user is not None and user.groups == ("devs", "ops", "system:authenticated")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("tok,alice\n", ":1: must have at least 3 columns"),
        ("a,b,c\nonly-one\n", ":2: must have at least 3 columns"),
        ("tok,,uid\n", ":1: the user name"),
        ("\n\n", ": no tokens"),
        ('tok,"alice,uid\n', ":"),
    ],
)
def test_token_file_mistakes_are_one_line(text: str, where: str) -> None:
    with pytest.raises(TokenFileError) as info:
        parse_token_file(text, source="tokens.csv")
    message = str(info.value)
    assert message.startswith("tokens.csv") and where in message and "\n" not in message


def test_token_file_missing(tmp_path: object) -> None:
    with pytest.raises(TokenFileError, match=r"nope\.csv"):
        load_token_file(f"{tmp_path}/nope.csv")


def test_bearer_token_header() -> None:
    assert bearer_token({}) is None
    assert bearer_token({"authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"authorization": "bearer  abc "}) == "abc"
    # Present but not a bearer token: a credential that cannot pass, not anonymous.
    assert bearer_token({"authorization": "Basic dTpw"}) == ""


async def test_chain_asks_in_order() -> None:
    first = StaticToken.single("one", UserInfo("first"))
    second = StaticToken.single("two", UserInfo("second", groups=("g",)))
    chain = TokenChain.of([first, second])
    one = await chain.authenticate_token("one")
    two = await chain.authenticate_token("two")
    assert one is not None and one.name == "first"
    assert two is not None and two.groups == ("g", "system:authenticated")
    assert await chain.authenticate_token("three") is None
    assert ANONYMOUS.is_anonymous and not two.is_anonymous


def _echo_app() -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        user = user_of(request.scope)
        return JSONResponse({"user": None if user is None else user.name})

    return Starlette(
        routes=[Route("/healthz", whoami), Route("/secret", whoami), Route("/other", whoami)]
    )


async def test_middleware_decisions() -> None:
    app = AuthMiddleware(
        _echo_app(),
        StaticToken.single("tok", UserInfo("alice")),
        public_paths={"/healthz"},
        unauthorized=lambda: b'{"code":401}',
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.get("/secret", headers={"Authorization": "Bearer tok"})
        assert ok.status_code == 200 and ok.json() == {"user": "alice"}
        anonymous = await client.get("/secret")
        assert anonymous.status_code == 401 and anonymous.json() == {"code": 401}
        wrong = await client.get("/other", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        public = await client.get("/healthz")
        assert public.status_code == 200 and public.json() == {"user": "system:anonymous"}
        # A bad token is refused even on a public path, as kube-apiserver does.
        bad_public = await client.get("/healthz", headers={"Authorization": "Bearer nope"})
        assert bad_public.status_code == 401
