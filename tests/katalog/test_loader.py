"""Loading valid Katalogs: the model's values, defaults, order and immutability."""

from pathlib import Path

import attrs
import pytest

from orkestra_trio.katalog import (
    RESOURCE_GROUPS,
    CrossSource,
    FrozenMap,
    KatalogError,
    Text,
    load_katalog,
    load_katalogs,
)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def shop():
    return load_katalog(FIXTURES / "full.yaml")


def test_top_level_and_crd_settings(shop):
    assert shop.name == "shop"
    assert shop.source_file == FIXTURES / "full.yaml"
    assert list(shop.crds) == ["managed-database", "app"]
    db = shop.crds["managed-database"]
    assert db.api_types.api_version == "demo.example.com/v1"
    assert db.api_types.kind == "ManagedDatabase"
    assert db.namespaced is True
    # crdFile / crFiles resolve against the Katalog's directory, not the cwd.
    assert db.crd_file == (FIXTURES / "crds" / "database-crd.yaml").resolve()
    assert db.cr_files == ((FIXTURES / "crds" / "database-sample.yaml").resolve(),)
    app = shop.crds["app"]
    assert app.namespaced is False
    assert app.endpoints.enabled is False
    assert app.cross_access is True
    assert app.crd_file is None


def test_reconciler_values_and_defaults(shop):
    rec = shop.crds["managed-database"].operator_box.reconciler
    assert rec.workers == 3
    assert rec.resync == 5400.0
    assert rec.timeout == 0.5
    assert (rec.queue.max_depth, rec.queue.failure_threshold) == (100, 3)
    default = shop.crds["app"].operator_box.reconciler
    assert default.workers == 1
    assert default.resync is None
    assert default.timeout == 30.0
    assert (default.queue.max_depth, default.queue.failure_threshold) == (0, 5)


def test_depends_on_spellings(write_katalog):
    text = """\
    metadata: {name: deps}
    spec:
      crds:
        a:
          apiTypes: {group: x.io, version: v1, kind: A, plural: as}
          dependsOn: {b: healthy, c: {condition: started}, d: {condition: ready}}
        b:
          apiTypes: {group: x.io, version: v1, kind: B, plural: bs}
          dependsOn: [c, d]
        c:
          apiTypes: {group: x.io, version: v1, kind: C, plural: cs}
        d:
          apiTypes: {group: x.io, version: v1, kind: D, plural: ds}
    """
    k = load_katalog(write_katalog(text))
    a = [(d.crd, d.condition) for d in k.crds["a"].depends_on]
    assert a == [("b", "healthy"), ("c", "started"), ("d", "ready")]
    b = [(d.crd, d.condition) for d in k.crds["b"].depends_on]
    assert b == [("c", "started"), ("d", "started")]
    # A CRD without an operatorBox is allowed: it is only registered and observed.
    assert k.crds["c"].operator_box is None
    assert len(k.boxes) == 0


def test_cross_entries_and_sources(shop):
    db_cross, loader, weather = shop.crds["app"].operator_box.cross
    assert db_cross.crd == "managed-database" and db_cross.as_ == "db"
    assert db_cross.source is None and db_cross.same_process
    assert db_cross.selector.name.source == "{{ .metadata.name }}-db"
    assert db_cross.selector.namespace is None
    assert loader.selector.namespace.source == "loader-system"
    assert loader.selector.labels == {"tier": Text("batch")}
    assert loader.source == CrossSource(
        host="http://loader-runtime.loader-system:8080",
        type="metrics",
        cache_for=10.0,
        token_from_env="LOADER_TOKEN",
        stale_for=20.0,  # default: twice cacheFor
    )
    # `as` defaults to the crd key; type defaults to cr; cacheFor to 30s.
    assert weather.as_ == "weather"
    assert weather.source.type == "cr"
    assert weather.source.cache_for == 30.0
    assert weather.source.stale_for == 300.0
    assert weather.source.endpoint.source.startswith("https://api.example.com/status/")
    assert [crd for crd, _ in shop.cross_edges] == ["app", "app", "app"]


def test_resource_groups_follow_the_fixed_apply_order(shop):
    box = shop.crds["app"].operator_box
    # Written as services, deployments, custom; applied in the table's order.
    assert list(box.on_reconcile) == ["custom", "deployments", "services"]
    order = list(RESOURCE_GROUPS)
    assert order.index("custom") < order.index("deployments") < order.index("services")
    assert list(box.on_create) == ["configMaps"]
    assert list(box.on_delete) == ["jobs"]
    assert order[:2] == ["namespaces", "secrets"] and order[-4:] == [
        "ingresses",
        "hpa",
        "pdb",
        "pods",
    ]


def test_resource_entry_common_and_shorthand_fields(shop):
    box = shop.crds["app"].operator_box
    (dep,) = box.on_reconcile["deployments"]
    assert dep.group == "deployments"
    assert dep.kind_info.kind == "Deployment" and dep.kind_info.api_version == "apps/v1"
    assert dep.name.source == "{{ .metadata.name }}"
    assert dep.namespace == Text("apps")
    assert dep.labels["tier"] == Text("web")
    assert dep.annotations == {"note": Text("plain")}
    assert dep.when[0].operator == "equals" and dep.when[0].value == "Ready"
    assert set(dep.fields) == {"image", "replicas", "env", "command", "args", "resources", "spec"}
    assert dep.fields["command"] == (Text("sh"), Text("-c"))
    assert dep.fields["env"][0]["name"] == Text("DB_HOST")
    assert dep.fields["resources"]["limits"]["cpu"] == Text("100m")
    (svc,) = box.on_reconcile["services"]
    assert svc.name is None  # the CR's own name
    assert svc.fields["port"] == 80 and svc.fields["targetPort"] == Text("http")
    (widget,) = box.on_reconcile["custom"]
    assert widget.for_each.field == "spec.widgets" and widget.for_each.as_ == "widget"
    assert widget.fields["apiVersion"] == Text("example.com/v1")
    assert widget.fields["spec"]["size"] == 3 and widget.fields["spec"]["enabled"] is True
    (config,) = box.on_create["configMaps"]
    assert config.reconcile is True
    assert config.fields["data"]["app.properties"].source == "mode={{ .spec.mode }}\n"


def test_the_model_is_deeply_immutable(shop):
    app = shop.crds["app"]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        app.key = "other"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        app.operator_box.reconciler.workers = 9
    with pytest.raises(TypeError):
        shop.crds["x"] = app
    dep = app.operator_box.on_reconcile["deployments"][0]
    assert isinstance(dep.fields, FrozenMap)
    assert isinstance(dep.fields["spec"]["template"], FrozenMap)
    assert isinstance(dep.fields["command"], tuple)
    with pytest.raises(TypeError):
        dep.fields["spec"]["template"]["spec"] = {}
    # Frozen means hashable, so models can key caches.
    assert hash(dep) == hash(dep)


def test_plain_text_renders_as_written_without_a_template(shop):
    (dep,) = shop.crds["app"].operator_box.on_reconcile["deployments"]
    plain = dep.annotations["note"]
    assert plain.template is None and not plain.is_template
    assert plain.render({"metadata": {"name": "x"}}) == "plain"
    assert plain.where.endswith("full.yaml:84:35")


def test_conditions_are_built_with_string_operands(shop):
    box = shop.crds["app"].operator_box
    assert [(c.field, c.operator, c.value) for c in box.or_] == [
        ("spec.replicas", "greaterThan", "0"),
        ("spec.mode", "in", "fast,slow"),
    ]
    assert box.when[0].operator == "notEquals" and box.when[0].value == "true"
    (rule,) = box.requeue
    assert rule.after.source == '{{ .spec.pollInterval | default "60s" }}'
    assert rule.when[0].field == "status.phase"


def test_status_and_autoscale(shop):
    box = shop.crds["app"].operator_box
    assert box.status.conditions is False
    paths = [(f.path, f.type, f.clear_on_false) for f in box.status.fields]
    assert paths == [
        ("dbPhase", "string", True),
        ("stats.queueDepth", "int", False),
        ("ratio", "float", False),
    ]
    assert box.status.fields[2].value == Text("0.5")
    assert shop.crds["managed-database"].operator_box.status.conditions is True
    scale = box.autoscale
    assert (scale.interval, scale.cooldown) == (30.0, 300.0)
    first, second = scale.conditions
    assert first.override.workers == 10
    assert first.when[0].source == CrossSource(
        host="http://loader-runtime:8080", cache_for=10.0, stale_for=20.0
    )
    assert second.or_[0].operator == "between" and second.or_[0].negate is True
    assert second.override.workers == 2


def test_locations_point_at_the_declarations(shop):
    app = shop.crds["app"]
    assert (app.location.line, app.location.column) == (30, 5)
    assert app.location.path == "spec.crds.app"
    cross = app.operator_box.cross[1]
    assert cross.location.line == 54
    assert cross.location.path == "spec.crds.app.operatorBox.cross[1]"


def test_several_files_load_as_one_set(write_katalog):
    write_katalog(
        """\
        metadata: {name: db}
        spec:
          crds:
            database:
              apiTypes: {group: x.io, version: v1, kind: Database, plural: databases}
        """,
        "db.yaml",
    )
    app = write_katalog(
        """\
        metadata: {name: app}
        spec:
          crds:
            app:
              apiTypes: {group: x.io, version: v1, kind: App, plural: apps}
              dependsOn: [database]
              operatorBox:
                cross: [{crd: database, selector: {name: main}, as: db}]
        """,
        "app.yaml",
    )
    db = app.parent / "db.yaml"
    katalogs = load_katalogs([db, app, db])  # a file given twice is read once
    assert [k.name for k in katalogs.katalogs] == ["db", "app"]
    assert list(katalogs.crds) == ["database", "app"]
    assert katalogs.katalog_of("app").name == "app"
    with pytest.raises(KeyError):
        katalogs.katalog_of("nope")
    # The same app Katalog alone refers to a CRD nobody declares.
    with pytest.raises(KatalogError):
        load_katalog(app)


def test_literal_yaml_1_1_words_stay_keys(write_katalog, box_katalog):
    # `on:` would be the boolean True under YAML 1.1; keys keep their text.
    text = box_katalog(
        """\
        onReconcile:
          configMaps:
            - name: flags
              data: {on: "1", yes: "2"}
        """
    )
    k = load_katalog(write_katalog(text))
    (cm,) = k.crds["web"].operator_box.on_reconcile["configMaps"]
    assert list(cm.fields["data"]) == ["on", "yes"]


def test_yaml_anchors_and_merge_keys(write_katalog, box_katalog):
    text = box_katalog(
        """\
        onReconcile:
          deployments:
            - &base
              name: a
              image: nginx
              labels: {tier: web}
            - <<: *base
              name: b
        """
    )
    k = load_katalog(write_katalog(text))
    a, b = k.crds["web"].operator_box.on_reconcile["deployments"]
    assert a.name == Text("a") and b.name == Text("b")
    assert b.fields["image"] == Text("nginx") and b.labels == a.labels


BUNDLED = sorted((REPO / "katalogs").glob("*.yaml"))


@pytest.mark.skipif(not BUNDLED, reason="no bundled Katalogs yet")
def test_bundled_katalogs_validate_together_and_alone():
    katalogs = load_katalogs(BUNDLED)
    assert len(katalogs.katalogs) == len(BUNDLED)
    for path in BUNDLED:
        # Each one loads on its own too, unless it observes another bundled one.
        try:
            load_katalog(path)
        except KatalogError as exc:
            assert all("no loaded Katalog declares" in i.message for i in exc.issues), exc


def test_templated_keys_of_free_form_values_are_compiled(write_katalog, box_katalog):
    text = box_katalog(
        """\
        onReconcile:
          configMaps:
            - name: pages
              data: {"{{ .metadata.name }}.html": "<h1>{{ .metadata.name }}</h1>", plain: x}
        """
    )
    (cm,) = load_katalog(write_katalog(text)).crds["web"].operator_box.on_reconcile["configMaps"]
    templated, plain = cm.fields["data"]
    assert isinstance(templated, Text) and templated.is_template
    assert templated.render({"metadata": {"name": "home"}}) == "home.html"
    assert plain == "plain" and not isinstance(plain, Text)


def test_reconciler_weight_defaults_to_one_and_is_bounded(write_katalog, box_katalog, load_issues):
    k = load_katalog(write_katalog(box_katalog("reconciler: {weight: 3}\n")))
    assert k.crds["web"].operator_box.reconciler.weight == 3
    default = load_katalog(write_katalog(box_katalog("reconciler: {workers: 2}\n")))
    assert default.crds["web"].operator_box.reconciler.weight == 1
    issues = load_issues(box_katalog("reconciler: {weight: 0}\n"))
    assert any("weight" in str(issue) for issue in issues)


def test_a_frozen_map_reads_as_the_dict_it_holds():
    data = {"a": 1, "b": None}
    frozen = FrozenMap(data)
    assert frozen.get("a") == 1 and frozen.get("b", 7) is None
    assert frozen.get("z") is None and frozen.get("z", 7) == 7
    assert "b" in frozen and "z" not in frozen
    assert list(frozen.items()) == list(data.items()) and dict(frozen) == data
    assert frozen == data and hash(frozen) == hash(FrozenMap(dict(data)))
