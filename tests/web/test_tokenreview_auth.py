"""ServiceAccount tokens on the runtime's surface, verified by a TokenReview to the cluster."""

from __future__ import annotations

import httpx
import trio
from web_helpers import CROSS_SAME_BINARY

from orkestra_trio.runtime.runtime import open_runtime
from orkestra_trio.web.app import open_web_app
from orkestra_trio.web.server import serve_http
from orkestra_trio.web.tokenreview import TokenReviewAuthenticator


async def test_service_account_tokens_pass_others_do_not():
    async with open_runtime(CROSS_SAME_BINARY, embedded=True) as rt:
        with trio.fail_after(15):
            await rt.wait_ready()
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
        issued = await rt.kube.http.post(
            "/api/v1/namespaces/default/serviceaccounts/default/token", json=request
        )
        assert issued.status_code == 201, issued.text
        sa_token = issued.json()["status"]["token"]
        reviewer = TokenReviewAuthenticator(rt.kube, ttl=60)
        app = await open_web_app(rt, authenticators=[reviewer])
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve_http, app, "127.0.0.1", 0, stop)
            async with httpx.AsyncClient(base_url=binds[0]) as http:
                ok = await http.get("/katalog", headers={"Authorization": f"Bearer {sa_token}"})
                assert ok.status_code == 200
                again = await http.get("/metrics", headers={"Authorization": f"Bearer {sa_token}"})
                assert again.status_code == 200
                assert reviewer.reviews == 1  # the second request was answered from the cache
                forged = await http.get("/katalog", headers={"Authorization": "Bearer forged"})
                assert forged.status_code == 401
                assert (await http.get("/katalog")).status_code == 401
                assert (await http.get("/readyz")).status_code == 200
            stop.set()
        user = await reviewer.authenticate_token(sa_token)
        assert user is not None
        assert user.name == "system:serviceaccount:default:default"
        assert "system:serviceaccounts" in user.groups
