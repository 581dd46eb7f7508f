"""`python -m orkestra_trio manifests`: one YAML stream a cluster can apply, Katalogs mounted intact."""

from pathlib import Path

import yaml

from orkestra_trio.cli import main
from orkestra_trio.deploy.manifests import KATALOG_MOUNT
from orkestra_trio.katalog import load_katalogs

KATALOGS = Path(__file__).parents[2] / "katalogs"


def _objects(capsys, *args):
    assert main(["manifests", *args]) == 0
    return [o for o in yaml.safe_load_all(capsys.readouterr().out) if o]


def test_stream_holds_every_object_in_apply_order(capsys):
    objects = _objects(capsys, str(KATALOGS / "website.yaml"), "--namespace", "ops")
    kinds = [o["kind"] for o in objects]
    assert kinds == [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    ]
    assert objects[0]["metadata"]["name"] == "ops"
    assert objects[1]["metadata"]["name"] == "websites.demo.example.com"
    namespaced = [o for o in objects if o["kind"] not in ("Namespace", "CustomResourceDefinition")]
    for obj in namespaced:
        if not obj["kind"].startswith("Cluster"):
            assert obj["metadata"]["namespace"] == "ops", obj["kind"]
    for obj in objects:
        for rule in obj.get("rules", ()):
            for key in ("apiGroups", "resources", "verbs"):
                assert not any("*" in item for item in rule[key])


def test_deployment_is_hardened_and_probed(capsys):
    objects = _objects(
        capsys, str(KATALOGS / "website.yaml"), "--replicas", "3", "--image", "r/o:1"
    )
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == deployment["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == "r/o:1"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert "--leader-elect" in container["args"]
    assert "0.0.0.0:8080" in container["args"]
    # The pod's grace outlasts the runtime's own.
    grace = int(container["args"][container["args"].index("--grace") + 1])
    assert pod["terminationGracePeriodSeconds"] > grace


def test_mounted_configmap_loads_as_the_same_katalogs(capsys, tmp_path):
    paths = [str(KATALOGS / "website.yaml"), str(KATALOGS / "cross-same-binary.yaml")]
    objects = _objects(capsys, *paths)
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "katalogs")
    # What the kubelet does: each item's key written at its path under the mount.
    for item in volume["configMap"]["items"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]])
    args = pod["containers"][0]["args"]
    mounted = [tmp_path / a[len(KATALOG_MOUNT) + 1 :] for a in args if a.startswith(KATALOG_MOUNT)]
    again = load_katalogs(mounted)
    assert list(again.crds) == list(load_katalogs(paths).crds)


def test_underivable_katalog_exits_1_with_positions(capsys, tmp_path):
    bad = tmp_path / "k.yaml"
    bad.write_text(
        "metadata: {name: t}\n"
        "spec:\n"
        "  crds:\n"
        "    app:\n"
        "      apiTypes: {group: x.io, version: v1, kind: App, plural: apps}\n"
        "      operatorBox:\n"
        "        onReconcile:\n"
        "          custom: [{name: a, apiVersion: '{{ .spec.v }}', kind: T}]\n"
    )
    assert main(["manifests", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{bad}:8:")
    assert captured.err.rstrip().endswith("1 error found")


def test_bad_flags_are_one_line_errors(capsys):
    website = str(KATALOGS / "website.yaml")
    assert main(["manifests", website, "--replicas", "0"]) == 1
    assert main(["manifests", website, "--namespace", "Bad_NS"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("orkestra_trio: --replicas 0")
    assert err[1].startswith("orkestra_trio: --namespace 'Bad_NS'")


def test_motifs_and_included_files_are_mounted_with_the_katalog(capsys, tmp_path):
    source = tmp_path / "src"
    (source / "parts").mkdir(parents=True)
    (source / "parts" / "status.yaml").write_text("fields: [{path: phase, value: Up}]\n")
    (source / "lent.yaml").write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Motif\nmetadata: {name: lent}\n"
        "resources: {configMaps: [{data: {a: b}}]}\n"
    )
    (source / "k.yaml").write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: m}\nspec:\n"
        "  crds:\n    web:\n"
        "      apiTypes: {group: m.example.com, version: v1, kind: Web, plural: webs}\n"
        "      imports: [{motif: lent}]\n"
        "      operatorBox: {status: {include: [parts/status.yaml]}}\n"
    )
    paths = [str(source / "k.yaml"), str(source / "lent.yaml")]
    objects = _objects(capsys, *paths)
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    pod = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "katalogs")
    mount = tmp_path / "mount"
    for item in volume["configMap"]["items"]:
        target = mount / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]])
    args = pod["containers"][0]["args"]
    mounted = [mount / a[len(KATALOG_MOUNT) + 1 :] for a in args if a.startswith(KATALOG_MOUNT)]
    assert len(mounted) == 2  # the Katalog and the file that lends it a Motif
    again = load_katalogs(mounted).crds["web"].operator_box
    assert again == load_katalogs(paths).crds["web"].operator_box
    assert [f.path for f in again.status.fields] == ["phase"]
    assert "configMaps" in again.on_reconcile
