"""`manifests` for Katalogs with ``webhooks`` and ``conversion``: what lets a real cluster call
the runtime's webhook server, pointing where that server answers."""

from __future__ import annotations

import base64
from pathlib import Path

import trustme
import yaml
from kubernetes.client import ApiClient

from orkestra_trio.cli import main
from orkestra_trio.katalog import load_katalogs
from orkestra_trio.webhook.server import WebhookApp

COMPAT = Path(__file__).parents[1] / "compat" / "katalogs"
KATALOGS = [str(COMPAT / "admission.yaml"), str(COMPAT / "conversion.yaml")]
WEBSITE = Path(__file__).parents[2] / "katalogs" / "website.yaml"
CONFIGURATIONS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def objects_of(capsys, *args):
    assert main(["manifests", *args, "--namespace", "ops"]) == 0
    return [o for o in yaml.safe_load_all(capsys.readouterr().out) if o]


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def client_configs(objects):
    """Every clientConfig: each webhook's, and each CRD's conversion webhook's."""
    for kind in CONFIGURATIONS:
        for configuration in by_kind(objects, kind):
            for webhook in configuration["webhooks"]:
                yield webhook["clientConfig"]
    for crd in by_kind(objects, "CustomResourceDefinition"):
        conversion = crd["spec"].get("conversion")
        if conversion:
            yield conversion["webhook"]["clientConfig"]


def test_webhooks_and_conversion_point_at_the_runtimes_service_with_cert_manager(capsys):
    objects = objects_of(capsys, *KATALOGS)
    kinds = [o["kind"] for o in objects]
    # cert-manager's objects before the pods that mount their Secret; the configurations
    # last, so that nothing is refused before the runtime can answer.
    assert kinds[-2:] == list(CONFIGURATIONS)
    assert kinds.index("Certificate") < kinds.index("Deployment")
    assert kinds.index("Issuer") < kinds.index("Certificate")
    [service] = by_kind(objects, "Service")
    name = service["metadata"]["name"]
    [certificate] = by_kind(objects, "Certificate")
    assert certificate["spec"]["issuerRef"] == {
        "name": by_kind(objects, "Issuer")[0]["metadata"]["name"],
        "kind": "Issuer",
    }
    assert f"{name}.ops.svc" in certificate["spec"]["dnsNames"]
    # The pods serve the Secret cert-manager fills, on the port the Service forwards 443 to.
    [deployment] = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = container["args"]
    assert args[args.index("--webhook-listen") + 1] == "0.0.0.0:9443"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "webhook-tls")
    assert args[args.index("--webhook-cert") + 1] == f"{mount['mountPath']}/tls.crt"
    assert args[args.index("--webhook-key") + 1] == f"{mount['mountPath']}/tls.key"
    volume = next(v for v in pod["volumes"] if v["name"] == "webhook-tls")
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in container["ports"]
    assert {"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    # Every clientConfig: the Service, port 443, a path the webhook server answers.
    served = WebhookApp(load_katalogs([Path(k) for k in KATALOGS])).routes
    configs = list(client_configs(objects))
    assert len(configs) == 3  # guarded's mutating and validating webhooks, gauge's conversion
    for config in configs:
        assert config["service"]["name"] == name and config["service"]["namespace"] == "ops"
        assert config["service"]["port"] == 443
        assert config["service"]["path"] in served
        assert "caBundle" not in config  # cert-manager injects it
    injected = f"ops/{certificate['metadata']['name']}"
    for kind in CONFIGURATIONS:
        [configuration] = by_kind(objects, kind)
        assert configuration["metadata"]["annotations"] == {
            "cert-manager.io/inject-ca-from": injected
        }
        [webhook] = configuration["webhooks"]
        assert webhook["name"] == "orkestra-guarded.adm.example.com"  # as the embedded server
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["sideEffects"] == "None" and webhook["failurePolicy"] == "Fail"
        assert webhook["rules"] == [
            {
                "apiGroups": ["adm.example.com"],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["guardeds"],
                "scope": "Namespaced",
            }
        ]
    crds = {o["metadata"]["name"]: o for o in by_kind(objects, "CustomResourceDefinition")}
    gauges = crds["gauges.adm.example.com"]
    assert gauges["spec"]["conversion"]["strategy"] == "Webhook"
    assert gauges["spec"]["conversion"]["webhook"]["conversionReviewVersions"] == ["v1"]
    assert gauges["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == injected
    assert [v["name"] for v in gauges["spec"]["versions"]] == ["v1", "v2"]  # the crdFile's
    assert "conversion" not in crds["guardeds.adm.example.com"]["spec"]
    assert "conversion" not in crds["sites.adm.example.com"]["spec"]  # rules at reconcile only


def test_a_provided_ca_goes_into_every_ca_bundle_and_cert_manager_is_not_used(capsys, tmp_path):
    ca = trustme.CA()
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    objects = objects_of(capsys, *KATALOGS, "--webhook-ca-file", str(ca_file))
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"Issuer", "Certificate"}
    configs = list(client_configs(objects))
    assert len(configs) == 3
    for config in configs:
        assert base64.b64decode(config["caBundle"]) == ca.cert_pem.bytes()
    for obj in objects:
        assert "cert-manager.io/inject-ca-from" not in (obj["metadata"].get("annotations") or {})
    # The Secret is the user's to create, under the name the pods mount.
    [deployment] = by_kind(objects, "Deployment")
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "webhook-tls"
    )
    assert volume["secret"]["secretName"] == f"{deployment['metadata']['name']}-webhook-tls"


def test_only_the_sides_and_operations_the_katalog_names(capsys, tmp_path):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: k}\n"
        "spec:\n  crds:\n    tagged:\n"
        "      apiTypes: {group: adm.example.com, version: v1, kind: Tagged, plural: taggeds}\n"
        "      namespaced: false\n"
        "      mutation:\n        rules: [{field: spec.size, default: 3}]\n"
        "      webhooks: {mutation: true, operations: [CREATE]}\n"
        "      operatorBox:\n        onReconcile:\n"
        "          configMaps: [{name: '{{ .metadata.name }}', namespace: default, data: {a: b}}]\n"
    )
    objects = objects_of(capsys, str(katalog))
    assert not by_kind(objects, "ValidatingWebhookConfiguration")
    [configuration] = by_kind(objects, "MutatingWebhookConfiguration")
    [webhook] = configuration["webhooks"]
    assert webhook["rules"][0]["operations"] == ["CREATE"]
    assert webhook["rules"][0]["scope"] == "Cluster"
    assert webhook["clientConfig"]["service"]["path"] == "/mutate/adm.example.com/taggeds"


def test_katalogs_without_webhooks_get_no_webhook_server(capsys):
    objects = objects_of(capsys, str(WEBSITE))
    kinds = {o["kind"] for o in objects}
    assert not kinds & {*CONFIGURATIONS, "Issuer", "Certificate"}
    [deployment] = by_kind(objects, "Deployment")
    assert "--webhook-listen" not in deployment["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_objects_read_as_kubernetes_models_without_losing_a_field(capsys):
    """Field names and shapes as the Kubernetes API defines them: each object read into the
    official client's model (which drops unknown keys, refuses missing required ones) and
    written back unchanged."""
    objects = objects_of(capsys, *KATALOGS)
    client = ApiClient()
    models = {
        "MutatingWebhookConfiguration": "V1MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration": "V1ValidatingWebhookConfiguration",
        "CustomResourceDefinition": "V1CustomResourceDefinition",
    }
    for obj in objects:
        model = models.get(obj["kind"])
        if model is None:
            continue
        read = client._ApiClient__deserialize(obj, model)
        assert client.sanitize_for_serialization(read) == obj, obj["kind"]


def test_a_bad_ca_file_is_one_line_naming_the_flag(capsys, tmp_path):
    key = tmp_path / "key.pem"
    trustme.CA().issue_cert("x").private_key_and_cert_chain_pem.write_to_path(str(key))
    for path, reason in ((tmp_path / "none.crt", ""), (key, "expected PEM certificates only")):
        assert main(["manifests", *KATALOGS, "--webhook-ca-file", str(path)]) == 1
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"orkestra_trio: --webhook-ca-file {path}: {reason}")


SECURITY = str(COMPAT / "security.yaml")


def test_security_webhook_configurations_and_certificate_field_by_field(capsys):
    """security: each webhook's failurePolicy, the Service named by serviceName in front of
    the runtime's pods, the objectSelector/rules of deletion protection and strict mode,
    one namespace protection webhook per CRD, certManager's lifetime."""
    objects = objects_of(capsys, SECURITY)
    configurations = {o["metadata"]["name"]: o for o in by_kind(objects, CONFIGURATIONS[1])}
    assert set(configurations) == {
        "orkestra-security",
        "orkestra-security-deletion-protection",
        "orkestra-security-namespace-protection",
    }
    assert not by_kind(objects, CONFIGURATIONS[0])  # the Katalog has no mutation
    service = {"namespace": "ops", "name": "vault-hooks", "port": 443}
    [rules] = configurations["orkestra-security"]["webhooks"]
    assert rules["failurePolicy"] == "Fail"  # security.webhooks.failurePolicy
    assert rules["clientConfig"]["service"] == {
        **service,
        "path": "/validate/sec.example.com/vaults",
    }

    deletion, strict = configurations["orkestra-security-deletion-protection"]["webhooks"]
    labelled = {"matchLabels": {"orkestra.io/deletion-protection": "true"}}
    for webhook, name, operation, path in (
        (deletion, "delete-protection.orkestra.orkspace.io", "DELETE", "/deletion-protection"),
        (strict, "strict-mode.orkestra.orkspace.io", "UPDATE", "/strict-mode"),
    ):
        assert webhook["name"] == name
        assert webhook["failurePolicy"] == "Fail"
        assert webhook["sideEffects"] == "None"
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["objectSelector"] == labelled
        assert webhook["rules"] == [
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": [operation],
                "resources": ["*"],
                "scope": "*",
            }
        ]
        assert webhook["clientConfig"]["service"] == {**service, "path": path}
    [guard] = configurations["orkestra-security-namespace-protection"]["webhooks"]
    assert guard["name"] == "vault.namespace-protection.orkestra.orkspace.io"
    assert guard["failurePolicy"] == "Fail"
    assert "objectSelector" not in guard
    assert guard["rules"] == [
        {
            "apiGroups": ["sec.example.com"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["vaults"],
            "scope": "Namespaced",
        }
    ]
    assert guard["clientConfig"]["service"] == {
        **service,
        "path": "/namespace-protection/sec.example.com/vaults",
    }
    # Every path is one the webhook server answers.
    app = WebhookApp(load_katalogs([Path(SECURITY)]))
    for configuration in configurations.values():
        for webhook in configuration["webhooks"]:
            path = webhook["clientConfig"]["service"]["path"]
            assert path in app.routes or path in app.protections, path
    # The CRD carries the label the deletion webhook selects.
    [crd] = by_kind(objects, "CustomResourceDefinition")
    assert crd["metadata"]["labels"]["orkestra.io/deletion-protection"] == "true"
    # serviceName: a Service of that name in front of the runtime's pods, webhook port only.
    services = {o["metadata"]["name"]: o for o in by_kind(objects, "Service")}
    runtime = services["orkestra-security"]
    assert services["vault-hooks"]["spec"] == {
        "selector": runtime["spec"]["selector"],
        "ports": [{"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}],
    }
    # certManager: validFor 90d, rotationThreshold 15d; the certificate names both Services.
    [certificate] = by_kind(objects, "Certificate")
    spec = certificate["spec"]
    assert spec["duration"] == "2160h0m0s" and spec["renewBefore"] == "360h0m0s"
    assert spec["privateKey"] == {"rotationPolicy": "Always"}
    assert "vault-hooks.ops.svc" in spec["dnsNames"]
    assert "orkestra-security.ops.svc" in spec["dnsNames"]
    # The objects read as the Kubernetes client's models, every field kept.
    client = ApiClient()
    for configuration in configurations.values():
        read = client._ApiClient__deserialize(configuration, "V1ValidatingWebhookConfiguration")
        assert client.sanitize_for_serialization(read) == configuration


def test_security_cert_manager_with_a_provided_ca_is_one_line(capsys, tmp_path):
    ca = tmp_path / "ca.crt"
    trustme.CA().cert_pem.write_to_path(str(ca))
    assert main(["manifests", SECURITY, "--webhook-ca-file", str(ca)]) != 0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "security.certManager" in err and "--webhook-ca-file" in err
