"""Orkestra's ``security:`` block on the embedded API server, over real HTTP.

katalogs/security.yaml turns on deletion protection (strictMode), namespace
protection and the admission webhooks. The runtime labels each Vault CR
``orkestra.io/deletion-protection: "true"``; the requests that test the
protection go over the server's loopback socket with httpx, as kubectl's
would. The clock is the real one (a socket is waited on), every wait bounded.
"""

from pathlib import Path

import httpx
import pytest

from orkestra_trio.katalog import KatalogError, load_katalog, load_katalogs
from orkestra_trio.katalog.security import DELETION_PROTECTION_LABEL, STRICT_MODE_EXEMPT_LABEL
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "security.yaml"
VAULTS = "/apis/sec.example.com/v1/namespaces/{}/vaults"
MERGE = {"content-type": "application/merge-patch+json"}


def vault(name, namespace="default", size=1):
    return {
        "apiVersion": "sec.example.com/v1",
        "kind": "Vault",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"size": size},
    }


def denied_by(response, webhook):
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith(f'admission webhook "{webhook}" denied the request: '), message
    return message


async def test_security_deletion_protection_and_strict_mode_over_http():
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("vault", "one", {"size": 1}))
        await kat.wait_steady(within=30)
        labels = kat.cr("vault", "one")["metadata"]["labels"]
        assert labels[DELETION_PROTECTION_LABEL] == "true"  # the runtime's label
        async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as http:
            # DELETE of the labelled CR: refused, the CR stays.
            response = await http.delete(VAULTS.format("default") + "/one")
            message = denied_by(response, "delete-protection.orkestra.orkspace.io")
            assert 'Vault "one" in namespace "default"' in message
            assert kat.cr("vault", "one") is not None
            # The Katalog's CRD itself, labelled or not.
            crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/vaults.sec.example.com"
            denied_by(await http.delete(crd), "delete-protection.orkestra.orkspace.io")
            assert (await http.get(crd)).status_code == 200
            # strictMode: taking the label off is refused...
            off = {"metadata": {"labels": {DELETION_PROTECTION_LABEL: None}}}
            response = await http.patch(VAULTS.format("default") + "/one", json=off, headers=MERGE)
            message = denied_by(response, "strict-mode.orkestra.orkspace.io")
            assert "strictMode" in message
            # ...and so is changing it.
            other = {"metadata": {"labels": {DELETION_PROTECTION_LABEL: "false"}}}
            response = await http.patch(
                VAULTS.format("default") + "/one", json=other, headers=MERGE
            )
            denied_by(response, "strict-mode.orkestra.orkspace.io")
            # The exemption label in the same update lets it go; the runtime, whose
            # Katalog still protects Vaults, puts the label back.
            exempt = {
                "metadata": {
                    "labels": {DELETION_PROTECTION_LABEL: None, STRICT_MODE_EXEMPT_LABEL: "true"}
                }
            }
            response = await http.patch(
                VAULTS.format("default") + "/one", json=exempt, headers=MERGE
            )
            assert response.status_code == 200, response.text
            assert DELETION_PROTECTION_LABEL not in response.json()["metadata"]["labels"]
            await kat.wait_steady(within=30)
            labels = kat.cr("vault", "one")["metadata"]["labels"]
            assert labels[DELETION_PROTECTION_LABEL] == "true"

            # Any object the label is on, not only the Katalog's (Orkestra's label-based
            # protection); an unlabelled child goes.
            configmaps = "/api/v1/namespaces/default/configmaps"
            manual = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "manual", "labels": {DELETION_PROTECTION_LABEL: "true"}},
            }
            assert (await http.post(configmaps, json=manual)).status_code == 201
            denied_by(
                await http.delete(configmaps + "/manual"), "delete-protection.orkestra.orkspace.io"
            )
            response = await http.patch(configmaps + "/manual", json=off, headers=MERGE)
            denied_by(response, "strict-mode.orkestra.orkspace.io")
            response = await http.patch(configmaps + "/manual", json=exempt, headers=MERGE)
            assert response.status_code == 200, response.text
            assert (await http.delete(configmaps + "/manual")).status_code == 200
            assert (await http.delete(configmaps + "/one")).status_code == 200
            # A collection delete asks for each object too.
            response = await http.delete(VAULTS.format("default"))
            denied_by(response, "delete-protection.orkestra.orkspace.io")
            assert kat.cr("vault", "one") is not None


async def test_security_namespace_protection_and_admission_settings_over_http():
    async with (
        open_test_cluster() as cluster,
        run_katalog(KATALOG, cluster) as kat,
        httpx.AsyncClient(base_url=cluster.url, timeout=10) as http,
    ):
        for namespace in ("secrets", "kube-public", "team-a", "team-b"):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            assert (await http.post("/api/v1/namespaces", json=body)).status_code in (201, 409)
        webhook = "vault.namespace-protection.orkestra.orkspace.io"
        # restrictedNamespaces (the block's, patterns included) win over the CRD's
        # allowedNamespaces; outside allowedNamespaces is refused too.
        for namespace, why in (
            ("secrets", "restrictedNamespaces: secrets"),
            ("kube-public", "restrictedNamespaces: kube-*"),
            ("team-b", "allowedNamespaces: default, team-a, secrets, kube-public"),
        ):
            response = await http.post(VAULTS.format(namespace), json=vault("v", namespace))
            assert why in denied_by(response, webhook)
            assert kat.cr("vault", "v", namespace) is None
        response = await http.post(VAULTS.format("team-a"), json=vault("v", "team-a"))
        assert response.status_code == 201, response.text
        # webhooks.admission.enabled: the CRD's rules run at admission.
        response = await http.post(VAULTS.format("default"), json=vault("big", size=9))
        assert "at most 5" in denied_by(response, "orkestra-vault.sec.example.com")


async def test_security_webhooks_declared_without_admission_leaves_the_rules_to_reconcile(
    tmp_path,
):
    """Orkestra's default: a declared ``security.webhooks`` without ``admission.enabled``
    registers no admission webhook (the rules still run at each reconcile)."""
    text = KATALOG.read_text().replace(
        "webhooks: {admission: {enabled: true}, failurePolicy: Fail}",
        "webhooks: {failurePolicy: Fail}",
    )
    path = tmp_path / "security.yaml"
    path.write_text(text)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        created = await kat.apply(kat.manifest("vault", "big", {"size": 9}))
        assert created["spec"]["size"] == 9
        await kat.wait_steady(within=30)
        conditions = kat.cr("vault", "big")["status"]["conditions"]
        ready = next(c for c in conditions if c["type"] == "Ready")
        assert ready["status"] == "False" and "at most 5" in ready["message"]


def test_security_settings_are_read_with_orkestras_defaults():
    [katalog] = load_katalogs([KATALOG]).katalogs
    security = katalog.security
    assert security.service_name == "vault-hooks"
    assert security.deletion.enabled and security.deletion.strict_mode
    assert security.namespaces.enabled
    assert security.namespaces.restricted == ("kube-*", "secrets")
    assert security.webhooks.admission_enabled and security.webhooks.failure_policy == "Fail"
    assert security.cert_manager is not None
    assert security.cert_manager.valid_for == 90 * 86400
    assert security.cert_manager.rotation_threshold == 15 * 86400
    assert katalog.crds["vault"].deletion_protected


HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    web:
      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}
security:
"""


@pytest.mark.parametrize(
    ("block", "line", "field", "message"),
    [
        ("  deletionProtection: {failurePolicy: Sometimes}\n", 9, "failurePolicy", "Fail, Ignore"),
        ("  deletionProtection: {strict: true}\n", 9, "strict", "did you mean 'strictMode'"),
        (
            "  namespaceProtection:\n    restrictedNamespaces: [Kube_System]\n",
            10,
            "restrictedNamespaces[0]",
            "expected a namespace name",
        ),
        ("  webhooks: {admission: {enabled: yes please}}\n", 9, "enabled", "true or false"),
        ("  conversion: {conversionWindow: 0}\n", 9, "conversionWindow", "at least 1"),
        ("  certManager: {validFor: 10m}\n", 9, "validFor", "at least 1h"),
        (
            "  certManager: {validFor: 30d, rotationThreshold: 60d}\n",
            9,
            "rotationThreshold",
            "shorter than validFor",
        ),
        ("  serviceName: Not_A_Service\n", 9, "serviceName", "DNS label"),
        ("  gateway: {}\n", 9, "gateway", "unknown key"),
    ],
)
def test_a_bad_security_block_is_one_line_naming_file_line_and_field(
    tmp_path, block, line, field, message
):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + block)
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    [issue] = caught.value.issues
    text = str(issue)
    assert "\n" not in text
    assert text.startswith(f"{path}:{line}:"), text
    assert field in text and message in text, text
