"""``python -m orkestra_trio render``: every bundled Katalog and sample CR, and bad input."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orkestra_trio.cli import main

KATALOGS = Path(__file__).resolve().parents[1] / "katalogs"


def k(relative: str) -> str:
    """A bundled Katalog file's path, as the command line takes it."""
    return str(KATALOGS / relative)


def render(capsys, *argv: str) -> dict:
    code = main(["render", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return yaml.safe_load(captured.out)


def render_fails(capsys, *argv: str) -> str:
    code = main(["render", *argv])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    return captured.err


def manifests(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (child["manifest"]["kind"], child["manifest"]["metadata"]["name"]): child["manifest"]
        for child in document["children"]
    }


def test_website_sample(capsys):
    out = render(capsys, k("website.yaml"), "--cr", k("website/cr-sample.yaml"))
    assert out["cr"] == "Website default/my-site"
    assert out["crd"] == "website"
    children = manifests(out)
    assert list(children) == [
        ("ConfigMap", "my-site-page-home"),
        ("ConfigMap", "my-site-page-about"),
        ("Deployment", "my-site"),
        ("Service", "my-site"),
        ("Ingress", "my-site"),
    ]
    assert out["children"][0]["apply"] == "create when absent"
    assert out["children"][2]["apply"] == "every reconcile"
    deployment = children[("Deployment", "my-site")]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["namespace"] == "default"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "orkestra"
    assert out["absent"] == []
    assert [job["kind"] for job in out["onDelete"]] == ["Job"]
    status = out["status"]
    assert status["phase"] == "Pending"
    assert status["observedGeneration"] == 1
    assert status["conditions"][0]["type"] == "Ready"
    assert status["conditions"][0]["status"] == "True"


@pytest.mark.parametrize(
    ("spec", "replicas"), [({"replicas": 0}, 0), ({}, 1), ({"replicas": 3}, 3)]
)
def test_website_replicas_zero_is_kept_and_absent_defaults_to_one(capsys, tmp_path, spec, replicas):
    cr = {
        "apiVersion": "demo.example.com/v1",
        "kind": "Website",
        "metadata": {"name": "scaled", "namespace": "default"},
        "spec": spec,
    }
    path = tmp_path / "cr.yaml"
    path.write_text(yaml.safe_dump(cr))
    out = render(capsys, k("website.yaml"), "--cr", str(path))
    assert manifests(out)[("Deployment", "scaled")]["spec"]["replicas"] == replicas


def test_website_with_children_file_reports_running(capsys, tmp_path):
    children = tmp_path / "children.yaml"
    children.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: my-site}\n"
        "status: {readyReplicas: 2}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: my-site}\n"
    )
    out = render(
        capsys, k("website.yaml"), "--cr", k("website/cr-sample.yaml"), "--children", str(children)
    )
    assert out["status"]["phase"] == "Running"
    assert out["status"]["readyReplicas"] == 2


def test_managed_database_sample(capsys):
    out = render(
        capsys, k("cross-same-binary.yaml"), "--cr", k("cross-same-binary/cr-database.yaml")
    )
    assert out["crd"] == "managed-database"
    children = manifests(out)
    assert list(children) == [
        ("Secret", "shop-db-credentials"),
        ("StatefulSet", "shop-db"),
        ("Service", "shop-db"),
    ]
    statefulset = children[("StatefulSet", "shop-db")]
    assert statefulset["spec"]["serviceName"] == "shop-db"
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == "postgres:16"
    assert out["status"]["phase"] == "Provisioning"
    assert out["status"]["endpoint"] == "shop-db.default.svc:5432"


def test_app_sample_without_and_with_the_database(capsys):
    katalog = k("cross-same-binary.yaml")
    cr = k("cross-same-binary/cr-app.yaml")
    waiting = render(capsys, katalog, "--cr", cr)
    assert ("Deployment", "shop") not in manifests(waiting)
    assert waiting["absent"][0]["kind"] == "Deployment"
    assert waiting["absent"][0]["name"] == "shop"
    assert waiting["status"]["phase"] == "WaitingForDatabase"
    assert "databaseUrl" not in waiting["status"]

    ready = render(
        capsys,
        katalog,
        "--cr",
        cr,
        "--cross",
        "db=" + k("cross-same-binary/cr-database-ready.yaml"),
    )
    deployment = manifests(ready)[("Deployment", "shop")]
    assert deployment["spec"]["replicas"] == 3
    assert ready["absent"] == []
    assert ready["status"]["phase"] == "Running"
    assert ready["status"]["databaseUrl"] == "postgres://shop-db.default.svc:5432/shop"


def test_loader_sample(capsys):
    out = render(capsys, k("oncop-loader.yaml"), "--cr", k("oncop-loader/cr-sample.yaml"))
    children = manifests(out)
    assert children[("ConfigMap", "ingest-loader-config")]["data"] == {
        "source": "s3://example-bucket/incoming",
        "batchSize": "500",
    }
    assert ("Deployment", "ingest-loader") in children
    assert out["status"]["phase"] == "Pending"


def test_processor_sample_with_and_without_the_loader(capsys):
    katalog = k("oncop-processor.yaml")
    cr = k("oncop-processor/cr-sample.yaml")
    alone = render(capsys, katalog, "--cr", cr)
    assert alone["children"] == []
    assert alone["status"]["phase"] == "WaitingForLoader"
    assert "loaderQueueDepth" not in alone["status"]

    observed = render(
        capsys, katalog, "--cr", cr, "--cross", "loader=" + k("oncop-processor/loader-answer.yaml")
    )
    deployment = manifests(observed)[("Deployment", "ingest")]
    assert deployment["spec"]["replicas"] == 2
    status = observed["status"]
    assert status["loaderPhase"] == "Ready"
    assert status["loaderQueueDepth"] == 75
    assert status["phase"] == "Processing"


def test_crd_flag_picks_the_box(capsys):
    out = render(
        capsys,
        k("cross-same-binary.yaml"),
        "--cr",
        k("cross-same-binary/cr-app.yaml"),
        "--crd",
        "app",
    )
    assert out["crd"] == "app"


def test_unknown_crd_key_suggests(capsys):
    err = render_fails(
        capsys, k("website.yaml"), "--cr", k("website/cr-sample.yaml"), "--crd", "websit"
    )
    assert "did you mean 'website'" in err


def test_cr_of_no_crd_is_a_clean_error(capsys):
    err = render_fails(capsys, k("website.yaml"), "--cr", k("cross-same-binary/cr-app.yaml"))
    assert "kind 'App'" in err
    assert "--crd" in err


def test_unknown_cross_name_is_a_clean_error(capsys):
    err = render_fails(
        capsys,
        k("cross-same-binary.yaml"),
        "--cr",
        k("cross-same-binary/cr-app.yaml"),
        "--cross",
        "database=" + k("cross-same-binary/cr-database-ready.yaml"),
    )
    assert "no cross: entry named 'database'" in err
    assert "db" in err


@pytest.mark.parametrize("flag", ["db", "=x.yaml", "db="])
def test_malformed_cross_flag(capsys, flag):
    err = render_fails(
        capsys,
        k("cross-same-binary.yaml"),
        "--cr",
        k("cross-same-binary/cr-app.yaml"),
        "--cross",
        flag,
    )
    assert "AS=FILE.yaml" in err


def test_missing_and_invalid_files(capsys, tmp_path):
    website = k("website.yaml")
    nope = tmp_path / "nope.yaml"
    assert f"{nope}:1:1: no such file" in render_fails(capsys, website, "--cr", str(nope))
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: [unclosed\n")
    err = render_fails(capsys, website, "--cr", str(bad))
    assert f"{bad}:" in err
    assert "invalid YAML" in err
    no_name = tmp_path / "noname.yaml"
    no_name.write_text("apiVersion: demo.example.com/v1\nkind: Website\nmetadata: {}\n")
    assert "metadata.name" in render_fails(capsys, website, "--cr", str(no_name))
    missing = tmp_path / "missing-katalog.yaml"
    assert f"{missing}:1:1: no such file" in render_fails(
        capsys, str(missing), "--cr", str(no_name)
    )


def test_template_error_is_a_clean_error_naming_line_and_cr(capsys, tmp_path):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(
        "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: k}\nspec:\n"
        "  crds:\n    thing:\n"
        "      apiTypes: {group: demo.example.com, version: v1, kind: Thing, plural: things}\n"
        "      operatorBox:\n        onReconcile:\n          configMaps:\n"
        "            - name: cfg\n              data:\n"
        '                x: "{{ div 1 .spec.zero }}"\n'
    )
    cr = tmp_path / "cr.yaml"
    cr.write_text(
        "apiVersion: demo.example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec: {zero: 0}\n"
    )
    err = render_fails(capsys, str(katalog), "--cr", str(cr))
    assert f"{katalog}:13" in err
    assert "Thing default/t" in err


def test_render_runs_as_a_module():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            "render",
            k("website.yaml"),
            "--cr",
            k("website/cr-sample.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["crd"] == "website"


def test_bad_children_and_cross_files_are_clean_errors(capsys, tmp_path):
    katalog, cr = k("cross-same-binary.yaml"), k("cross-same-binary/cr-app.yaml")
    scalars = tmp_path / "scalars.yaml"
    scalars.write_text("- 1\n- 2\n")
    err = render_fails(capsys, katalog, "--cr", cr, "--children", str(scalars))
    assert "Kubernetes object with a kind" in err
    two = tmp_path / "two.yaml"
    two.write_text("a: 1\n---\nb: 2\n")
    err = render_fails(capsys, katalog, "--cr", cr, "--cross", f"db={two}")
    assert f"{two}:3:1: expected one YAML document (one object), got several" in err


def test_children_as_a_list_object(capsys, tmp_path):
    children = tmp_path / "list.yaml"
    children.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: apps/v1, kind: StatefulSet, metadata: {name: shop-db},"
        " status: {readyReplicas: 1}}\n"
    )
    out = render(
        capsys,
        k("cross-same-binary.yaml"),
        "--cr",
        k("cross-same-binary/cr-database.yaml"),
        "--children",
        str(children),
    )
    assert out["status"]["phase"] == "Ready"


def test_cr_of_no_crd_points_at_the_kind(capsys):
    cr = k("cross-same-binary/cr-app.yaml")
    err = render_fails(capsys, k("website.yaml"), "--cr", cr)
    line = next(n for n, text in enumerate(Path(cr).read_text().splitlines(), 1) if "kind:" in text)
    assert err.startswith(f"{cr}:{line}:7: kind: no CRD of the Katalog serves")


CR_HEAD = "apiVersion: demo.example.com/v1\nkind: Website\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ":1:1: expected one YAML mapping (one object), got nothing"),
        (b"- a\n- b\n", ":1:1: expected a mapping (one object), got a list"),
        (b"just text\n", ":1:1: expected a mapping (one object), got a string"),
        (b"\xd3\xff\x00garbage", ":1:1: not UTF-8 text"),
        (b"a: \x00\n", ":1:4: invalid YAML: the character U+0000 is not allowed"),
        (b"kind: Website\nmetadata: {name: x}\n", ":1:1: the CR has no apiVersion"),
        (CR_HEAD.encode() + b"spec: {}\n", ":1:1: metadata: the CR has no metadata mapping"),
        (CR_HEAD.encode() + b"metadata: {}\n", ":3:11: metadata: the CR has no metadata.name"),
        (CR_HEAD.encode() + b"metadata: {name: 5}\n", ":3:18: metadata.name: expected a non-empty"),
        (
            CR_HEAD.encode() + b"metadata: {name: x, namespace: [a]}\n",
            ":3:32: metadata.namespace: expected a non-empty string, got a list",
        ),
        (
            CR_HEAD.encode() + b"metadata: {name: x, generation: abc}\n",
            ":3:33: metadata.generation: expected a whole number >= 1",
        ),
        (
            CR_HEAD.encode() + b"metadata: {name: x, labels: [a]}\n",
            ":3:29: metadata.labels: expected a mapping, got a list",
        ),
        (CR_HEAD.encode() + b"metadata: {name: x}\nspec: [1]\n", ":4:7: spec: the CR's spec"),
        (CR_HEAD.encode() + b"metadata: {name: x, name: y}\n", ":3:21: duplicate key 'name'"),
    ],
)
def test_nasty_cr_files_are_one_positioned_line(capsys, tmp_path, data, expected):
    cr = tmp_path / "cr.yaml"
    cr.write_bytes(data)
    err = render_fails(capsys, k("website.yaml"), "--cr", str(cr))
    first, count = err.splitlines()
    assert first.startswith(f"{cr}{expected}")
    assert count == "1 error found"


def test_a_directory_as_cr_is_a_clean_error(capsys, tmp_path):
    err = render_fails(capsys, k("website.yaml"), "--cr", str(tmp_path))
    assert err.startswith(f"{tmp_path}:1:1: is a directory")


def test_cr_of_a_crd_without_a_box_points_at_the_crd(capsys, tmp_path):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(
        "metadata: {name: k}\nspec:\n  crds:\n    plain:\n"
        "      apiTypes: {group: demo.example.com, version: v1, kind: Website, plural: websites}\n"
    )
    cr = k("website/cr-sample.yaml")
    err = render_fails(capsys, str(katalog), "--cr", cr)
    assert err.splitlines()[0] == (
        f"{katalog}:4:5: spec.crds.plain: CRD 'plain' has no operatorBox: no box renders {cr}"
    )


ADMISSION_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    web:
      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}
      admission:
        validation:
          rules: [{field: spec.replicas, max: 5, message: "at most 5, got {{ .spec.replicas }}"}]
        mutation:
          rules: [{field: spec.tier, default: standard}]
      operatorBox:
        onReconcile:
          configMaps: [{name: "{{ .metadata.name }}", data: {tier: "{{ .spec.tier }}"}}]
"""


def test_admission_rules_show_as_a_patch_or_a_denial(capsys, tmp_path):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(ADMISSION_KATALOG)
    cr = tmp_path / "cr.yaml"
    cr.write_text(
        "apiVersion: d.example.com/v1\nkind: Web\nmetadata: {name: a}\nspec: {replicas: 2}\n"
    )
    out = render(capsys, str(katalog), "--cr", str(cr))
    assert out["crPatch"] == {"spec": {"tier": "standard"}}
    assert manifests(out)[("ConfigMap", "a")]["data"] == {"tier": "standard"}
    cr.write_text(
        "apiVersion: d.example.com/v1\nkind: Web\nmetadata: {name: a}\nspec: {replicas: 9}\n"
    )
    assert "validation failed: at most 5, got 9" in render_fails(
        capsys, str(katalog), "--cr", str(cr)
    )


EXTERNAL_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    shop:
      apiTypes: {group: ext.example.com, version: v1, kind: Shop, plural: shops}
      operatorBox:
        preReconcile:
          external: [{name: flags, url: "http://flags.internal/{{ .metadata.name }}"}]
          reconcileGate: {when: [{field: external.flags.body.enabled, equals: "true"}]}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}"
              data: {on: "{{ .external.flags.body.enabled }}"}
    bill:
      apiTypes: {group: ext.example.com, version: v1, kind: Bill, plural: bills}
      operatorBox:
        reconcile:
          default: false
          remote: {endpoint: "http://billing.internal/reconcile"}
"""


def test_external_answers_and_a_remote_answer_come_from_files(capsys, tmp_path):
    katalog = tmp_path / "k.yaml"
    katalog.write_text(EXTERNAL_KATALOG)
    shop = tmp_path / "shop.yaml"
    shop.write_text("apiVersion: ext.example.com/v1\nkind: Shop\nmetadata: {name: a}\n")
    flags = tmp_path / "flags.yaml"
    flags.write_text("enabled: true\n")
    # No answer given: the call answers called: false, so the gate holds the CR.
    out = render(capsys, str(katalog), "--cr", str(shop))
    assert out["gated"].startswith("the box's when/or conditions do not hold")
    out = render(capsys, str(katalog), "--cr", str(shop), "--external", f"flags={flags}")
    assert manifests(out)[("ConfigMap", "a")]["data"] == {"on": "true"}
    err = render_fails(capsys, str(katalog), "--cr", str(shop), "--external", f"flag={flags}")
    assert "--external flag: the box has no external call named 'flag'" in err

    bill = tmp_path / "bill.yaml"
    bill.write_text("apiVersion: ext.example.com/v1\nkind: Bill\nmetadata: {name: b}\n")
    err = render_fails(capsys, str(katalog), "--cr", str(bill))
    assert err.strip().endswith(
        "Bill default/b: remote reconciler: not called (render and simulate make no outgoing calls)"
    )
    answer = tmp_path / "answer.yaml"
    answer.write_text(
        "result: ok\nstatus: {phase: Billed}\n"
        "resources: [{type: configMaps, fields: {name: b-bill, data: {x: '1'}}}]\n"
    )
    out = render(capsys, str(katalog), "--cr", str(bill), "--remote", str(answer))
    assert manifests(out)[("ConfigMap", "b-bill")]["data"] == {"x": "1"}
    assert out["status"]["phase"] == "Billed"


COPYING = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: copies}
spec:
  crds:
    app:
      apiTypes: {group: d.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        onReconcile:
          secrets:
            - {name: "{{ .metadata.name }}-pull", fromSecret: registry, fromNamespace: shared}
"""


def test_from_secret_copies_the_secrets_given_with_secrets(capsys, tmp_path):
    katalog, cr, secrets = tmp_path / "k.yaml", tmp_path / "cr.yaml", tmp_path / "s.yaml"
    katalog.write_text(COPYING)
    cr.write_text("apiVersion: d.example.com/v1\nkind: App\nmetadata: {name: web}\n")
    secrets.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: registry, namespace: shared}\n"
        "type: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: e30=}\n"
    )
    out = render(capsys, str(katalog), "--cr", str(cr), "--secrets", str(secrets))
    pull = manifests(out)[("Secret", "web-pull")]
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    assert pull["data"] == {".dockerconfigjson": "e30="}
    # Without the source: one line naming the entry's key and the Secret.
    err = render_fails(capsys, str(katalog), "--cr", str(cr))
    assert "fromSecret" in err and "shared/registry" in err
