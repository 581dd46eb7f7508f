"""RBAC on the embedded server: roles and bindings enforced, SA tokens, truthful reviews."""

import ssl
from pathlib import Path

import httpx
import pytest

from orkestra_trio.apiserver import open_apiserver
from orkestra_trio.apiserver.authz.rbac import Attributes, authorize, forbidden_message
from orkestra_trio.apiserver.authz.requestinfo import request_attributes
from orkestra_trio.auth import UserInfo

RBAC = "/apis/rbac.authorization.k8s.io/v1"
BOT = "system:serviceaccount:ops:bot"


class Policy:
    def __init__(self, crbs=(), rbs=None, cluster_roles=None, roles=None):
        self.crbs, self.rbs = list(crbs), rbs or {}
        self.cluster_roles, self.roles = cluster_roles or {}, roles or {}

    def cluster_role_bindings(self):
        return self.crbs

    def role_bindings(self, namespace):
        return self.rbs.get(namespace, [])

    def cluster_role(self, name):
        return self.cluster_roles.get(name)

    def role(self, namespace, name):
        return self.roles.get((namespace, name))


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/a/pods", {}, ("list", "", "pods", "", "a", "")),
        ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "pods", "", "", "")),
        (
            "GET",
            "/apis/apps/v1/watch/namespaces/a/deployments/w",
            {},
            ("watch", "apps", "deployments", "", "a", "w"),
        ),
        (
            "PATCH",
            "/apis/x.io/v1/namespaces/a/webs/w/status",
            {},
            ("patch", "x.io", "webs", "status", "a", "w"),
        ),
        (
            "DELETE",
            "/api/v1/namespaces/a/configmaps",
            {},
            ("deletecollection", "", "configmaps", "", "a", ""),
        ),
        (
            "POST",
            "/api/v1/namespaces/a/serviceaccounts/bot/token",
            {},
            ("create", "", "serviceaccounts", "token", "a", "bot"),
        ),
        ("GET", "/api/v1/namespaces/a", {}, ("get", "", "namespaces", "", "a", "a")),
        (
            "PUT",
            "/api/v1/namespaces/a/finalize",
            {},
            ("update", "", "namespaces", "finalize", "a", "a"),
        ),
    ],
)
def test_request_attributes_read_the_url_as_kube_does(method, path, query, expected):
    a = request_attributes(method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expected


def test_non_resource_paths_and_the_bootstrap_rules():
    user = UserInfo("u").authenticated()
    for path in ("/apis", "/api/v1", "/version", "/openapi/v2"):
        attributes = request_attributes("GET", path, {})
        assert not attributes.resource_request
        assert authorize(user, attributes, Policy()).allowed, path
    assert not authorize(user, request_attributes("GET", "/metrics", {}), Policy()).allowed
    review = Attributes(
        "create", api_group="authorization.k8s.io", resource="selfsubjectaccessreviews"
    )
    assert authorize(user, review, Policy()).allowed


def test_bindings_rules_names_and_scopes():
    bot = UserInfo(BOT, groups=("system:serviceaccounts",)).authenticated()
    role = {
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["get"],
                "resourceNames": ["one"],
            }
        ]
    }
    cluster = {
        "rules": [
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "deployments/status"],
                "verbs": ["list", "patch"],
            }
        ]
    }
    policy = Policy(
        crbs=[
            {
                "roleRef": {"kind": "ClusterRole", "name": "c"},
                "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}],
            }
        ],
        rbs={
            "ops": [
                {
                    "roleRef": {"kind": "Role", "name": "r"},
                    "subjects": [{"kind": "ServiceAccount", "name": "bot"}],
                }
            ]
        },
        cluster_roles={"c": cluster},
        roles={("ops", "r"): role},
    )

    def allowed(**kw):
        return authorize(bot, Attributes(**kw), policy).allowed

    assert allowed(verb="get", resource="configmaps", namespace="ops", name="one")
    assert not allowed(verb="get", resource="configmaps", namespace="ops", name="two")
    assert not allowed(verb="get", resource="configmaps", namespace="other", name="one")
    assert allowed(verb="list", api_group="apps", resource="deployments")
    assert allowed(
        verb="patch",
        api_group="apps",
        resource="deployments",
        subresource="status",
        namespace="x",
        name="d",
    )
    assert not allowed(
        verb="update",
        api_group="apps",
        resource="deployments",
        subresource="status",
        namespace="x",
        name="d",
    )
    masters = UserInfo("root", groups=("system:masters",))
    assert authorize(masters, Attributes(verb="delete", resource="nodes"), Policy()).allowed


def test_forbidden_wording_is_kubes():
    user = UserInfo(BOT)
    assert forbidden_message(
        user, Attributes("list", api_group="apps", resource="deployments")
    ) == (
        f'deployments.apps is forbidden: User "{BOT}" cannot list resource "deployments" '
        'in API group "apps" at the cluster scope'
    )
    named = Attributes("patch", resource="configmaps", subresource="", namespace="ops", name="c")
    assert forbidden_message(user, named) == (
        f'configmaps "c" is forbidden: User "{BOT}" cannot patch resource "configmaps" '
        'in API group "" in the namespace "ops"'
    )
    status = Attributes(
        "patch", api_group="x.io", resource="webs", subresource="status", namespace="a", name="w"
    )
    assert 'cannot patch resource "webs/status" in API group "x.io"' in forbidden_message(
        user, status
    )
    assert forbidden_message(user, Attributes("get", resource_request=False, path="/metrics")) == (
        f'forbidden: User "{BOT}" cannot get path "/metrics"'
    )


def _client(server, token=None):
    context = ssl.create_default_context(cadata=server.ca_pem.decode())
    headers = {"Authorization": f"Bearer {token or server.admin_token}"}
    return httpx.AsyncClient(base_url=server.url, verify=context, headers=headers, timeout=10)


async def _setup_bot(admin):
    assert (
        await admin.post("/api/v1/namespaces", json={"metadata": {"name": "ops"}})
    ).status_code == 201
    sa = await admin.post(
        "/api/v1/namespaces/ops/serviceaccounts", json={"metadata": {"name": "bot"}}
    )
    assert sa.status_code == 201
    role = {
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }
    assert (await admin.post(f"{RBAC}/namespaces/ops/roles", json=role)).status_code == 201
    binding = {
        "metadata": {"name": "bot-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}],
    }
    assert (
        await admin.post(f"{RBAC}/namespaces/ops/rolebindings", json=binding)
    ).status_code == 201
    answer = await admin.post(
        "/api/v1/namespaces/ops/serviceaccounts/bot/token",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["kind"] == "TokenRequest"
    return answer.json()["status"]["token"]


async def test_service_account_token_is_held_to_its_role(tmp_path: Path) -> None:
    async with (
        open_apiserver(workload_simulation=False, authorization="rbac") as server,
        _client(server) as admin,
    ):
        token = await _setup_bot(admin)
        async with _client(server, token) as bot:
            assert (await bot.get("/api/v1/namespaces/ops/configmaps")).status_code == 200
            assert (await bot.get("/apis")).status_code == 200  # discovery for everyone
            denied = await bot.get("/api/v1/namespaces/default/configmaps")
            assert denied.status_code == 403
            body = denied.json()
            assert body["reason"] == "Forbidden" and body["code"] == 403
            assert body["message"] == (
                f'configmaps is forbidden: User "{BOT}" cannot list resource "configmaps" '
                'in API group "" in the namespace "default"'
            )
            assert body["details"] == {"kind": "configmaps"}
            write = await bot.post(
                "/api/v1/namespaces/ops/configmaps", json={"metadata": {"name": "x"}}
            )
            assert write.status_code == 403
            # The admin stays all-powerful.
            assert (await admin.get("/api/v1/secrets")).status_code == 200

            # Reviews answer with the same authorizer.
            def ssar(verb, resource, namespace):
                return {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SelfSubjectAccessReview",
                    "spec": {
                        "resourceAttributes": {
                            "verb": verb,
                            "resource": resource,
                            "namespace": namespace,
                        }
                    },
                }

            ssar_path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
            yes = await bot.post(ssar_path, json=ssar("list", "configmaps", "ops"))
            no = await bot.post(ssar_path, json=ssar("list", "secrets", "ops"))
            assert yes.json()["status"]["allowed"] is True
            assert no.json()["status"]["allowed"] is False
            sar = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": BOT,
                    "groups": ["system:serviceaccounts", "system:authenticated"],
                    "resourceAttributes": {
                        "verb": "get",
                        "resource": "configmaps",
                        "namespace": "ops",
                    },
                },
            }
            sar_path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
            assert (await admin.post(sar_path, json=sar)).json()["status"]["allowed"] is True
            # The bot may not ask about others.
            assert (await bot.post(sar_path, json=sar)).status_code == 403
            whoami = await bot.post(
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
            assert whoami.json()["status"]["userInfo"]["username"] == BOT
            review = await admin.post(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                json={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview",
                    "spec": {"token": token},
                },
            )
            status = review.json()["status"]
            assert status["authenticated"] is True and status["user"]["username"] == BOT
            assert "system:serviceaccounts:ops" in status["user"]["groups"]
            forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
            review = await admin.post(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                json={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview",
                    "spec": {"token": forged},
                },
            )
            assert review.json()["status"]["authenticated"] is False

            # Deleting the account revokes its tokens.
            assert (
                await admin.delete("/api/v1/namespaces/ops/serviceaccounts/bot")
            ).status_code == 200
            assert (await bot.get("/api/v1/namespaces/ops/configmaps")).status_code == 401


async def test_without_authorization_reviews_say_allowed_and_nothing_is_enforced() -> None:
    async with (
        open_apiserver(workload_simulation=False) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        review = await client.post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            json={"spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}},
        )
        assert review.json()["status"]["allowed"] is True
        token = await client.post(
            "/api/v1/namespaces/default/serviceaccounts/default/token", json={"spec": {}}
        )
        assert token.status_code == 201 and token.json()["status"]["token"].count(".") == 2
        missing = await client.post(
            "/api/v1/namespaces/default/serviceaccounts/nobody/token", json={"spec": {}}
        )
        assert missing.status_code == 404


@pytest.mark.slow
async def test_kubectl_create_token_and_auth_can_i(tmp_path: Path) -> None:
    import trio

    async with open_apiserver(workload_simulation=False, authorization="rbac") as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kc")
        async with _client(server) as admin:
            await _setup_bot(admin)

        async def kubectl(*args):
            result = await trio.run_process(
                [
                    "kubectl",
                    "--kubeconfig",
                    str(kubeconfig),
                    "--cache-dir",
                    str(tmp_path / "c"),
                    *args,
                ],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            return result.returncode, result.stdout.decode().strip(), result.stderr.decode()

        code, token, err = await kubectl("create", "token", "bot", "-n", "ops")
        assert code == 0, err
        assert await kubectl(
            "auth", "can-i", "list", "configmaps", "-n", "ops", "--token", token
        ) == (0, "yes", "")
        code, out, _ = await kubectl(
            "auth", "can-i", "list", "secrets", "-n", "ops", "--token", token
        )
        assert (code, out) == (1, "no")
        code, _, err = await kubectl("get", "secrets", "-n", "ops", "--token", token)
        assert code == 1
        assert f'secrets is forbidden: User "{BOT}" cannot list resource "secrets"' in err


def test_finalizer_checks_only_for_newly_blocking_references():
    from orkestra_trio.apiserver.authz.ownerrefs import finalizer_checks

    ref = {
        "apiVersion": "x.io/v1",
        "kind": "Web",
        "name": "w",
        "uid": "u1",
        "blockOwnerDeletion": True,
    }
    obj = {"metadata": {"ownerReferences": [ref]}}

    def resolve(group, version, kind):
        return "webs" if (group, version, kind) == ("x.io", "v1", "Web") else None

    (check,) = finalizer_checks("ns", obj, None, resolve)
    assert isinstance(check, Attributes)
    assert (check.verb, check.api_group, check.full_resource, check.namespace, check.name) == (
        "update",
        "x.io",
        "webs/finalizers",
        "ns",
        "w",
    )
    assert finalizer_checks("ns", obj, obj, resolve) == []  # unchanged: nothing to check
    plain = {"metadata": {"ownerReferences": [{**ref, "blockOwnerDeletion": False}]}}
    assert finalizer_checks("ns", plain, None, resolve) == []
    other = {"metadata": {"ownerReferences": [{**ref, "kind": "Nope"}]}}
    (message,) = finalizer_checks("ns", other, None, resolve)
    assert isinstance(message, str) and "cannot find RESTMapping" in message


async def test_blocking_an_owner_needs_its_finalizers(tmp_path: Path) -> None:
    async with (
        open_apiserver(workload_simulation=False, authorization="rbac") as server,
        _client(server) as admin,
    ):
        token = await _setup_bot(admin)
        writer = {
            "metadata": {"name": "writer"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}],
        }
        assert (await admin.post(f"{RBAC}/namespaces/ops/roles", json=writer)).status_code == 201
        binding = {
            "metadata": {"name": "bot-writes"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "writer"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}],
        }
        assert (
            await admin.post(f"{RBAC}/namespaces/ops/rolebindings", json=binding)
        ).status_code == 201
        owner = (await admin.get("/api/v1/namespaces/ops/serviceaccounts/bot")).json()
        ref = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "name": "bot",
            "uid": owner["metadata"]["uid"],
            "blockOwnerDeletion": True,
        }
        child = {"metadata": {"name": "child", "ownerReferences": [ref]}}
        async with _client(server, token) as bot:
            refused = await bot.post("/api/v1/namespaces/ops/configmaps", json=child)
            assert refused.status_code == 403
            assert refused.json()["message"] == (
                'configmaps "child" is forbidden: cannot set blockOwnerDeletion if an '
                "ownerReference refers to a resource you can't set finalizers on: "
                f'User "{BOT}" cannot update resource '
                '"serviceaccounts/finalizers" in API group "" in the namespace "ops"'
            )
            unblocked = {
                "metadata": {
                    "name": "child",
                    "ownerReferences": [{**ref, "blockOwnerDeletion": False}],
                }
            }
            assert (
                await bot.post("/api/v1/namespaces/ops/configmaps", json=unblocked)
            ).status_code == 201


async def test_a_new_binding_takes_effect_at_once(tmp_path: Path) -> None:
    async with (
        open_apiserver(workload_simulation=False, authorization="rbac") as server,
        _client(server) as admin,
    ):
        token = await _setup_bot(admin)
        async with _client(server, token) as bot:
            assert (await bot.get("/api/v1/namespaces/ops/secrets")).status_code == 403
            role = {
                "metadata": {"name": "secrets"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
            }
            await admin.post(f"{RBAC}/clusterroles", json=role)
            binding = {
                "metadata": {"name": "bot-secrets"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "secrets",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ops"}],
            }
            assert (
                await admin.post(f"{RBAC}/namespaces/ops/rolebindings", json=binding)
            ).status_code == 201
            assert (await bot.get("/api/v1/namespaces/ops/secrets")).status_code == 200
            assert (await bot.get("/api/v1/namespaces/default/secrets")).status_code == 403
            await admin.delete(f"{RBAC}/clusterroles/secrets")
            assert (await bot.get("/api/v1/namespaces/ops/secrets")).status_code == 403
