"""Motifs and includes (ORKESTRA-LANGUAGE.md 1.17): found, merged, inputs bound, errors placed."""

import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkestra_trio.katalog import KatalogError, load_katalog, load_katalogs
from orkestra_trio.katalog.render import (
    RenderError,
    build_context,
    render_reconcile_children,
    render_status,
)

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: shop}
spec:
  crds:
    web:
      apiTypes: {group: demo.example.com, version: v1, kind: Web, plural: webs}
"""

WEB_STACK = """\
apiVersion: orkestra.orkspace.io/v1
kind: Motif
metadata: {name: web-stack, version: 0.1.0}
inputs:
  - {name: port, default: "8080"}
  - {name: image, required: true}
resources:
  deployments:
    - {name: "{{ .metadata.name }}", image: "{{ .inputs.image }}", port: "{{ .inputs.port }}"}
  services:
    - {name: "{{ .metadata.name }}", port: 80, targetPort: "{{ .inputs.port }}"}
status:
  fields:
    - {path: image, value: "{{ .inputs.image }}"}
    - {path: phase, value: Imported}
"""

CR = {
    "apiVersion": "demo.example.com/v1",
    "kind": "Web",
    "metadata": {"name": "shop", "namespace": "default", "uid": "u-1"},
    "spec": {"version": "1.25"},
}


def crd(extra: str) -> str:
    return KATALOG + textwrap.indent(textwrap.dedent(extra), " " * 6)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def issues_of(*paths):
    with pytest.raises(KatalogError) as caught:
        load_katalogs(paths)
    return [str(issue) for issue in caught.value.issues]


def children(katalog, cr=CR):
    box = katalog.crds["web"].operator_box
    context = build_context(cr)
    rendered = render_reconcile_children(box, context)
    return {(c.kind, c.name): c.manifest for c in rendered}, render_status(
        box, context, generation=1, now="t"
    )


def test_a_motif_in_the_same_file_brings_its_resources_with_inputs_bound(tmp_path):
    text = (
        crd("""\
        imports:
          - motif: web-stack
            with: {image: "nginx:{{ .spec.version }}"}
        """)
        + "---\n"
        + WEB_STACK
    )
    made, status = children(load_katalog(write(tmp_path, "k.yaml", text)))
    deploy = made[("Deployment", "shop")]
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.25"  # with: rendered against the CR
    assert container["ports"][0]["containerPort"] == 8080  # the default
    service = made[("Service", "shop")]
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert status["image"] == "nginx:1.25"
    assert status["phase"] == "Imported"


def test_the_crds_own_entries_and_status_fields_win(tmp_path):
    text = (
        crd("""\
        imports:
          - motif: web-stack
            with: {image: nginx, port: "9090"}
        operatorBox:
          onReconcile:
            services: [{name: "{{ .metadata.name }}", port: 81}]
          status:
            fields: [{path: phase, value: Own}]
        """)
        + "---\n"
        + WEB_STACK
    )
    made, status = children(load_katalog(write(tmp_path, "k.yaml", text)))
    assert made[("Service", "shop")]["spec"]["ports"][0]["port"] == 81
    [container] = made[("Deployment", "shop")]["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == 9090  # with: over the default
    assert status["phase"] == "Own"
    assert status["image"] == "nginx"


def test_two_motifs_declaring_one_child_is_an_error(tmp_path):
    twin = WEB_STACK.replace("name: web-stack", "name: twin")
    text = (
        crd("""\
        imports:
          - {motif: web-stack, with: {image: a}}
          - {motif: twin, with: {image: b}}
        """)
        + "---\n"
        + WEB_STACK
        + "---\n"
        + twin
    )
    found = issues_of(write(tmp_path, "k.yaml", text))
    assert any("Motif 'twin' and Motif 'web-stack'" in issue for issue in found), found
    assert all("\n" not in issue for issue in found)


def test_one_motif_imported_twice_with_different_inputs(tmp_path):
    cache = """\
apiVersion: orkestra.orkspace.io/v1
kind: Motif
metadata: {name: cache}
inputs: [{name: role, required: true}]
resources:
  configMaps: [{name: "{{ .metadata.name }}-{{ .inputs.role }}", data: {role: "{{ .inputs.role }}"}}]
"""
    text = (
        crd("""\
        imports:
          - {motif: cache, with: {role: sessions}}
          - {motif: cache, with: {role: pages}}
        """)
        + "---\n"
        + cache
    )
    made, _ = children(load_katalog(write(tmp_path, "k.yaml", text)))
    assert made[("ConfigMap", "shop-sessions")]["data"] == {"role": "sessions"}
    assert made[("ConfigMap", "shop-pages")]["data"] == {"role": "pages"}
    # The same inputs twice: two children of one name, refused when rendered.
    same = text.replace("role: pages", "role: sessions")
    with pytest.raises(RenderError, match="two configMaps children named 'shop-sessions'"):
        children(load_katalog(write(tmp_path, "k.yaml", same)))


def test_a_missing_required_input_names_the_file_line_and_field(tmp_path):
    text = (
        crd("""\
        imports:
          - motif: web-stack
            with: {port: "1"}
        """)
        + "---\n"
        + WEB_STACK
    )
    path = write(tmp_path, "k.yaml", text)
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:10:")
    assert "spec.crds.web.imports[0].with: missing required input 'image'" in issue
    assert f"declared at {path}:" in issue


def test_an_unknown_input_is_an_error_with_a_hint(tmp_path):
    text = (
        crd("""\
        imports:
          - motif: web-stack
            with: {image: x, prot: "1"}
        """)
        + "---\n"
        + WEB_STACK
    )
    [issue] = issues_of(write(tmp_path, "k.yaml", text))
    assert "with.prot: Motif 'web-stack' has no input 'prot' (did you mean 'port'?)" in issue


def test_a_motif_template_naming_an_undeclared_input_is_an_error(tmp_path):
    motif = WEB_STACK.replace('value: "{{ .inputs.image }}"', 'value: "{{ .inputs.imgae }}"')
    text = crd("imports: [{motif: web-stack, with: {image: x}}]\n") + "---\n" + motif
    path = write(tmp_path, "k.yaml", text)
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:23:")  # the status field's value, in the Motif
    assert "status.fields[0].value: .inputs.imgae: the Motif has no input 'imgae'" in issue
    assert "(did you mean 'image'?)" in issue


@pytest.mark.parametrize(
    "item",
    ["{motif: 'oci://ghcr.io/org/motifs/web-stack:0.1.0'}", "{motif: web-stack, oci: true}"],
)
def test_oci_imports_are_refused_for_want_of_registry_access(tmp_path, item):
    path = write(tmp_path, "k.yaml", crd(f"imports: [{item}]\n"))
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:8:")
    assert "no registry access" in issue


def test_motifs_by_path_beside_the_katalog_and_in_files_given(tmp_path):
    write(tmp_path, "motifs/web-stack.yaml", WEB_STACK)
    write(tmp_path, "lib/db.yaml", WEB_STACK.replace("web-stack", "db"))
    given = write(tmp_path, "given.yaml", WEB_STACK.replace("web-stack", "cache"))
    for reference in ("web-stack", "web-stack:0.1.0", "./lib/db.yaml", "cache"):
        text = crd(f"imports: [{{motif: '{reference}', with: {{image: x}}}}]\n")
        katalog_path = write(tmp_path, "k.yaml", text)
        katalog = load_katalogs([katalog_path, given]).katalogs[0]
        made, _ = children(katalog)
        assert ("Deployment", "shop") in made, reference


def test_two_katalogs_may_each_embed_a_copy_of_one_motif(tmp_path):
    first = crd("imports: [{motif: web-stack, with: {image: a}}]\n") + "---\n" + WEB_STACK
    second = first.replace("name: shop", "name: other").replace("web:", "api:")
    second = second.replace("plural: webs", "plural: apis").replace("kind: Web,", "kind: Api,")
    paths = [write(tmp_path, "a.yaml", first), write(tmp_path, "b.yaml", second)]
    katalogs = load_katalogs(paths)
    assert set(katalogs.crds) == {"web", "api"}
    # A third Katalog holding none has to say which copy it means.
    third = crd("imports: [{motif: web-stack, with: {image: a}}]\n").replace("web:", "db:")
    third = third.replace("plural: webs", "plural: dbs").replace("kind: Web,", "kind: Db,")
    found = issues_of(*paths, write(tmp_path, "c.yaml", third))
    assert any("several files hold Motif 'web-stack'" in issue for issue in found), found


def test_one_file_holding_a_motif_twice_is_an_error(tmp_path):
    text = crd("") + "---\n" + WEB_STACK + "---\n" + WEB_STACK
    found = issues_of(write(tmp_path, "k.yaml", text))
    assert any("Motif 'web-stack' version 0.1.0 is already declared at" in i for i in found)


def test_an_unknown_version_lists_the_known_ones(tmp_path):
    text = crd("imports: [{motif: 'web-stack:2.0.0', with: {image: x}}]\n") + "---\n" + WEB_STACK
    [issue] = issues_of(write(tmp_path, "k.yaml", text))
    assert "has no version '2.0.0' (versions: 0.1.0)" in issue


def test_a_motif_path_may_not_leave_the_katalogs_directory(tmp_path):
    write(tmp_path, "motif.yaml", WEB_STACK)
    inner = tmp_path / "team"
    path = write(inner, "k.yaml", crd("imports: [{motif: ../motif.yaml, with: {image: x}}]\n"))
    [issue] = issues_of(path)
    assert "must lie inside the Katalog's directory" in issue


def test_mistakes_inside_a_motif_are_reported_in_its_file(tmp_path):
    bad = WEB_STACK.replace("targetPort:", "targetPrt:")
    write(tmp_path, "motifs/web-stack.yaml", bad)
    path = write(tmp_path, "k.yaml", crd("imports: [{motif: web-stack, with: {image: x}}]\n"))
    [issue] = issues_of(path)
    assert issue.startswith(f"{tmp_path / 'motifs' / 'web-stack.yaml'}:11:")
    assert "unknown key 'targetPrt'" in issue


def test_katalog_wide_imports_bring_profiles_and_notes_and_the_katalogs_own_win(tmp_path):
    standards = """\
        apiVersion: orkestra.orkspace.io/v1
        kind: Motif
        metadata: {name: standards}
        profiles:
          resources:
            org: {requests: {cpu: 250m}}
            small: {requests: {cpu: 1m}}
        notes:
          - {name: tier, expression: '"gold"'}
          - {name: owner, expression: '"motif"'}
        """
    text = (
        KATALOG.replace("spec:\n", "spec:\n  imports: [{motif: standards}]\n", 1).replace(
            "metadata: {name: shop}\n",
            "metadata: {name: shop}\nnotes: [{name: owner, expression: '\"katalog\"'}]\n"
            "profiles: {resources: {small: {requests: {cpu: 5m}}}}\n",
        )
        + "      operatorBox:\n        onReconcile:\n          deployments:\n"
        "            - image: x\n              resources: {profile: org}\n"
        "              labels: {tier: '{{ tier }}', owner: '{{ owner }}'}\n"
        "            - {name: small, image: x, resources: {profile: small}}\n"
        + "---\n"
        + textwrap.dedent(standards)
    )
    made, _ = children(load_katalog(write(tmp_path, "k.yaml", text)))
    deploy = made[("Deployment", "shop-deployment")]  # unnamed: the kind's default
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {"requests": {"cpu": "250m"}}
    assert deploy["metadata"]["labels"]["tier"] == "gold"
    assert deploy["metadata"]["labels"]["owner"] == "katalog"
    [small] = made[("Deployment", "small")]["spec"]["template"]["spec"]["containers"]
    assert small["resources"] == {"requests": {"cpu": "5m"}}


def test_a_katalog_wide_import_takes_no_inputs(tmp_path):
    text = KATALOG.replace("spec:\n", "spec:\n  imports: [{motif: web-stack, with: {a: b}}]\n")
    [issue] = issues_of(write(tmp_path, "k.yaml", text + "---\n" + WEB_STACK))
    assert "a Katalog-wide import brings only the Motif's profiles and notes" in issue


def test_a_file_of_motifs_alone_is_not_a_katalog(tmp_path):
    [issue] = issues_of(write(tmp_path, "m.yaml", WEB_STACK))
    assert "holds no Katalog" in issue


def test_a_file_holds_one_katalog(tmp_path):
    [issue] = issues_of(write(tmp_path, "k.yaml", crd("") + "---\n" + crd("")))
    assert "a file holds one Katalog" in issue


@pytest.mark.parametrize("layout", ["admission:\n  validation:", "validation:"])
def test_a_motifs_admission_rules_follow_the_crds_own(tmp_path, layout):
    motif = WEB_STACK + (
        "admission:\n  validation:\n    rules:\n"
        "      - {field: spec.version, exists: true, message: motif}\n"
    )
    motif_path = write(tmp_path, "motifs/web-stack.yaml", motif)
    own = f"{layout}\n    rules: [{{field: spec.size, exists: true, message: own}}]\n"
    text = crd("imports: [{motif: web-stack, with: {image: x}}]\n" + own)
    katalog = load_katalog(write(tmp_path, "k.yaml", text))
    rules = katalog.crds["web"].admission.validation
    assert [rule.message.source for rule in rules] == ["own", "motif"]
    assert rules[1].location.file == str(motif_path)
    assert rules[1].location.line == 19  # the rule's own line in the Motif


# --- include: ---------------------------------------------------------------


def test_include_lays_files_into_status_observe_reconciler_and_profiles(tmp_path):
    write(tmp_path, "parts/status.yaml", "fields:\n  - {path: phase, value: Included}\n")
    write(tmp_path, "parts/reconciler.yaml", "workers: 3\nresync: 5m\n")
    write(
        tmp_path,
        "parts/observe.yaml",
        "watch:\n  - {apiVersion: v1, kind: ConfigMap, keyFrom: {label: app}}\n",
    )
    write(tmp_path, "parts/profiles.yaml", "resources:\n  tiny: {requests: {cpu: 1m}}\n")
    text = KATALOG.replace(
        "metadata: {name: shop}\n",
        "metadata: {name: shop}\nprofiles: {include: [parts/profiles.yaml]}\n",
    ) + textwrap.indent(
        textwrap.dedent("""\
        operatorBox:
          reconciler: {include: parts/reconciler.yaml, workers: 2}
          observe: {include: [parts/observe.yaml]}
          status:
            include: [parts/status.yaml]
            fields: [{path: own, value: "yes"}]
          onReconcile:
            deployments: [{image: x, resources: {profile: tiny}}]
        """),
        " " * 6,
    )
    katalog = load_katalog(write(tmp_path, "k.yaml", text))
    box = katalog.crds["web"].operator_box
    assert box.reconciler.workers == 2  # the including section's own value wins
    assert box.reconciler.resync == 300
    assert [w.kind for w in box.watches] == ["ConfigMap"]
    assert [f.path for f in box.status.fields] == ["own", "phase"]  # own items first
    made, status = children(katalog)
    deploy = made[("Deployment", "shop-deployment")]  # unnamed: the kind's default
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {"requests": {"cpu": "1m"}}
    assert status["phase"] == "Included"


def test_validation_rules_may_come_from_an_include(tmp_path):
    write(tmp_path, "rules/common.yaml", "rules:\n  - {field: spec.size, exists: true}\n")
    text = crd("validation: {include: [rules/common.yaml]}\n")
    rules = load_katalog(write(tmp_path, "k.yaml", text)).crds["web"].admission.validation
    assert [rule.location.file for rule in rules] == [str(tmp_path / "rules" / "common.yaml")]


def test_mistakes_in_an_included_file_name_that_file_and_line(tmp_path):
    write(tmp_path, "parts/status.yaml", "fields:\n  - {path: phase, valeu: Running}\n")
    path = write(
        tmp_path, "k.yaml", crd("operatorBox:\n  status: {include: [parts/status.yaml]}\n")
    )
    found = issues_of(path)
    included = str(tmp_path / "parts" / "status.yaml")
    assert any(
        issue.startswith(f"{included}:2:") and "unknown key 'valeu'" in issue for issue in found
    ), found


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("../outside.yaml", "must lie inside the Katalog's directory"),
        ("parts/../../outside.yaml", "must lie inside the Katalog's directory"),
        ("/etc/hostname", "named relative to the including file"),
        ("parts/none.yaml", "file not found: parts/none.yaml"),
        ("{a: b}", "expected a file name"),
    ],
)
def test_include_paths_stay_inside_the_katalogs_directory(tmp_path, include, message):
    write(tmp_path, "outside.yaml", "fields: []\n")
    path = write(
        tmp_path / "team",
        "k.yaml",
        crd(f"operatorBox:\n  status: {{include: [{include}]}}\n"),
    )
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:9:")
    assert "status.include[0]" in issue and message in issue


def test_includes_do_not_nest(tmp_path):
    write(tmp_path, "a.yaml", "include: [b.yaml]\nfields: []\n")
    write(tmp_path, "b.yaml", "fields: []\n")
    path = write(tmp_path, "k.yaml", crd("operatorBox:\n  status: {include: a.yaml}\n"))
    [issue] = issues_of(path)
    assert issue.startswith(f"{tmp_path / 'a.yaml'}:1:")
    assert "cannot include others" in issue


def test_a_motifs_resources_may_come_from_an_include(tmp_path):
    write(tmp_path, "motifs/parts/svc.yaml", "services: [{name: extra, port: 1}]\n")
    motif = WEB_STACK.replace("resources:\n", "resources:\n  include: [parts/svc.yaml]\n")
    write(tmp_path, "motifs/web-stack.yaml", motif)
    path = write(tmp_path, "k.yaml", crd("imports: [{motif: web-stack, with: {image: x}}]\n"))
    made, _ = children(load_katalog(path))
    assert ("Service", "extra") in made and ("Service", "shop") in made


def test_a_crd_with_imported_motifs_plans_in_a_process_of_its_own():
    """A heavy box's planner pickles its CRD entry: the bound inputs travel with it."""
    import pickle
    from pathlib import Path

    shop = Path(__file__).parents[1] / "compat" / "katalogs" / "shop-with-motifs.yaml"
    crd = load_katalog(shop).crds["shop"]
    again = pickle.loads(pickle.dumps(crd))
    assert again == crd
    cr = {**CR, "kind": "Shop", "apiVersion": "motifs.example.com/v1"}
    here = render_reconcile_children(crd.operator_box, build_context(cr))
    there = render_reconcile_children(again.operator_box, build_context(cr))
    assert [c.manifest for c in there] == [c.manifest for c in here]
    assert any(c.kind == "Deployment" for c in here)


# --- Komposer and spec.imports files -------------------------------------------

APP = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: app}
spec:
  crds:
    app:
      apiTypes: {group: a.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        reconcile:
          workers: 2
          onReconcile:
            configMaps: [{data: {a: b}}]
"""

KOMPOSER = """\
apiVersion: orkestra.orkspace.io/v1
kind: Komposer
metadata: {name: platform}
imports:
  files: [./katalogs/app.yaml]
spec:
  crds:
    app:
      operatorBox:
        reconcile:
          workers: 8
          resync: 30s
"""


def test_a_komposer_loads_its_files_and_its_overrides_win(tmp_path):
    write(tmp_path, "katalogs/app.yaml", APP)
    katalogs = load_katalogs([write(tmp_path, "komposer.yaml", KOMPOSER)])
    box = katalogs.crds["app"].operator_box
    assert (box.reconciler.workers, box.reconciler.resync) == (8, 30.0)
    assert "configMaps" in box.on_reconcile  # what the override does not name stays
    assert [k.source_file.name for k in katalogs.katalogs] == ["app.yaml"]
    assert katalogs.companion_files == (tmp_path / "komposer.yaml",)


def test_an_override_mistake_is_reported_in_the_komposer(tmp_path):
    write(tmp_path, "katalogs/app.yaml", APP)
    path = write(tmp_path, "komposer.yaml", KOMPOSER.replace("workers: 8", "workers: 80"))
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:11:")
    assert "reconcile.workers: must be between 1 and 50, got 80" in issue


def test_an_override_of_no_crd_is_an_error(tmp_path):
    write(tmp_path, "katalogs/app.yaml", APP)
    path = write(tmp_path, "komposer.yaml", KOMPOSER.replace("    app:\n", "    ap:\n"))
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:8:") and "no Katalog of the set declares CRD 'ap'" in issue


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ("registry: [{url: ghcr.io/org/app, oci: true}]", "registry imports are not supported"),
        ("helm: [{repo: 'https://charts.example.com', chart: app}]", "helm imports are not"),
        ("files: [../outside.yaml]", "must lie inside"),
        ("files: [/etc/hostname]", "named relative to the file naming it"),
        ("files: [none.yaml]", "file not found: none.yaml"),
    ],
)
def test_sources_that_cannot_be_read_are_refused_with_a_reason(tmp_path, sources, message):
    write(tmp_path, "outside.yaml", APP)
    write(tmp_path, "team/katalogs/app.yaml", APP)
    if sources.startswith("files"):
        text = KOMPOSER.replace("files: [./katalogs/app.yaml]", sources)
    else:
        text = KOMPOSER.replace("imports:\n", f"imports:\n  {sources}\n")
    path = write(tmp_path, "team/komposer.yaml", text)
    found = issues_of(path)
    assert any(issue.startswith(f"{path}:") and message in issue for issue in found), found


def test_a_katalogs_spec_imports_files_join_the_set(tmp_path):
    write(tmp_path, "more/db.yaml", APP.replace("app", "db").replace("App", "Db"))
    write(
        tmp_path,
        "more/motifs.yaml",
        "apiVersion: orkestra.orkspace.io/v1\nkind: Motif\nmetadata: {name: extra}\n"
        "resources: {secrets: [{name: extra, stringData: {a: b}}]}\n",
    )
    text = APP.replace(
        "spec:\n", "spec:\n  imports:\n    files: [more/db.yaml, more/motifs.yaml]\n", 1
    ).replace("      operatorBox:", "      imports: [{motif: extra}]\n      operatorBox:")
    katalogs = load_katalogs([write(tmp_path, "k.yaml", text)])
    assert set(katalogs.crds) == {"app", "db"}
    assert "secrets" in katalogs.crds["app"].operator_box.on_reconcile
    assert load_katalog(tmp_path / "k.yaml").name == "app"


def test_the_newest_layout_imports_under_reconcile_and_includes_a_whole_box(tmp_path):
    write(
        tmp_path,
        "box.yaml",
        "reconcile:\n  onReconcile:\n    services: [{name: '{{ .metadata.name }}', port: 1}]\n",
    )
    text = (
        crd("""\
        operatorBox:
          include: [box.yaml]
          reconcile:
            imports: [{motif: web-stack, with: {image: x}}]
        """)
        + "---\n"
        + WEB_STACK
    )
    made, _ = children(load_katalog(write(tmp_path, "k.yaml", text)))
    # box.yaml's Service (named as web-stack's) is the CRD's own: it wins over web-stack's.
    assert made[("Service", "shop")]["spec"]["ports"][0]["port"] == 1
    assert ("Deployment", "shop") in made


def test_an_included_file_that_is_not_yaml_is_reported_at_its_own_line(tmp_path):
    write(tmp_path, "parts/status.yaml", "fields:\n  - {path: a, value: [b\n")
    path = write(tmp_path, "k.yaml", crd("operatorBox:\n  status: {include: parts/status.yaml}\n"))
    [issue] = issues_of(path)
    assert issue.startswith(f"{tmp_path / 'parts' / 'status.yaml'}:3:")
    assert "invalid YAML" in issue


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["", "{{", "{{ .inputs.port }}", "{{ .inputs.nope }}", "30x", "../x.yaml"]),
    st.text(max_size=6),
)
_KEYS = st.sampled_from(
    ["fields", "path", "value", "include", "deployments", "services", "name", "image", "when"]
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_KEYS | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(status=_VALUES, resources=_VALUES)
def test_any_included_file_loads_or_reports_positioned_issues(tmp_path_factory, status, resources):
    """Whatever an included file holds, loading ends in a model or in one-line issues
    placed in the Katalog, the Motif or the included files, never a traceback."""
    folder = tmp_path_factory.mktemp("include")
    included = {
        "parts/status.yaml": status,
        "motifs/parts/resources.yaml": resources,
    }
    for name, value in included.items():
        write(folder, name, yaml.safe_dump(value))
    motif = WEB_STACK.replace("resources:\n", "resources:\n  include: [parts/resources.yaml]\n")
    motif_path = write(folder, "motifs/web-stack.yaml", motif)
    text = crd("""\
        imports: [{motif: web-stack, with: {image: x}}]
        operatorBox:
          status: {include: [parts/status.yaml]}
        """)
    katalog = write(folder, "k.yaml", text)
    allowed = {str(katalog), str(motif_path), *(str(folder / name) for name in included)}
    try:
        load_katalog(katalog)
    except KatalogError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.file in allowed, issue
            assert issue.line >= 1 and issue.column >= 1, issue
            assert "\n" not in issue.message, issue


ALERTING_MOTIF = """\
apiVersion: orkestra.orkspace.io/v1
kind: Motif
metadata: {name: alerting}
status:
  fields:
    - path: scale
      value: big
      when: [{field: spec.replicas, greaterThan: "10", notify: {teams: [TEAM]}}]
"""

NOTIFICATION = """\
notification:
  teams:
    ops: {slack: ["#ops"], slackWebhookUrl: "http://127.0.0.1:9/ops"}
"""


@pytest.mark.parametrize(("team", "loads"), [("ops", True), ("opz", False)])
def test_a_motifs_notify_names_the_importing_katalogs_teams(tmp_path, team, loads):
    text = (
        KATALOG.replace("spec:\n", NOTIFICATION + "spec:\n", 1)
        + "      imports: [{motif: alerting}]\n"
        + "---\n"
        + ALERTING_MOTIF.replace("TEAM", team)
    )
    path = write(tmp_path, "k.yaml", text)
    if loads:
        assert "web" in load_katalog(path).crds
    else:
        [issue] = issues_of(path)
        assert "k.yaml:" in issue and "opz" in issue and "did you mean 'ops'" in issue
