"""Constructs of Orkestra's language shown by small Katalogs: what the table in
docs/katalog.md ("Every construct, counted") names and no other test shows."""

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog, load_katalogs
from orkestra_trio.katalog.render import build_context, render_reconcile_children
from orkestra_trio.oncop.client import bearer_token
from orkestra_trio.testing import open_test_cluster, run_katalog

HEAD = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
API = "      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}\n"


def katalog(box: str = "", extra: str = "", top: str = "") -> str:
    box = box or "        onReconcile: {configMaps: [{data: {a: b}}]}\n"
    return HEAD + top + "spec:\n  crds:\n    web:\n" + API + extra + "      operatorBox:\n" + box


def load(tmp_path, text):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    return load_katalog(path)


def issues(tmp_path, text) -> list[str]:
    with pytest.raises(KatalogError) as caught:
        load(tmp_path, text)
    return [str(issue) for issue in caught.value.issues]


def cr(name: str = "acme") -> dict:
    return {
        "apiVersion": "d.example.com/v1",
        "kind": "Web",
        "metadata": {"name": name, "namespace": "default", "uid": "u1"},
        "spec": {},
    }


def children(tmp_path, box: str) -> dict:
    operator_box = load(tmp_path, katalog(box=box)).crds["web"].operator_box
    return {
        (
            c.manifest["kind"],
            c.manifest["metadata"]["name"],
            c.manifest["metadata"].get("namespace"),
        ): c.manifest
        for c in render_reconcile_children(operator_box, build_context(cr()))
    }


@pytest.mark.parametrize(
    ("where", "text", "key"),
    [
        ("emit.events", katalog(box="        emit: {events: {}}\n"), "events"),
        ("git hook", katalog(box="        onReconcile:\n          git: {repo: x}\n"), "git"),
        # A Motif document is read where a Katalog imports it, a Komposer as the
        # list of files it composes (tests/katalog/test_motifs.py).
        ("E2E document", HEAD.replace("Katalog", "E2E", 1) + "spec: {crds: {}}\n", "E2E"),
    ],
)
def test_unaccepted_keys_are_load_errors(tmp_path, where, text, key):
    found = issues(tmp_path, text)
    assert any(
        key in issue and "k.yaml:" in issue and "not supported by orkestra_trio" in issue
        for issue in found
    ), (where, found)


def test_katalog_wide_finalizers_are_held(tmp_path):
    text = katalog().replace("spec:\n", "spec:\n  finalizers: [example.com/cleanup]\n", 1)
    box = load(tmp_path, text).crds["web"].operator_box
    assert "example.com/cleanup" in box.finalizers


def test_publish_and_lifecycle_are_accepted(tmp_path):
    top = "publish: {e2e: [tests/e2e.yaml]}\nlifecycle: {maturity: beta}\n"
    assert "web" in load(tmp_path, katalog(top=top)).crds


def test_event_aware_is_accepted(tmp_path):
    box = (
        "        preReconcile:\n          reconcileGate:\n"
        "            when: [{field: spec.paused, notEquals: 'true'}]\n            eventAware: true\n"
        "        onReconcile: {configMaps: [{data: {a: b}}]}\n"
    )
    assert "web" in load(tmp_path, katalog(box=box)).crds


def test_an_undeclared_sentinel_function_is_a_load_error(tmp_path):
    """Orkestra: using an undeclared sentinel is a validate error (1.9)."""
    box = (
        "        preReconcile: {sentinels: [labelsChanged]}\n"
        "        onReconcile: {configMaps: [{data: {a: '{{ if generationChanged }}x{{ end }}'}}]}\n"
    )
    [issue] = issues(tmp_path, katalog(box=box))
    assert "k.yaml:" in issue and "generationChanged" in issue and "not declared" in issue


def test_quota_and_limit_range_render(tmp_path):
    box = (
        "        onReconcile:\n"
        "          resourceQuotas:\n            - {name: '{{ .metadata.name }}-quota', profile: small}\n"
        "          limitRanges:\n            - {name: '{{ .metadata.name }}-limits', profile: default}\n"
    )
    got = children(tmp_path, box)
    quota = got["ResourceQuota", "acme-quota", "default"]
    assert quota["apiVersion"] == "v1"
    assert quota["spec"]["hard"] == {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}
    limits = got["LimitRange", "acme-limits", "default"]
    assert limits["apiVersion"] == "v1" and limits["spec"]["limits"]


def test_secret_to_namespaces_copies(tmp_path):
    box = (
        "        onReconcile:\n          secrets:\n"
        "            - {name: shared, data: {k: v}, toNamespaces: [team-a, team-b]}\n"
    )
    got = children(tmp_path, box)
    copies = {ns: m for (kind, name, ns), m in got.items() if kind == "Secret" and name == "shared"}
    assert set(copies) >= {"team-a", "team-b"}
    assert all(m["data"] == {"k": "dg=="} for m in copies.values())
    assert all("toNamespaces" not in m for m in copies.values())


def test_no_orkestra_annotations_on_the_cr(tmp_path):
    # Orkestra stamps orkestra.orkspace.io/managed-by, health and cross-metrics
    # annotations; this runtime keeps health in /katalog and the Ready condition.
    box = load(tmp_path, katalog()).crds["web"].operator_box
    assert not any(f.startswith("orkestra.orkspace.io/") for f in box.finalizers)
    for child in render_reconcile_children(box, build_context(cr())):
        annotations = child.manifest["metadata"].get("annotations", {})
        assert "orkestra.orkspace.io/managed-by" not in annotations


def test_force_conflict_and_sleep_load(tmp_path):
    box = (
        "        onReconcile:\n          configMaps:\n"
        "            - {name: a, data: {k: v}, sleep: 2s, forceConflict: true}\n"
    )
    text = katalog(box=box, extra="      forceConflict: true\n")
    operator_box = load(tmp_path, text).crds["web"].operator_box
    [child] = render_reconcile_children(operator_box, build_context(cr()))
    assert child.sleep == 2.0
    # Orkestra's entry sleep accepts its extended units (d, w, mo, y).
    day = katalog(box=box.replace("sleep: 2s", "sleep: 1d"), extra="      forceConflict: true\n")
    [child] = render_reconcile_children(
        load(tmp_path, day).crds["web"].operator_box, build_context(cr())
    )
    assert child.sleep == 86400.0


@pytest.mark.parametrize(
    "notes",
    [
        "notes:\n  functions:\n    - {name: greeting, expression: 'printf \"hi %s\" .metadata.name'}\n",
        "notes: [{name: greeting, expression: 'printf \"hi %s\" .metadata.name'}]\n",
        "notes: {greeting: {expression: 'printf \"hi %s\" .metadata.name'}}\n",
    ],
    ids=["functions", "list", "mapping"],
)
def test_notes_in_each_of_orkestras_three_shapes_render_alike(tmp_path, notes):
    box = "        onReconcile: {configMaps: [{data: {a: '{{ greeting }}'}}]}\n"
    operator_box = load(tmp_path, katalog(box=box, top=notes)).crds["web"].operator_box
    [child] = render_reconcile_children(operator_box, build_context(cr()))
    assert child.manifest["data"] == {"a": "hi acme"}


@pytest.mark.parametrize("name", ["name", "namespace", "labels"])
def test_a_note_named_like_a_function_loses_to_it_with_a_warning(tmp_path, name):
    # Orkestra's global functions win over a note of the same name, silently;
    # here the function wins too, and loading says so at the note's name.
    top = f"notes: [{{name: {name}, expression: 'printf \"from the note\"'}}]\n"
    box = f"        onReconcile: {{configMaps: [{{data: {{a: '{{{{ {name} . }}}}'}}}}]}}\n"
    path = tmp_path / "k.yaml"
    path.write_text(katalog(box=box, top=top))
    loaded = load_katalogs([path])
    [warning] = loaded.warnings
    assert (warning.file, warning.line, warning.path) == (str(path), 4, "notes[0].name")
    assert f"note {name!r} is never called: the function {name} wins" in warning.message
    operator_box = loaded.crds["web"].operator_box
    [child] = render_reconcile_children(operator_box, build_context(cr()))
    rendered = child.manifest["data"]["a"]
    assert rendered != "from the note"
    assert rendered == {"name": "acme", "namespace": "default", "labels": "map[]"}[name]


QUOTA_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: quotas}
spec:
  crds:
    team:
      apiTypes: {group: compat.example.com, version: v1, kind: Team, plural: teams}
      operatorBox:
        onReconcile:
          resourceQuotas:
            - {name: "{{ .metadata.name }}-quota", profile: small}
          limitRanges:
            - {name: "{{ .metadata.name }}-limits", profile: default}
"""


async def test_quota_and_limit_range_run_on_the_embedded_server(autojump_clock, tmp_path):
    path = tmp_path / "quotas.yaml"
    path.write_text(QUOTA_KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("team", "acme", {}))
        await kat.wait_steady()
        assert kat.ready("team", "acme"), kat.status("team", "acme")
        quota = kat.child("team", "acme", "ResourceQuota", "acme-quota")
        assert quota["spec"]["hard"] == {
            "requests.cpu": "2",
            "requests.memory": "4Gi",
            "pods": "10",
        }
        limits = kat.child("team", "acme", "LimitRange", "acme-limits")
        assert limits["spec"]["limits"]
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before  # steady: nothing rewritten


IGNORE_STATUS_KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: nostatus}
spec:
  crds:
    team:
      apiTypes: {group: compat.example.com, version: v1, kind: Team, plural: teams}
      ignoreStatusPatch: true
      operatorBox:
        onReconcile:
          configMaps:
            - {name: "{{ .metadata.name }}-config", data: {team: "{{ .metadata.name }}"}}
        status:
          fields: [{path: phase, value: Running}]
"""


async def test_ignore_status_patch_never_writes_the_status(autojump_clock, tmp_path):
    path = tmp_path / "nostatus.yaml"
    path.write_text(IGNORE_STATUS_KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("team", "acme", {}))
        await kat.wait_steady()
        config = kat.child("team", "acme", "ConfigMap", "acme-config")
        assert config is not None and config["data"] == {"team": "acme"}
        assert not kat.cr("team", "acme").get("status")


@pytest.mark.parametrize(
    ("source", "token", "env"),
    [
        ("{host: 'http://x:1', auth: {token: $PAY_TOKEN}}", None, "PAY_TOKEN"),
        ("{host: 'http://x:1', auth: {token: '${PAY_TOKEN}'}}", None, "PAY_TOKEN"),
        ("{host: 'http://x:1', token: $PAY_TOKEN}", None, "PAY_TOKEN"),
        ("{host: 'http://x:1', auth: {token: literal-token}}", "literal-token", None),
        ("{host: 'http://x:1', tokenFrom: {env: PAY_TOKEN}}", None, "PAY_TOKEN"),
    ],
)
def test_cross_auth_token_reads_the_environment_as_orkestra(tmp_path, source, token, env):
    """``auth: {token: $VAR}`` (and ``token: $VAR``) send the variable's value, not the text."""
    text = katalog(box=f"        cross: [{{crd: pay, as: pay, source: {source}}}]\n")
    entry = load(tmp_path, text).crds["web"].operator_box.cross[0]
    assert (entry.source.token, entry.source.token_from_env) == (token, env)
    sent = bearer_token(entry.source, {"PAY_TOKEN": "s3cret"})
    assert sent == (token or "s3cret")


def test_cross_auth_secret_ref_needs_its_namespace(tmp_path):
    text = katalog(
        box="        cross: [{crd: pay, source: {host: 'http://x:1', "
        "auth: {secretRef: {name: s, key: t}}}}]\n"
    )
    [issue] = issues(tmp_path, text)
    assert "k.yaml:" in issue and "secretRef" in issue and "namespace" in issue


def test_cross_strategy_is_parsed_and_not_acted_on_as_in_orkestra(tmp_path):
    """Orkestra parses ``strategy: all`` (per entry or beside the entries) and never
    implemented it: a Katalog that writes it loads, and reads exactly as without it."""
    entry = "        observe:\n          strategy: all\n          cross: [{crd: web, as: w%s}]\n"
    with_it = load(tmp_path, katalog(box=entry % ", strategy: all")).crds["web"]
    without = load(tmp_path, katalog(box=entry.replace("          strategy: all\n", "") % ""))
    assert with_it.operator_box.cross == without.crds["web"].operator_box.cross
    bad = katalog(box=entry % ", strategy: [all]")
    assert any("strategy" in issue and "k.yaml:" in issue for issue in issues(tmp_path, bad))
