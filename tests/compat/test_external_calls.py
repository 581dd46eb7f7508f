"""External calls (ORKESTRA-LANGUAGE 1.5 `.external`, 1.6, 1.9 `preReconcile.external`, HTTP `hooks`) on the embedded server.

A real HTTP service on a loopback port answers; the runtime's remote reader
(the client of cross `source.endpoint` reads) makes the calls before each
reconcile is planned: preReconcile's gate the reconcile, onCreate's and
onReconcile's feed the templates, and POST/PUT calls are not repeated while
their request stays the same.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopback_http import serving
from orkestra_trio.oncop import RemoteReader, http_client
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: external-calls}
spec:
  crds:
    shop:
      apiTypes: {group: ext.example.com, version: v1, kind: Shop, plural: shops}
      validation:
        rules: [{field: spec.tier, notEquals: banned, message: "tier banned", action: deny}]
      operatorBox:
        reconciler:
          hooks:  # Orkestra's HTTP hooks: external calls run before the templates
            external:
              - name: inventory
                url: "URL/pricing/gold"
        preReconcile:
          external:
            - name: featureFlags
              url: "URL/flags/{{ .metadata.name }}"
              token: $SHOP_FLAGS_TOKEN
              cacheFor: 1s
          reconcileGate:
            when: [{field: external.featureFlags.body.enabled, equals: "true"}]
        onCreate:
          external:
            - name: register
              url: "URL/register"
              method: POST
              body: {shop: "{{ .metadata.name }}"}
              expectedStatus: 201
        onReconcile:
          external:
            - name: pricing
              url: "URL/pricing/{{ .spec.tier }}"
            - name: sync
              url: "URL/sync/{{ .metadata.name }}"
              method: PUT
              body: {tier: "{{ .spec.tier }}", price: "{{ .external.pricing.body.price }}"}
            - name: audit
              url: "URL/down"
              continueOnError: true
              when: [{field: spec.tier, equals: gold}]
          configMaps:
            - name: "{{ .metadata.name }}-pricing"
              data:
                price: "{{ .external.pricing.body.price }}"
                registration: "{{ .external.register.body.id }}"
                syncStatus: "{{ .external.sync.status }}"
                auditCalled: "{{ .external.audit.called }}"
                auditStatus: "{{ .external.audit.status }}"
                hookPrice: "{{ .external.inventory.body.price }}"
        status:
          fields:
            - {path: price, value: "{{ .external.pricing.body.price }}"}
"""

PRICES = {"silver": 12, "gold": 30}


class Shops:
    """The outside service: feature flags, registrations, prices, sync; counts every request."""

    def __init__(self) -> None:
        self.enabled = {"a": True, "b": False}
        self.requests: Counter[tuple[str, str]] = Counter()
        self.bodies: list[Any] = []
        self.tokens: set[str | None] = set()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/flags/{name}", self.flags),
                Route("/register", self.register, methods=["POST"]),
                Route("/pricing/{tier}", self.pricing),
                Route("/sync/{name}", self.sync, methods=["PUT"]),
                Route("/down", self.down),
            ]
        )

    def count(self, request: Request) -> None:
        self.requests[(request.method, request.url.path)] += 1

    async def flags(self, request: Request) -> Response:
        self.count(request)
        self.tokens.add(request.headers.get("authorization"))
        return JSONResponse({"enabled": self.enabled.get(request.path_params["name"], False)})

    async def register(self, request: Request) -> Response:
        self.count(request)
        self.bodies.append(await request.json())
        return JSONResponse({"id": f"reg-{len(self.bodies)}"}, status_code=201)

    async def pricing(self, request: Request) -> Response:
        self.count(request)
        tier = request.path_params["tier"]
        if tier not in PRICES:
            return JSONResponse({"error": "no such tier"}, status_code=500)
        return JSONResponse({"price": PRICES[tier]})

    async def sync(self, request: Request) -> Response:
        self.count(request)
        self.bodies.append(await request.json())
        return JSONResponse({})

    async def down(self, request: Request) -> Response:
        self.count(request)
        return JSONResponse({"error": "down"}, status_code=503)


async def _until(check, what: str, within: float = 15.0) -> None:
    with trio.move_on_after(within):
        while not check():
            await trio.sleep(0.05)
        return
    raise AssertionError(f"not within {within}s: {what}")


def _failure(kat, box: str, name: str) -> str:
    """The message of the CR's Ready=False condition ("" while it has none)."""
    conditions = kat.status(box, name).get("conditions") or ()
    ready = [c for c in conditions if c["type"] == "Ready" and c["status"] == "False"]
    return ready[0]["message"] if ready else ""


async def test_external_calls_gate_feed_templates_and_are_not_repeated(tmp_path: Path):
    shops = Shops()
    async with (
        serving(shops.app()) as url,
        http_client() as http,
        trio.open_nursery() as nursery,
    ):
        reader = RemoteReader(http, environ={"SHOP_FLAGS_TOKEN": "flag-token"})
        await nursery.start(reader.run)
        path = tmp_path / "katalog.yaml"
        path.write_text(KATALOG.replace("URL", url))
        async with open_test_cluster() as cluster, run_katalog(path, cluster, remote=reader) as kat:
            reader.on_change = kat.runtime.registry.remote_changed
            await kat.apply(kat.manifest("shop", "a", {"tier": "silver"}))
            await kat.apply(kat.manifest("shop", "b", {"tier": "silver"}))
            await kat.wait_steady()

            # a: the flag holds; every call made in order, the answers in the child.
            pricing = kat.child("shop", "a", "ConfigMap", "a-pricing")
            assert pricing is not None
            assert pricing["data"] == {
                "price": "12",
                "registration": "reg-1",
                "syncStatus": "200",
                "auditCalled": "false",  # its when (gold) does not hold
                "auditStatus": "0",
                "hookPrice": "30",
            }
            assert kat.status("shop", "a")["price"] == "12" and kat.ready("shop", "a")
            assert shops.bodies == [{"shop": "a"}, {"tier": "silver", "price": "12"}]
            assert shops.tokens == {"Bearer flag-token"}
            # b: its flag is off, so the gate holds it: no children, no other call.
            assert kat.children("shop", "b") == []
            assert "price" not in kat.status("shop", "b")
            assert shops.requests[("GET", "/pricing/silver")] == 1  # a's, cached for b anyway
            assert shops.requests[("POST", "/register")] == 1

            # The flag turns on: the refreshed answer reconciles b without any CR change.
            shops.enabled["b"] = True
            await _until(lambda: kat.child("shop", "b", "ConfigMap", "b-pricing"), "b's child")
            await kat.wait_steady()
            assert kat.child("shop", "b", "ConfigMap", "b-pricing")["data"]["registration"] == (
                "reg-3"
            )

            # A reconcile whose requests did not change sends no POST or PUT again.
            sent = Counter(shops.requests)
            await kat.apply(kat.manifest("shop", "a", {"tier": "silver"}, labels={"x": "1"}))
            await kat.wait_steady()
            assert shops.requests[("POST", "/register")] == sent[("POST", "/register")] == 2
            assert shops.requests[("PUT", "/sync/a")] == sent[("PUT", "/sync/a")] == 1

            # A new tier changes the PUT's body: sent again; onCreate's POST is not.
            await kat.apply(kat.manifest("shop", "a", {"tier": "gold"}))
            await kat.wait_steady()
            assert shops.requests[("PUT", "/sync/a")] == 2
            assert shops.requests[("POST", "/register")] == 2
            assert shops.bodies[-1] == {"tier": "gold", "price": "30"}
            data = kat.child("shop", "a", "ConfigMap", "a-pricing")["data"]
            # The audit call failed with continueOnError: its answer is there, the reconcile goes on.
            assert data["price"] == "30" and data["registration"] == "reg-1"
            assert (data["auditCalled"], data["auditStatus"]) == ("true", "503")
            assert kat.ready("shop", "a")
            # ... and said once on the CR, however many reconciles it keeps failing in.
            await kat.apply(kat.manifest("shop", "a", {"tier": "gold"}, labels={"x": "2"}))
            await kat.wait_steady()
            (failed,) = [e for e in kat.events("shop", "a") if e["reason"] == "ExternalCallFailed"]
            assert failed["type"] == "Warning" and failed["count"] == 1
            assert failed["message"] == (
                f"external call audit: HTTP 503 from {url}/down, expected 2xx"
            )

            # A CR the validation rules deny makes no call but preReconcile's (Orkestra
            # validates before the template reconcile).
            shops.enabled["c"] = True
            await kat.apply(kat.manifest("shop", "c", {"tier": "banned"}))
            await _until(lambda: _failure(kat, "shop", "c"), "c's denial")
            assert "tier banned" in _failure(kat, "shop", "c")
            assert shops.requests[("GET", "/flags/c")] >= 1
            assert shops.requests[("POST", "/register")] == 2
            assert not any(path.endswith("/c") for _, path in shops.requests if _ != "GET")

            # An unexpected status fails the reconcile, named in one line on the CR.
            await kat.apply(kat.manifest("shop", "a", {"tier": "bronze"}))
            await _until(lambda: _failure(kat, "shop", "a"), "a's failure")
            message = _failure(kat, "shop", "a")
            assert "\n" not in message
            assert message.startswith(f"{path}:")
            assert message.endswith(
                f"Shop default/a: external call pricing: HTTP 500 from {url}/pricing/bronze, "
                "expected 2xx"
            )
            # The child keeps what the last good reconcile made.
            assert kat.child("shop", "a", "ConfigMap", "a-pricing")["data"]["price"] == "30"
        nursery.cancel_scope.cancel()


REMOTE_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: remote-reconciler}
spec:
  crds:
    invoice:
      apiTypes: {group: ext.example.com, version: v1, kind: Invoice, plural: invoices}
      operatorBox:
        reconcile:
          default: false
          remote:
            type: http
            endpoint: "URL/reconcile/{{ .metadata.name }}"
            timeout: 5s
            managedResources: [{group: "", plural: configmaps}]
            auth: {token: $BILLING_TOKEN, header: X-Billing-Token}
        emit:
          status:
            fields: [{path: source, value: katalog}]
"""


class Billing:
    """A remote reconciler: answers children and status computed from the CR it is sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.tokens: list[str | None] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/reconcile/{name}", self.reconcile, methods=["POST"])])

    async def reconcile(self, request: Request) -> Response:
        sent = await request.json()
        self.requests.append(sent)
        self.tokens.append(request.headers.get("x-billing-token"))
        name, spec = sent["object"]["metadata"]["name"], sent["prepared"]["spec"]
        if spec.get("plan") == "none":
            return JSONResponse({"result": "error", "error": f"no plan for {name}"})
        return JSONResponse(
            {
                "result": "requeue",
                "requeueAfter": "30s",
                "status": {"phase": "Billed", "amount": spec["amount"], "conditions": "ours"},
                "resources": [
                    {
                        "type": "configMaps",
                        "fields": {"name": f"{name}-billing", "data": {"plan": spec["plan"]}},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"{name}-ledger", "labels": {"ledger": "yes"}},
                        "data": {"amount": str(spec["amount"])},
                    },
                ],
            }
        )


async def test_a_remote_reconciler_returns_the_children_and_status(tmp_path: Path):
    billing = Billing()
    async with serving(billing.app()) as url, http_client() as http:
        reader = RemoteReader(http, environ={"BILLING_TOKEN": "bill"})
        path = tmp_path / "katalog.yaml"
        path.write_text(REMOTE_KATALOG.replace("URL", url))
        async with open_test_cluster() as cluster, run_katalog(path, cluster, remote=reader) as kat:
            await kat.apply(kat.manifest("invoice", "march", {"plan": "pro", "amount": 42}))
            await kat.wait_steady()

            sent = billing.requests[-1]
            assert sent["key"] == "default/march"
            assert sent["gvk"] == {"Group": "ext.example.com", "Version": "v1", "Kind": "Invoice"}
            assert sent["object"]["spec"] == {"plan": "pro", "amount": 42}
            assert set(billing.tokens) == {"Bearer bill"}

            children = kat.children("invoice", "march")
            assert [c["metadata"]["name"] for c in children] == ["march-billing", "march-ledger"]
            billing_map, ledger = children
            assert billing_map["data"] == {"plan": "pro"}
            assert (
                ledger["data"] == {"amount": "42"}
                and ledger["metadata"]["labels"]["ledger"] == "yes"
            )
            for child in children:
                assert child["metadata"]["namespace"] == "default"
                (owner,) = child["metadata"]["ownerReferences"]
                assert (owner["kind"], owner["name"], owner["controller"]) == (
                    "Invoice",
                    "march",
                    True,
                )
            status = kat.status("invoice", "march")
            assert (status["phase"], status["amount"], status["source"]) == (
                "Billed",
                42,
                "katalog",
            )
            assert kat.ready("invoice", "march")  # conditions stay the runtime's

            # The service refuses: the reconcile fails with its message, in one line.
            await kat.apply(kat.manifest("invoice", "march", {"plan": "none", "amount": 1}))
            await _until(lambda: _failure(kat, "invoice", "march"), "the remote's refusal")
            assert _failure(kat, "invoice", "march").endswith(
                "Invoice default/march: remote reconciler: no plan for march"
            )
            assert kat.child("invoice", "march", "ConfigMap", "march-billing")["data"] == {
                "plan": "pro"
            }
