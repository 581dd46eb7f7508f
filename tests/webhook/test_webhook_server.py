"""The admission webhook server as kube-apiserver calls it: HTTPS on a loopback port.

A real TLS server on an ephemeral port with a certificate of a CA made in
the test (trustme); real AdmissionReview / ConversionReview bodies posted
with httpx, which verifies the server against that CA. The Katalog is the
compat suite's: admission.yaml (CRD ``guarded`` with ``webhooks``) and
conversion.yaml (``conversion.paths`` between Gauge v1 and v2). Each answer is also checked
against the embedded API server's in-process hook: both paths take the same
decision.
"""

from __future__ import annotations

import base64
import copy
import ssl
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from orkestra_trio.apiserver.admission import AdmissionRequest
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.runtime.admission import admission_hook
from orkestra_trio.webhook.server import CertificateFiles, WebhookApp, serve_webhooks

ADMISSION = Path(__file__).parents[1] / "compat" / "katalogs" / "admission.yaml"
MUTATE = "/mutate/adm.example.com/guardeds"
VALIDATE = "/validate/adm.example.com/guardeds"
CONVERT = "/convert/adm.example.com/gauges"

CONVERSION = Path(__file__).parents[1] / "compat" / "katalogs" / "conversion.yaml"


def guarded(name, spec, **metadata):
    return {
        "apiVersion": "adm.example.com/v1",
        "kind": "Guarded",
        "metadata": {"name": name, "namespace": "default", **metadata},
        "spec": spec,
    }


def admission_review(obj, operation="CREATE", uid="7a1c-uid"):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "adm.example.com", "version": "v1", "kind": "Guarded"},
            "resource": {"group": "adm.example.com", "version": "v1", "resource": "guardeds"},
            "namespace": "default",
            "name": obj["metadata"]["name"],
            "operation": operation,
            "object": obj,
            "oldObject": None if operation == "CREATE" else obj,
        },
    }


def apply_json_patch(obj, operations):
    """RFC 6902 add/replace/remove, enough to check an answer's patch."""
    result = copy.deepcopy(obj)
    for operation in operations:
        *parents, last = [
            token.replace("~1", "/").replace("~0", "~")
            for token in operation["path"][1:].split("/")
        ]
        node = result
        for token in parents:
            node = node[token]
        if operation["op"] == "remove":
            del node[last]
        else:
            assert operation["op"] in ("add", "replace")
            node[last] = operation["value"]
    return result


@pytest.fixture
def katalogs():
    return load_katalogs([ADMISSION, CONVERSION])


@asynccontextmanager
async def webhook_server(katalogs, folder, *, peers=(), ca=None, client_ca=None):
    """The server on 127.0.0.1:0 with a certificate of ``ca``; yields (url, client, files)."""
    ca = ca or trustme.CA()
    cert, key = folder / "tls.crt", folder / "tls.key"
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    client_ca_file = None
    if client_ca is not None:
        client_ca_file = folder / "client-ca.crt"
        client_ca.cert_pem.write_to_path(str(client_ca_file))
    files = CertificateFiles.load(str(cert), str(key), client_ca_file and str(client_ca_file))

    async def list_peers(crd):
        return list(peers)

    app = WebhookApp(katalogs, peers=list_peers)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve_webhooks, app, "127.0.0.1", 0, files, stop)
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with httpx.AsyncClient(base_url=binds[0], verify=trusting, timeout=10) as client:
            try:
                yield binds[0], client, files
            finally:
                stop.set()


async def post(client, path, review):
    response = await client.post(path, json=review)
    assert response.status_code == 200, response.text
    return response.json()


def patch_of(answer):
    response = answer["response"]
    assert response["patchType"] == "JSONPatch"
    return __import__("json").loads(base64.b64decode(response["patch"]))


async def test_mutation_answers_a_jsonpatch_the_embedded_hook_agrees_with(katalogs, tmp_path):
    cr = guarded("one", {"replicas": 2, "host": "a"})
    async with webhook_server(katalogs, tmp_path) as (url, client, _):
        assert url.startswith("https://127.0.0.1:")
        answer = await post(client, MUTATE, admission_review(cr))
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == "7a1c-uid" and response["allowed"] is True
    assert patch_of(answer) == [{"op": "add", "path": "/spec/tier", "value": "standard"}]
    # The embedded API server stores exactly what the patch makes.
    hook = admission_hook(katalogs.crds["guarded"], lambda: ())
    embedded = hook(
        AdmissionRequest(
            "CREATE", "adm.example.com", "v1", "Guarded", "guardeds", "default", "one", cr
        )
    )
    assert apply_json_patch(cr, patch_of(answer)) == embedded.patched


async def test_validation_denies_warns_and_reads_unique_from_peers(katalogs, tmp_path):
    peer = guarded("other", {"replicas": 1, "host": "taken", "tier": "standard"})
    async with webhook_server(katalogs, tmp_path, peers=[peer]) as (_, client, _):
        big = await post(
            client,
            VALIDATE,
            admission_review(guarded("two", {"replicas": 9, "host": "b", "tier": "standard"})),
        )
        legacy = await post(
            client,
            VALIDATE,
            admission_review(
                guarded("old", {"replicas": 1, "host": "c", "tier": "legacy"}), "UPDATE"
            ),
        )
        duplicate = await post(
            client,
            VALIDATE,
            admission_review(
                guarded("three", {"replicas": 1, "host": "taken", "tier": "standard"})
            ),
        )
        going = await post(
            client,
            VALIDATE,
            admission_review(
                guarded(
                    "gone", {"replicas": 9, "host": "d"}, deletionTimestamp="2026-12-04T06:00:00Z"
                ),
                "UPDATE",
            ),
        )
        # The validating side never mutates; the mutating side never denies.
        unmutated = await post(
            client,
            MUTATE,
            admission_review(guarded("two", {"replicas": 9, "host": "b", "tier": "standard"})),
        )
    response = big["response"]
    assert response["allowed"] is False
    assert response["status"] == {
        "status": "Failure",
        "message": "at most 5 replicas",
        "reason": "BadRequest",
        "code": 400,
    }
    assert "patch" not in response
    assert legacy["response"]["allowed"] is True
    assert legacy["response"]["warnings"] == ["tier legacy is retiring"]
    assert duplicate["response"]["allowed"] is False
    assert (
        "spec.host 'taken' is already used by another Guarded"
        in duplicate["response"]["status"]["message"]
    )
    assert going["response"] == {"uid": "7a1c-uid", "allowed": True}
    assert unmutated["response"] == {"uid": "7a1c-uid", "allowed": True}


async def test_mutating_then_validating_webhook_decide_as_the_embedded_hook(katalogs, tmp_path):
    """kube calls the mutating webhook, then the validating one on the patched object;
    the embedded server's one hook does both: same verdicts, messages and warnings."""
    peer = guarded("other", {"replicas": 1, "host": "taken"})
    hook = admission_hook(katalogs.crds["guarded"], lambda: [peer])
    cases = [
        {"replicas": 2, "host": "a"},
        {"replicas": 6, "host": "b"},
        {"replicas": 1, "host": "c", "tier": "legacy"},
        {"replicas": 7, "host": "taken", "tier": "legacy"},
    ]
    async with webhook_server(katalogs, tmp_path, peers=[peer]) as (_, client, _):
        for spec in cases:
            cr = guarded("x", spec)
            mutated = await post(client, MUTATE, admission_review(cr))
            if "patch" in mutated["response"]:
                cr = apply_json_patch(cr, patch_of(mutated))
            validated = (await post(client, VALIDATE, admission_review(cr)))["response"]
            embedded = hook(
                AdmissionRequest(
                    "CREATE",
                    "adm.example.com",
                    "v1",
                    "Guarded",
                    "guardeds",
                    "default",
                    "x",
                    guarded("x", spec),
                )
            )
            assert validated["allowed"] is embedded.allowed, spec
            assert validated.get("status", {}).get("message", "") == embedded.message, spec
            assert tuple(validated.get("warnings", ())) == embedded.warnings, spec
            if embedded.allowed:
                assert cr == (embedded.patched or guarded("x", spec)), spec


async def test_label_keys_are_escaped_as_json_pointers(tmp_path):
    katalog = tmp_path / "labels.yaml"
    katalog.write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: labels}\n"
        "spec:\n  crds:\n    tagged:\n"
        "      apiTypes: {group: adm.example.com, version: v1, kind: Tagged, plural: taggeds}\n"
        "      mutation:\n        rules:\n"
        "          - {field: metadata.labels.app.kubernetes.io/part-of, override: shop}\n"
        "          - {field: spec.size, default: 3}\n"
        "      webhooks: {mutation: true}\n"
        "      operatorBox:\n        onReconcile:\n"
        "          configMaps: [{name: '{{ .metadata.name }}', data: {a: b}}]\n"
    )
    cr = {
        "apiVersion": "adm.example.com/v1",
        "kind": "Tagged",
        "metadata": {"name": "t", "namespace": "default", "labels": {"keep": "me"}},
        "spec": {"size": None},
    }
    async with webhook_server(load_katalogs([katalog]), tmp_path) as (_, client, _):
        answer = await post(client, "/mutate/adm.example.com/taggeds", admission_review(cr))
    assert patch_of(answer) == [
        {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1part-of", "value": "shop"},
        {"op": "replace", "path": "/spec/size", "value": 3},
    ]
    patched = apply_json_patch(cr, patch_of(answer))
    assert patched["metadata"]["labels"] == {"keep": "me", "app.kubernetes.io/part-of": "shop"}


async def test_conversion_review_converts_each_object_or_fails_with_the_reason(katalogs, tmp_path):
    def gauge(version, spec, name="g"):
        return {
            "apiVersion": f"adm.example.com/{version}",
            "kind": "Gauge",
            "metadata": {"name": name, "namespace": "default", "uid": "u-" + name},
            "spec": spec,
            "status": {"phase": "Ready"},
        }

    def review(desired, objects):
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": {"uid": "c-1", "desiredAPIVersion": desired, "objects": objects},
        }

    async with webhook_server(katalogs, tmp_path) as (_, client, _):
        to_v1 = await post(
            client,
            CONVERT,
            review(
                "adm.example.com/v1", [gauge("v2", {"size": 5}), gauge("v1", {"replicas": 2}, "h")]
            ),
        )
        to_v2 = await post(
            client, CONVERT, review("adm.example.com/v2", [gauge("v1", {"replicas": 3})])
        )
        nowhere = await post(
            client, CONVERT, review("adm.example.com/v3", [gauge("v1", {"replicas": 3})])
        )
    assert to_v1["apiVersion"] == "apiextensions.k8s.io/v1" and to_v1["kind"] == "ConversionReview"
    response = to_v1["response"]
    assert response["uid"] == "c-1" and response["result"] == {"status": "Success"}
    assert response["convertedObjects"] == [
        {**gauge("v1", {"size": 5, "replicas": 5})},  # fields a path does not name carry over
        gauge("v1", {"replicas": 2}, "h"),  # already in the version asked for
    ]
    assert to_v2["response"]["convertedObjects"] == [gauge("v2", {"replicas": 3, "size": 3})]
    failed = nowhere["response"]
    assert failed["result"]["status"] == "Failure"
    assert "no path from v1 to v3" in failed["result"]["message"]
    assert "convertedObjects" not in failed


async def test_only_posted_reviews_on_known_paths_are_answered(katalogs, tmp_path):
    async with webhook_server(katalogs, tmp_path) as (_, client, _):
        assert (await client.get(VALIDATE)).status_code == 405
        assert (await client.post("/validate/adm.example.com/sites", json={})).status_code == 404
        assert (await client.post(VALIDATE, content=b"{not json")).status_code == 400
        wrong = admission_review(guarded("x", {}))
        wrong["apiVersion"] = "admission.k8s.io/v1beta1"
        refused = await client.post(VALIDATE, json=wrong)
        assert refused.status_code == 400 and "v1 only" in refused.json()["message"]
        assert (
            await client.post(CONVERT, json=admission_review(guarded("x", {})))
        ).status_code == 400


async def test_tls_is_verified_against_the_ca_that_signed_the_certificate(katalogs, tmp_path):
    async with webhook_server(katalogs, tmp_path) as (url, _, _):
        stranger = ssl.create_default_context()
        trustme.CA().configure_trust(stranger)
        async with httpx.AsyncClient(verify=stranger, timeout=10) as other:
            with pytest.raises(httpx.ConnectError):
                await other.post(url + VALIDATE, json={})
        async with httpx.AsyncClient(timeout=10) as plain:  # no TLS: no answer
            with pytest.raises(httpx.HTTPError):
                await plain.post(url.replace("https://", "http://") + VALIDATE, json={})


async def test_a_renewed_certificate_is_served_without_a_restart(katalogs, tmp_path):
    async with webhook_server(katalogs, tmp_path) as (url, _, files):
        assert files.reload_if_changed() is False  # nothing changed
        renewed = trustme.CA()  # cert-manager rotating its CA too: the harder case
        issued = renewed.issue_cert("127.0.0.1")
        issued.private_key_pem.write_to_path(files.key_file)
        # Half-written (key renewed, certificate not yet): the old pair keeps serving.
        assert files.reload_if_changed() is False
        issued.cert_chain_pems[0].write_to_path(files.cert_file)
        assert files.reload_if_changed() is True
        trusting = ssl.create_default_context()
        renewed.configure_trust(trusting)
        async with httpx.AsyncClient(verify=trusting, timeout=10) as client:
            answer = await post(
                client, url + VALIDATE, admission_review(guarded("x", {"replicas": 1, "host": "q"}))
            )
        assert answer["response"]["allowed"] is True


async def test_client_ca_admits_only_clients_it_signed(katalogs, tmp_path):
    ca, apiserver_ca = trustme.CA(), trustme.CA()
    async with webhook_server(katalogs, tmp_path, ca=ca, client_ca=apiserver_ca) as (
        url,
        client,
        _,
    ):
        with pytest.raises(httpx.HTTPError):  # no client certificate
            await client.get(VALIDATE)
        identity = ssl.create_default_context()
        ca.configure_trust(identity)
        apiserver_ca.issue_cert("kube-apiserver").configure_cert(identity)
        async with httpx.AsyncClient(verify=identity, timeout=10) as apiserver:
            answer = await post(
                apiserver,
                url + VALIDATE,
                admission_review(guarded("x", {"replicas": 1, "host": "q"})),
            )
        assert answer["response"]["allowed"] is True


BROKEN = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: broken}
spec:
  crds:
    meter:
      apiTypes: {group: adm.example.com, version: v2, kind: Meter, plural: meters}
      validation:
        rules: [{field: spec.n, max: 1, message: "{{ div 1 0 }}"}]
      webhooks: {validation: true}
      conversion:
        storageVersion: v2
        paths: [{from: v1, to: v2, spec: {n: "{{ div .spec.n 0 }}"}}]
      operatorBox:
        onReconcile:
          configMaps: [{name: "{{ .metadata.name }}", data: {a: b}}]
"""


async def test_a_rule_that_fails_to_render_fails_the_call_as_on_the_embedded_server(
    tmp_path, caplog
):
    """A message template that fails: 500, which kube turns into failurePolicy Fail (the
    write refused), as the embedded server answers a failing hook; a conversion path
    that fails: result Failure with the template's reason."""
    from orkestra_trio.apiserver.admission import AdmissionHooks
    from orkestra_trio.apiserver.status import ApiError

    katalog = tmp_path / "broken.yaml"
    katalog.write_text(BROKEN)
    katalogs = load_katalogs([katalog])
    meter = {
        "apiVersion": "adm.example.com/v1",
        "kind": "Meter",
        "metadata": {"name": "m", "namespace": "default"},
        "spec": {"n": 2},
    }
    async with webhook_server(katalogs, tmp_path) as (_, client, _):
        failed = await client.post("/validate/adm.example.com/meters", json=admission_review(meter))
        conversion = await post(
            client,
            "/convert/adm.example.com/meters",
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "ConversionReview",
                "request": {
                    "uid": "c",
                    "desiredAPIVersion": "adm.example.com/v2",
                    "objects": [meter],
                },
            },
        )
    assert failed.status_code == 500
    assert "division by zero" in failed.json()["message"]
    # The Katalog's mistake is logged in one line, without a traceback.
    [logged] = [r for r in caplog.records if r.name == "orkestra_trio.webhook.server"]
    assert "division by zero" in logged.getMessage() and logged.exc_info is None
    hooks = AdmissionHooks()
    hooks.add(
        "orkestra-meter.adm.example.com",
        "adm.example.com",
        "meters",
        admission_hook(katalogs.crds["meter"], lambda: ()),
    )
    with pytest.raises(ApiError) as embedded:
        hooks.admit(
            AdmissionRequest(
                "CREATE", "adm.example.com", "v1", "Meter", "meters", "default", "m", meter
            ),
            [],
        )
    assert embedded.value.code == 500
    result = conversion["response"]["result"]
    assert result["status"] == "Failure" and "division by zero" in result["message"]


SECURITY = Path(__file__).parents[1] / "compat" / "katalogs" / "security.yaml"


def review_of(operation, kind, obj, old=None, *, group="sec.example.com", resource="vaults"):
    namespace = ((obj or old or {}).get("metadata") or {}).get("namespace")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "5e1d-uid",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            **({"namespace": namespace} if namespace else {}),
            "operation": operation,
            "object": obj,
            "oldObject": old,
        },
    }


def vault(name, namespace="default", **labels):
    return {
        "apiVersion": "sec.example.com/v1",
        "kind": "Vault",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"size": 1},
    }


def denial(answer):
    response = answer["response"]
    assert response["uid"] == "5e1d-uid"
    if response["allowed"]:
        return None
    assert response["status"]["code"] == 400
    return response["status"]["message"]


async def embedded_denial(katalogs, operation, group, plural, kind, obj, old=None):
    """What the embedded server's hooks answer for the same request (None: let through)."""
    from contextlib import AsyncExitStack

    from orkestra_trio.apiserver.admission import AdmissionHooks
    from orkestra_trio.apiserver.status import ApiError
    from orkestra_trio.runtime.admission import install_protection

    class Server:
        admission = AdmissionHooks()

    async with AsyncExitStack() as stack:
        install_protection(stack, Server, katalogs)
        metadata = (obj or old)["metadata"]
        request = AdmissionRequest(
            operation=operation,
            group=group,
            version="v1",
            kind=kind,
            plural=plural,
            namespace=metadata.get("namespace", ""),
            name=metadata["name"],
            object=obj if obj is not None else old,
            old_object=old,
        )
        try:
            Server.admission.admit(request, [])
        except ApiError as exc:
            return exc.message.split("denied the request: ", 1)[1]
        return None


async def test_security_webhooks_answer_over_tls_as_the_embedded_server(tmp_path):
    """security: deletion protection (strictMode) and namespace protection, as kube-apiserver
    posts them: DELETE with the object as oldObject, UPDATE with both."""
    katalogs = load_katalogs([SECURITY])
    protected = {"orkestra.io/deletion-protection": "true"}
    exempt = {"orkestra.io/strict-mode-exempt": "true"}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "vaults.sec.example.com"},
    }
    other_crd = {**crd, "metadata": {"name": "others.sec.example.com"}}
    cases = [
        # (path, operation, group, plural, kind, object, oldObject, denied?)
        ("/deletion-protection", "DELETE", "sec.example.com", "vaults", "Vault",
         None, vault("one", **protected), True),
        ("/deletion-protection", "DELETE", "sec.example.com", "vaults", "Vault",
         None, vault("one"), False),
        ("/deletion-protection", "DELETE", "apiextensions.k8s.io", "customresourcedefinitions",
         "CustomResourceDefinition", None, crd, True),
        ("/deletion-protection", "DELETE", "apiextensions.k8s.io", "customresourcedefinitions",
         "CustomResourceDefinition", None, other_crd, False),
        ("/strict-mode", "UPDATE", "sec.example.com", "vaults", "Vault",
         vault("one"), vault("one", **protected), True),
        ("/strict-mode", "UPDATE", "sec.example.com", "vaults", "Vault",
         vault("one", **exempt), vault("one", **protected), False),
        ("/strict-mode", "UPDATE", "sec.example.com", "vaults", "Vault",
         vault("one", **protected, a="b"), vault("one", **protected), False),
        ("/namespace-protection/sec.example.com/vaults", "CREATE", "sec.example.com", "vaults",
         "Vault", vault("v", "kube-public"), None, True),
        ("/namespace-protection/sec.example.com/vaults", "CREATE", "sec.example.com", "vaults",
         "Vault", vault("v", "team-b"), None, True),
        ("/namespace-protection/sec.example.com/vaults", "UPDATE", "sec.example.com", "vaults",
         "Vault", vault("v", "team-a"), vault("v", "team-a"), False),
    ]  # fmt: skip
    async with webhook_server(katalogs, tmp_path) as (_url, client, _files):
        for path, operation, group, plural, kind, obj, old, denied in cases:
            review = review_of(operation, kind, obj, old, group=group, resource=plural)
            served = denial(await post(client, path, review))
            assert (served is not None) == denied, (path, operation, obj, old)
            embedded = await embedded_denial(katalogs, operation, group, plural, kind, obj, old)
            assert served == embedded, (path, served, embedded)
        # A body that is no review is the caller's mistake: 400, not a decision.
        response = await client.post("/deletion-protection", json={"kind": "Pod"})
        assert response.status_code == 400
