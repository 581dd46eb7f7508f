"""Load-time validation: every mistake is reported, at file:line:col, with its key path.

Katalogs built with the ``box_katalog`` fixture put the operatorBox body on
line 10 onwards, indented by 8 (so a body key sits in column 9).
"""

import pytest

from orkestra_trio.katalog import KatalogError, KatalogIssue, load_katalog, load_katalogs

FIRST = 10  # the first line of a box_katalog body


def only(issues):
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


def test_issue_str_is_file_line_col_path_message():
    issue = KatalogIssue("k.yaml", 3, 7, "spec.crds.web", "boom")
    assert str(issue) == "k.yaml:3:7: spec.crds.web: boom"
    assert str(KatalogIssue("k.yaml", 1, 1, "", "empty")) == "k.yaml:1:1: empty"
    assert str(KatalogIssue("gone.yaml", 0, 0, "", "no such file")) == "gone.yaml: no such file"
    error = KatalogError([issue, issue])
    assert str(error) == f"{issue}\n{issue}"


# -- cross: references ------------------------------------------------------


def test_cross_without_source_on_an_unloaded_crd_fails_naming_the_entry(load_issues, box_katalog):
    text = box_katalog(
        """\
        cross:
          - crd: managed-databse
            selector: {name: "{{ .metadata.name }}-db"}
            as: db
        """
    )
    issue = only(load_issues(text))
    assert (issue.line, issue.column) == (FIRST + 1, 13)
    assert issue.path == "spec.crds.web.operatorBox.cross[0]"
    assert "cross entry 'db' observes CRD 'managed-databse'" in issue.message
    assert "no loaded Katalog declares" in issue.message
    assert str(issue).startswith(
        f"{issue.file}:{FIRST + 1}:13: spec.crds.web.operatorBox.cross[0]: "
    )


def test_cross_with_a_source_may_name_a_crd_of_another_runtime(write_katalog, box_katalog):
    text = box_katalog(
        """\
        cross:
          - crd: loader
            selector: {name: x}
            source: {host: "http://loader:8080"}
        """
    )
    katalog = load_katalog(write_katalog(text))
    assert katalog.crds["web"].operator_box.cross[0].source.host == "http://loader:8080"


def test_cross_between_files_resolves_in_a_set_and_suggests_near_names(write_katalog):
    db = write_katalog(
        """\
        metadata: {name: db}
        spec:
          crds:
            database:
              apiTypes: {group: x.io, version: v1, kind: Database, plural: databases}
              crossAccess: false
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
              operatorBox:
                cross:
                  - {crd: database}
                  - {crd: databse, as: typo}
        """,
        "app.yaml",
    )
    with pytest.raises(KatalogError) as caught:
        load_katalogs([db, app])
    [typo] = caught.value.issues
    assert "(did you mean 'database'?)" in typo.message and typo.line == 9


def test_a_cross_to_a_crd_without_cross_access_loads_with_a_warning(write_katalog):
    # Orkestra loads it and reads not found at run time; loading here says so.
    db = write_katalog(
        """\
        metadata: {name: db}
        spec:
          crds:
            database:
              apiTypes: {group: x.io, version: v1, kind: Database, plural: databases}
              crossAccess: false
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
              operatorBox:
                cross: [{crd: database}]
        """,
        "app.yaml",
    )
    [warning] = load_katalogs([db, app]).warnings
    assert "sets crossAccess: false" in warning.message and "not found" in warning.message
    assert (warning.file, warning.line) == (str(app), 7)


# -- dependsOn --------------------------------------------------------------

DEPS = """\
metadata: {{name: deps}}
spec:
  crds:
    a:
      apiTypes: {{group: x.io, version: v1, kind: A, plural: as}}
      dependsOn: {a}
    b:
      apiTypes: {{group: x.io, version: v1, kind: B, plural: bs}}
      dependsOn: {b}
    c:
      apiTypes: {{group: x.io, version: v1, kind: C, plural: cs}}
      dependsOn: {c}
"""


def test_depends_on_an_unknown_crd(load_issues):
    issue = only(load_issues(DEPS.format(a="[b]", b="{cc: healthy}", c="[]")))
    assert (issue.line, issue.column) == (9, 19)
    assert issue.path == "spec.crds.b.dependsOn.cc"
    assert "dependsOn names CRD 'cc', which no loaded Katalog declares (did you mean 'c'?)" in (
        issue.message
    )


def test_dependency_cycles_are_named(load_issues):
    issue = only(load_issues(DEPS.format(a="[b]", b="{c: {condition: healthy}}", c="{a: started}")))
    assert issue.message == "dependency cycle: a -> b -> c -> a"
    assert (issue.line, issue.path) == (6, "spec.crds.a.dependsOn[0]")


def test_two_crd_cycle_and_self_dependency(load_issues):
    issues = load_issues(DEPS.format(a="[b]", b="[a]", c="[c]"))
    messages = [i.message for i in issues]
    assert messages == ["dependency cycle: a -> b -> a", "CRD 'c' cannot depend on itself"]


def test_depends_on_shapes(load_issues):
    issues = load_issues(DEPS.format(a="{b: healthier}", b="{c: {condition: soon}}", c="yes"))
    assert [i.path for i in issues] == [
        "spec.crds.a.dependsOn.b",
        "spec.crds.b.dependsOn.c.condition",
        "spec.crds.c.dependsOn",
    ]
    assert "expected started, ready or healthy, got a string ('healthier')" in issues[0].message
    assert "must be one of started, ready, healthy, got 'soon'" in issues[1].message


# -- duplicate CRDs ---------------------------------------------------------


def test_duplicate_crd_keys_across_files_name_both_places(write_katalog):
    one = write_katalog(
        "metadata: {name: one}\nspec:\n  crds:\n    web:\n"
        "      apiTypes: {group: x.io, version: v1, kind: Web, plural: webs}\n",
        "one.yaml",
    )
    two = write_katalog(
        "metadata: {name: two}\nspec:\n  crds:\n    other:\n"
        "      apiTypes: {group: y.io, version: v1, kind: O, plural: os}\n    web:\n"
        "      apiTypes: {group: z.io, version: v1, kind: Web, plural: webs}\n",
        "two.yaml",
    )
    with pytest.raises(KatalogError) as caught:
        load_katalogs([one, two])
    issue = only(caught.value.issues)
    assert issue.file == str(two) and (issue.line, issue.column) == (6, 5)
    assert f"duplicate CRD key 'web': already declared at {one}:4:5" in issue.message


def test_two_crds_for_the_same_resource(load_issues):
    text = (
        "metadata: {name: x}\nspec:\n  crds:\n"
        "    a: {apiTypes: {group: x.io, version: v1, kind: A, plural: things}}\n"
        "    b: {apiTypes: {group: x.io, version: v2, kind: A, plural: things}}\n"
    )
    issue = only(load_issues(text))
    assert issue.line == 5 and "things.x.io, which CRD 'a'" in issue.message


def test_duplicate_keys_in_one_file(load_issues, box_katalog):
    issue = only(load_issues(box_katalog("when: []\nwhen: []\n")))
    assert (issue.line, issue.column) == (FIRST + 1, 9)
    assert "duplicate key 'when'" in issue.message


# -- conditions -------------------------------------------------------------


def test_unknown_condition_operator_suggests_the_nearest(load_issues, box_katalog):
    text = box_katalog(
        """\
        when:
          - field: spec.replicas
            greaterThen: "0"
        """
    )
    issue = only(load_issues(text))
    assert (issue.line, issue.column) == (FIRST + 2, 13)
    assert issue.path == "spec.crds.web.operatorBox.when[0].greaterThen"
    assert issue.message == "unknown condition operator 'greaterThen' (did you mean 'greaterThan'?)"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "{field: a, frobnicate: x}",
            "unknown condition operator 'frobnicate' (operators: between,",
        ),
        ("{field: a}", "a condition needs an operator, one of between,"),
        ("{equals: x}", "missing required key 'field'"),
        ("{field: a, equals: x, contains: y}", "exactly one operator, found equals, contains"),
        ("{field: a, greaterThan: many}", "greaterThan compares numbers; 'many' is not a number"),
        ("{field: a, between: '5'}", 'between takes "min,max" numbers'),
        ("{field: a, regex: '(a+)+$'}", "catastrophic backtracking"),
        ("{field: a, equals: '{{ .x '}", "template syntax error"),
        ("{field: '{{ if }}', equals: x}", "template syntax error"),
        ("{field: a, regex: '(unclosed'}", "invalid regex '(unclosed'"),
        ("{field: a, exists: false}", "exists: false is ambiguous; write notExists: true"),
        ("{field: a, equals: {x: 1}}", "expected a plain value, got a mapping"),
        ("{field: 'a..b', equals: x}", "invalid field 'a..b'"),
        ("{field: a, equals: x, negate: maybe}", "expected true or false"),
        (
            "{field: a, equals: x, source: {host: 'http://h:1'}}",
            "source is allowed on autoscale conditions only",
        ),
        ("just a string", "expected a condition mapping"),
    ],
)
def test_bad_conditions(load_issues, box_katalog, condition, message):
    issue = only(load_issues(box_katalog(f"when:\n  - {condition}\n")))
    assert message in issue.message
    assert issue.line == FIRST + 1


def test_condition_operands_accept_lists_and_numbers(write_katalog, box_katalog):
    text = box_katalog(
        """\
        when:
          - {field: spec.n, between: [1, 5]}
          - {field: spec.n, notIn: [1, two, 3.5]}
          - {field: spec.n, lessThanOrEqual: 2.0}
          - {field: spec.ok, equals: true}
          - {field: spec.n, greaterThan: "{{ .spec.min }}"}
        """
    )
    when = load_katalog(write_katalog(text)).crds["web"].operator_box.when
    assert [c.value for c in when] == ["1,5", "1,two,3.5", "2", "true", "{{ .spec.min }}"]


# -- durations and numbers --------------------------------------------------


def test_bad_duration_points_at_the_value(load_issues, box_katalog):
    issue = only(load_issues(box_katalog("reconciler:\n  timeout: 30x\n")))
    assert (issue.line, issue.column) == (FIRST + 1, 20)
    assert issue.path == "spec.crds.web.operatorBox.reconciler.timeout"
    assert "invalid duration '30x'" in issue.message


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("reconciler: {resync: 5 minutes}", "reconciler.resync"),
        ("reconciler: {timeout: 0s}", "reconciler.timeout"),
        ("autoscale: {interval: soon}", "autoscale.interval"),
        ("requeue: {after: 1 hour}", "requeue.after"),
        ("requeue: [{after: 10s}, {after: 1 hour}]", "requeue[1].after"),
        (
            "cross: [{crd: web, source: {host: 'http://h:1', cacheFor: 10 s}}]",
            "cross[0].source.cacheFor",
        ),
    ],
)
def test_every_duration_is_checked(load_issues, box_katalog, body, path):
    issue = only(load_issues(box_katalog(body + "\n")))
    assert issue.path == "spec.crds.web.operatorBox." + path


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ("requeue: 10s", "requeue", "expected a mapping or a list of them, got a string"),
        ("requeue: [10s]", "requeue[0]", "expected a mapping, got a string"),
        ("requeue: [{after: 1s, every: 2s}]", "requeue[0].every", "unknown key 'every'"),
    ],
)
def test_requeue_takes_a_mapping_or_a_list_of_them(load_issues, box_katalog, body, path, message):
    issue = only(load_issues(box_katalog(body + "\n")))
    assert issue.path == "spec.crds.web.operatorBox." + path
    assert issue.message.startswith(message)


@pytest.mark.parametrize("workers", [0, 51, -3])
def test_workers_outside_1_to_50(load_issues, box_katalog, workers):
    issue = only(load_issues(box_katalog(f"reconciler:\n  workers: {workers}\n")))
    assert (issue.line, issue.column) == (FIRST + 1, 20)
    assert issue.message == f"must be between 1 and 50, got {workers}"


def test_autoscale_override_workers_are_bounded_too(load_issues, box_katalog):
    text = box_katalog(
        """\
        autoscale:
          conditions:
            - when: [{field: metrics.queueDepth, greaterThan: 10}]
              override: {workers: 80}
        """
    )
    issue = only(load_issues(text))
    assert issue.path.endswith("autoscale.conditions[0].override.workers")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("reconciler: {workers: three}", "expected a whole number, got a string ('three')"),
        ("reconciler: {workers: 2.5}", "expected a whole number, got a number (2.5)"),
        ("reconciler: {queue: {maxDepth: -1}}", "must be at least 0, got -1"),
        ("reconciler: {queue: {failureThreshold: 0}}", "must be at least 1, got 0"),
    ],
)
def test_numbers(load_issues, box_katalog, body, message):
    assert only(load_issues(box_katalog(body + "\n"))).message == message


# -- templates --------------------------------------------------------------


class _FakeSyntaxError(Exception):
    def __init__(self, message, line, column):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class _FakeTemplates:
    """Stands in for katalog.template: `{{ bad` fails on the template's line 2 or 1."""

    TemplateSyntaxError = _FakeSyntaxError
    compiled = []

    @staticmethod
    def is_template(text):
        return "{{" in text

    @classmethod
    def compile_template(cls, source, *, name="<template>", notes=None):
        cls.compiled.append((source, name))
        lines = source.split("\n")
        for number, line in enumerate(lines, 1):
            if "{{ bad" in line:
                raise _FakeSyntaxError("unexpected 'bad'", number, line.index("{{ bad") + 1)
        return ("compiled", source)


@pytest.fixture
def fake_templates(monkeypatch):
    from orkestra_trio.katalog import reading

    _FakeTemplates.compiled = []
    monkeypatch.setattr(reading, "templates", _FakeTemplates)
    return _FakeTemplates


def test_template_errors_point_at_the_file_line_of_the_template_line(
    fake_templates, load_issues, box_katalog
):
    text = box_katalog(
        """\
        onReconcile:
          deployments:
            - name: "x-{{ bad }}"
              image: |
                first line
                second {{ bad }}
        status:
          fields:
            - path: phase
              value: "{{ .ok }}"
        """
    )
    name_issue, image_issue = load_issues(text)
    # A quoted scalar: the column counts the quote and the template's offset.
    assert (name_issue.line, name_issue.column) == (FIRST + 2, 24)
    assert name_issue.message.startswith("template syntax error (template line 1, column 3)")
    # A block scalar starts on the line after `|`: template line 2 is file line +2.
    assert (image_issue.line, image_issue.column) == (FIRST + 5, 16 + 8)
    assert "template line 2" in image_issue.message and "unexpected 'bad'" in image_issue.message
    assert image_issue.path == "spec.crds.web.operatorBox.onReconcile.deployments[0].image"


def test_templates_are_compiled_once_at_load_and_kept(fake_templates, write_katalog, box_katalog):
    text = box_katalog(
        """\
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}"
              data: {plain: text, templated: "{{ .spec.x }}"}
        """
    )
    katalog = load_katalog(write_katalog(text))
    (cm,) = katalog.crds["web"].operator_box.on_reconcile["configMaps"]
    assert cm.name.template == ("compiled", "{{ .metadata.name }}")
    assert cm.fields["data"]["templated"].template == ("compiled", "{{ .spec.x }}")
    assert cm.fields["data"]["plain"].template is None
    # Each template compiled with its file:line as the name used in render errors.
    names = dict(fake_templates.compiled)
    assert names["{{ .metadata.name }}"].endswith(f"katalog.yaml:{FIRST + 2}:21")


def test_real_template_syntax_errors_are_reported(load_issues, box_katalog):
    pytest.importorskip("orkestra_trio.katalog.template")
    text = box_katalog(
        """\
        status:
          fields:
            - path: phase
              value: |
                {{ if .ok }}
                {{ .x | }}
                {{ end }}
        """
    )
    issue = only(load_issues(text))
    assert issue.path.endswith("status.fields[0].value")
    assert "template syntax error (template line 2" in issue.message
    assert issue.line == FIRST + 5
    assert issue.column > 16  # inside the block's indented text


# -- sources ----------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "{{ .spec.url }}",
        "https://{{ .spec.host }}/status",
        "{{ .scheme }}://api.example.com/status",
        "https://api.example.com{{ .spec.path }}",
        "https://api.{{ .metadata.namespace }}.example.com/",
    ],
)
def test_endpoint_scheme_and_host_cannot_be_templated(load_issues, box_katalog, endpoint):
    text = box_katalog(f"cross:\n  - crd: ext\n    source:\n      endpoint: '{endpoint}'\n")
    issue = only(load_issues(text))
    assert issue.path.endswith("cross[0].source.endpoint")
    assert issue.line == FIRST + 3
    assert "scheme and host of an endpoint cannot be templated" in issue.message


def test_endpoint_path_and_query_may_be_templated(write_katalog, box_katalog):
    url = "https://api.example.com:8443/status/{{ .metadata.name }}?ns={{ .metadata.namespace }}"
    text = box_katalog(f"cross:\n  - crd: ext\n    source:\n      endpoint: '{url}'\n")
    source = load_katalog(write_katalog(text)).crds["web"].operator_box.cross[0].source
    assert source.endpoint.source == url and source.host is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{host: 'http://{{ .x }}:8080'}", "host cannot be a template"),
        ("{host: 'loader:8080'}", "expected http://host:port"),
        ("{host: 'http://loader:8080/katalog'}", "scheme://host:port only"),
        ("{endpoint: 'ftp://files/x'}", "expected an http:// or https:// URL"),
        ("{cacheFor: 10s}", "exactly one of host (ONCOP) or endpoint"),
        ("{host: 'http://a:1', endpoint: 'http://b/'}", "exactly one of host"),
        ("{host: 'http://a:1', type: status}", "must be one of cr, health, metrics, info, events"),
        (
            "{host: 'http://a:1', token: t, tokenFrom: {env: T}}",
            "give token or tokenFrom, not both",
        ),
        ("{host: 'http://a:1', tokenFrom: {env: 'not a name'}}", "an environment variable name"),
        ("{host: 'http://a:1', tokenFrom: {file: x}}", "unknown key 'file'"),
    ],
)
def test_bad_sources(load_issues, box_katalog, source, message):
    issues = load_issues(box_katalog(f"cross:\n  - crd: ext\n    source: {source}\n"))
    assert any(message in i.message for i in issues), issues


# -- as names ---------------------------------------------------------------


def test_as_names_that_collide_in_one_box(load_issues, box_katalog):
    text = box_katalog(
        """\
        cross:
          - {crd: web, as: peer}
          - {crd: web}
          - {crd: other, source: {host: "http://o:1"}, as: peer}
          - {crd: web2, source: {host: "http://o:1"}, as: web}
        """
    )
    first, second = load_issues(text)
    assert first.path.endswith("cross[2].as") and first.line == FIRST + 3
    assert "cross name 'peer' is already used by cross[0]" in first.message
    # An `as` that collides with another entry's default (its crd key).
    assert second.path.endswith("cross[3].as")
    assert "cross name 'web' is already used by cross[1]" in second.message


def test_as_must_be_usable_in_a_template_path(load_issues, box_katalog):
    issue = only(load_issues(box_katalog("cross: [{crd: web, as: my-peer}]\n")))
    assert "invalid value 'my-peer'" in issue.message


# -- shapes, required fields and unknown keys -------------------------------


def test_missing_required_fields(load_issues):
    text = """\
    apiVersion: orkestra.orkspace.io/v1
    kind: Katalog
    metadata: {labels: {a: b}}
    spec:
      crds:
        web:
          apiTypes: {group: x.io, version: v1, kind: Web}
    """
    name, plural = load_issues(text)
    assert (name.line, name.path, name.message) == (3, "metadata", "missing required key 'name'")
    assert plural.path == "spec.crds.web.apiTypes"
    assert plural.message == "missing required key 'plural'"


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ("reconciler: fast", "reconciler", "expected a mapping, got a string ('fast')"),
        ("when: {field: a, equals: b}", "when", "expected a list, got a mapping"),
        ("onReconcile: [deployments]", "onReconcile", "expected a mapping, got a list"),
        ("onReconcile: {deployments: {name: x}}", "onReconcile.deployments", "expected a list"),
        (
            "onReconcile: {deployments: [{name: [a]}]}",
            "onReconcile.deployments[0].name",
            "expected a string, got a list",
        ),
        (
            "onReconcile: {deployments: [{spec: nope}]}",
            "onReconcile.deployments[0].spec",
            "expected a mapping",
        ),
        (
            "onReconcile: {jobs: [{command: 'sh -c x'}]}",
            "onReconcile.jobs[0].command",
            "expected a list",
        ),
        (
            "onReconcile: {deployments: [{image: [a]}]}",
            "onReconcile.deployments[0].image",
            "expected a single value",
        ),
        (
            "onReconcile: {deployments: [{env: [{value: x}]}]}",
            "onReconcile.deployments[0].env[0]",
            "expected {name: ..., value: ...}",
        ),
        (
            "onReconcile: {deployments: [{env: x}]}",
            "onReconcile.deployments[0].env",
            "a mapping or a list",
        ),
        (
            "onReconcile: {custom: [{kind: Widget}]}",
            "onReconcile.custom[0]",
            "missing required key 'apiVersion'",
        ),
        (
            "onReconcile: {configMaps: [{name: x, forEach: {as: s}}]}",
            "onReconcile.configMaps[0].forEach",
            "missing required key 'field'",
        ),
        (
            "onReconcile: {configMaps: [{forEach: {field: spec.x, as: spec}}]}",
            "onReconcile.configMaps[0].forEach.as",
            "would hide .spec",
        ),
        (
            "onReconcile: {configMaps: [{labels: {'{{ .x }}': y}}]}",
            "onReconcile.configMaps[0].labels.{{ .x }}",
            "a labels key cannot be a template",
        ),
        ("status: {fields: [{path: phase}]}", "status.fields[0]", "missing required key 'value'"),
        (
            "status: {fields: [{path: conditions, value: x}]}",
            "status.fields[0].path",
            "status.conditions is written by the runtime",
        ),
        (
            "status: {fields: [{path: p, value: x, type: integer}]}",
            "status.fields[0].type",
            "must be one of string, int, float, bool, auto",
        ),
        ("status: {conditions: sometimes}", "status.conditions", "expected true or false"),
        (
            "autoscale: {conditions: [{override: {workers: 2}}]}",
            "autoscale.conditions[0]",
            "needs when or or",
        ),
    ],
)
def test_wrong_shapes(load_issues, box_katalog, body, path, message):
    issue = only(load_issues(box_katalog(body + "\n")))
    assert issue.path == "spec.crds.web.operatorBox." + path
    assert message in issue.message
    assert issue.line == FIRST


def test_one_status_path_with_several_conditional_values_loads(write_katalog, box_katalog):
    text = box_katalog(
        """\
status:
  fields:
    - {path: phase, value: Pending}
    - {path: phase, value: Running, when: [{field: spec.up, equals: "true"}]}
    - {path: phase, value: Degraded, when: [{field: spec.errors, greaterThan: "0"}]}
    - path: phase
      value: Lost
      when: [{field: spec.up, equals: "true"}]
      or: [{field: spec.a, exists: true}, {field: spec.b, exists: true}]
"""
    )
    box = load_katalog(write_katalog(text)).crds["web"].operator_box
    assert [f.value.source for f in box.status.fields] == ["Pending", "Running", "Degraded", "Lost"]


@pytest.mark.parametrize(
    ("fields", "never", "by"),
    [
        # An unconditional field overrides every earlier one of its path.
        ("[{path: a, value: x}, {path: a, value: y}]", 0, 1),
        ("[{path: a, value: x, when: [{field: spec.q, exists: true}]}, {path: a, value: y}]", 0, 1),
        # The same conditions again: the later always wins.
        (
            "[{path: a, value: x, when: [{field: spec.q, exists: true}]},"
            " {path: b, value: z},"
            " {path: a, value: y, when: [{field: spec.q, exists: true}]}]",
            0,
            2,
        ),
        # Fewer conditions than the earlier one: holds whenever it does.
        (
            "[{path: a, value: x, when: [{field: spec.q, exists: true}, {field: spec.r, exists: true}]},"
            " {path: a, value: y, when: [{field: spec.r, exists: true}]}]",
            0,
            1,
        ),
    ],
)
def test_a_status_field_that_can_never_apply_is_an_error(
    load_issues, box_katalog, fields, never, by
):
    issue = only(load_issues(box_katalog(f"status:\n  fields: {fields}\n")))
    assert issue.path == f"spec.crds.web.operatorBox.status.fields[{never}].path"
    assert f"never comes from fields[{never}]" in issue.message
    assert f"fields[{by}] sets it" in issue.message


@pytest.mark.parametrize(
    ("body", "key", "hint"),
    [
        ("reconciler: {worker: 3}", "worker", "did you mean 'workers'?"),
        ("onReconcile: {deployment: []}", "deployment", "did you mean 'deployments'?"),
        ("onReconcile: {services: [{image: x}]}", "image", "valid keys:"),
        (
            "onReconcile: {services: [{ports: [], tagetPort: 80}]}",
            "tagetPort",
            "did you mean 'targetPort'?",
        ),
        ("onReconcile: {deployments: [{reconcile: true}]}", "reconcile", "onCreate entries only"),
        ("crosss: []", "crosss", "did you mean 'cross'?"),
    ],
)
def test_unknown_keys_suggest_the_nearest_valid_key(load_issues, box_katalog, body, key, hint):
    issue = only(load_issues(box_katalog(body + "\n")))
    assert issue.path.endswith(key)
    assert hint in issue.message


def test_unknown_top_level_key_points_at_the_key(load_issues):
    text = "metadata: {name: x}\nspecs: {}\nspec: {crds: {a: {apiTypes: {group: x.io, version: v1, kind: A, plural: as}}}}\n"
    issue = only(load_issues(text))
    assert (issue.line, issue.column, issue.path) == (2, 1, "specs")
    assert issue.message == "unknown key 'specs' (did you mean 'spec'?)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "expected a Katalog (a mapping with metadata and spec), got a list"),
        (
            "apiVersion: v1\nmetadata: {name: x}\nspec: {crds: {}}\n",
            "expected orkestra.orkspace.io/v1",
        ),
        (
            "kind: Deployment\nmetadata: {name: x}\nspec: {crds: {}}\n",
            "expected Katalog, got 'Deployment'",
        ),
        ("metadata: {name: x}\nspec: {crds: {}}\n", "a Katalog needs at least one CRD"),
        (
            "metadata: {name: x}\nspec: {crds: {Web_1: {apiTypes: {group: x.io, version: v1, kind: A, plural: as}}}}\n",
            "invalid CRD key 'Web_1'",
        ),
        (
            "metadata: {name: x}\nspec: {crds: {a: {apiTypes: {group: x.io, version: v1, kind: a, plural: as}}}}\n",
            "a CamelCase name",
        ),
        (
            "metadata: {name: x}\nspec: {crds: {a: {apiTypes: {group: x.io, version: v1, kind: A, plural: As}}}}\n",
            "a lowercase plural",
        ),
        (
            "metadata: {name: x}\nspec: {crds: {a: {crdFile: ./nope.yaml, apiTypes: {group: x.io, version: v1, kind: A, plural: as}}}}\n",
            "file not found: ./nope.yaml",
        ),
        (
            "metadata: {name: ''}\nspec: {crds: {a: {apiTypes: {group: x.io, version: v1, kind: A, plural: as}}}}\n",
            "must not be empty",
        ),
    ],
)
def test_document_level_mistakes(load_issues, text, message):
    assert any(message in i.message for i in load_issues(text))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ('"a\\0b"', "cannot contain a NUL character"),
        ('"' + "x" * 5000 + '"', "File name too long"),
        ("/", "file not found: /"),
        ("[]", "expected a string, got a list"),
    ],
)
def test_unusable_crd_file_names_are_issues(load_issues, name, message):
    text = (
        "metadata: {name: x}\nspec:\n  crds:\n    a:\n"
        "      apiTypes: {group: x.io, version: v1, kind: A, plural: as}\n"
        f"      crdFile: {name}\n"
        f"      crFiles: [{name}]\n"
    )
    issues = load_issues(text)
    assert [(i.line, i.path) for i in issues][:1] == [(6, "spec.crds.a.crdFile")]
    assert message in issues[0].message


def test_every_issue_of_a_file_is_reported_at_once(load_issues, box_katalog):
    text = box_katalog(
        """\
        reconciler: {workers: 99, timeout: 30x}
        when: [{field: a, equalz: b}]
        cross: [{crd: nowhere}]
        status: {fields: [{path: p}]}
        """
    )
    issues = load_issues(text)
    assert len(issues) == 5
    assert [i.line for i in issues] == sorted(i.line for i in issues)


def test_missing_file_and_invalid_yaml_are_issues(tmp_path, write_katalog):
    bad = write_katalog("metadata: {name: [x\n", "bad.yaml")
    with pytest.raises(KatalogError) as caught:
        load_katalogs([tmp_path / "gone.yaml", bad])
    gone, invalid = caught.value.issues  # in the order the files were given
    # A problem with the file as a whole is placed at 1:1: every line the CLI
    # prints reads file:line:col.
    assert (gone.message, gone.line, gone.column) == ("no such file", 1, 1)
    assert str(gone) == f"{tmp_path / 'gone.yaml'}:1:1: no such file"
    assert invalid.file == str(bad) and invalid.line == 2
    assert invalid.message.startswith("invalid YAML")


def test_condition_templates_are_compiled_once_and_named_by_position(
    fake_templates, write_katalog, box_katalog
):
    text = box_katalog(
        """\
        when:
          - field: "{{ phase .cross.db }}"
            lessThan: "{{ .spec.max }}"
          - {field: spec.replicas, greaterThan: "0"}
        """
    )
    templated, plain = load_katalog(write_katalog(text)).crds["web"].operator_box.when
    assert templated.field_template == ("compiled", "{{ phase .cross.db }}")
    assert templated.value_template == ("compiled", "{{ .spec.max }}")
    assert plain.field_template is None and plain.value_template is None
    names = [name for _, name in fake_templates.compiled]
    assert len(names) == 2  # nothing else compiles them again
    assert names[0].endswith(f"katalog.yaml:{FIRST + 1}:20")
    assert names[1].endswith(f"katalog.yaml:{FIRST + 2}:23")


def test_condition_render_errors_name_the_katalog_position(write_katalog, box_katalog):
    from orkestra_trio.katalog.conditions import conditions_hold
    from orkestra_trio.katalog.template import TemplateRenderError

    text = box_katalog(
        """\
        when:
          - field: spec.replicas
            lessThan: "{{ div 10 .spec.zero }}"
        or:
          - field: "{{ index .spec.sites 5 }}"
            equals: x
        """
    )
    path = write_katalog(text)
    box = load_katalog(path).crds["web"].operator_box
    context = {"spec": {"replicas": 1, "zero": 0, "sites": []}}
    with pytest.raises(TemplateRenderError) as caught:
        conditions_hold(box.when, (), context)
    assert caught.value.template_name == f"{path}:{FIRST + 2}:23"
    assert "division by zero" in str(caught.value)
    with pytest.raises(TemplateRenderError) as caught:
        conditions_hold((), box.or_, context)
    assert caught.value.template_name == f"{path}:{FIRST + 4}:20"


def test_broken_condition_templates_are_each_reported_once(load_issues, box_katalog):
    field, operand = load_issues(
        box_katalog('when:\n  - {field: "{{ if }}", equals: "{{ end }}"}\n')
    )
    assert field.path.endswith("when[0].field") and "missing value for if" in field.message
    assert operand.path.endswith("when[0].equals") and "unexpected {{end}}" in operand.message
