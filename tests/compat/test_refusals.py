"""What an Orkestra Katalog may write that we refuse, each with a message that says why."""

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog

HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
"""


def crd(box: str = "", extra: str = "") -> str:
    return (
        HEAD
        + "spec:\n  crds:\n    web:\n"
        + "      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}\n"
        + extra
        + ("      operatorBox:\n" + box if box else "")
    )


def issues(tmp_path, text):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (crd(box="        anyOf: []\n"), "'anyOf' was renamed: write or"),
        (
            crd(box="        cross:\n          - {crd: db, labels: {a: b}}\n"),
            "'labels' was renamed: write labelSelector",
        ),
        (
            crd(
                box="        onReconcile:\n          deployments:\n"
                "            - {image: x, envFrom: [{secretRef: {name: s}}]}\n"
            ),
            "envFrom is a mapping now",
        ),
        (crd(box="        reconcile: {default: false}\n"), "default: false asks for Go hooks"),
        (
            crd(box="        reconcile: {remote: {type: grpc, endpoint: 'http://x/'}}\n"),
            "a remote reconciler of type grpc is not supported by orkestra_trio: only type: http",
        ),
        (
            crd(
                box="        reconcile:\n          default: false\n"
                "          remote: {endpoint: 'http://x/'}\n"
                "          onReconcile: {configMaps: [{data: {a: b}}]}\n"
            ),
            "onReconcile does not run: default: false leaves the children to the remote",
        ),
        (
            crd(
                box="        reconcile:\n"
                "          remote: {endpoint: 'http://x/', managedResources: [{group: x, plural: y}]}\n"
            ),
            "x/y is not a built-in kind: name a custom kind with apiVersion and kind",
        ),
        (crd(extra="      mode: typed\n"), "only mode: dynamic is supported"),
        (
            crd(
                box="        onReconcile:\n          deployments:\n            - {resources: {profile: huge}}\n"
            ),
            "unknown resources profile 'huge'",
        ),
        (
            crd(box="        preReconcile:\n          enqueueGate: {sentinels: [specChanged]}\n"),
            "unknown sentinel 'specChanged'",
        ),
        (
            crd(
                box="        preReconcile:\n          sentinels: [generationChanged]\n"
                "          enqueueGate: {sentinels: [labelsChanged]}\n"
            ),
            "not declared in preReconcile.sentinels",
        ),
        (
            crd(
                box="        preReconcile:\n"
                "          external: [{name: f, url: 'http://x/', protocol: redis}]\n"
            ),
            "protocol redis is not supported by orkestra_trio: only http calls are made",
        ),
        (
            crd(
                box="        onCreate:\n          external: [{name: f, url: 'http://{{ .spec.h }}/'}]\n"
            ),
            "the scheme and host of a url cannot be templated",
        ),
        (
            crd(box="        onDelete:\n          external: [{name: f, url: 'http://x/'}]\n"),
            "external calls are made in preReconcile, onCreate and onReconcile only",
        ),
        (
            crd(box="        status: {}\n        emit: {status: {}}\n"),
            "status is also written at",
        ),
        (crd(box="        finalizers: [cleanup]\n"), "expected a finalizer such as"),
        (
            crd(box="        reconciler: {workers: 2}\n        reconcile: {workers: 3}\n"),
            "are both given; keep one",
        ),
        (HEAD + "providers: {}\nspec: {crds: {}}\n", "providers is not"),
        (HEAD + "gateway: {webhooks: {}}\nspec: {crds: {}}\n", "gateway.webhooks is not"),
        (HEAD + "gateway: {clusters: []}\nspec: {crds: {}}\n", "gateway.clusters is not"),
        (
            HEAD + "spec: {crds: {}, imports: [{motif: 'oci://ghcr.io/org/web:1'}]}\n",
            "Motifs from an OCI registry are not supported by orkestra_trio: it has no registry",
        ),
        (crd(extra="      imports: [{motif: web, oci: true}]\n"), "it has no registry access"),
        (crd(extra="      setup: [none.yaml]\n"), "file not found: none.yaml"),
        (
            crd(extra="      enrichAll: true\n      enrich: [pods]\n"),
            "set enrichAll or enrich, not both",
        ),
        (crd(extra="      serve: {config: {}}\n"), "serve.config is not"),
        (crd(extra="      serve: {clusters: [prod]}\n"), "serve.clusters is not"),
        (
            crd(box="        include: [../x.yaml]\n"),
            "an included file must lie inside the Katalog's directory",
        ),
        (crd(box="        include: [/etc/x.yaml]\n"), "named relative to the including file"),
        (crd(box="        reconcile: {constructor: {}}\n"), "constructor is not"),
        (
            crd(box="        reconcile: {hooks: {onReconcile: {}}}\n"),
            "Go hooks is not supported by orkestra_trio: they are compiled into Orkestra's binary",
        ),
        (crd(box="        providers: {}\n"), "providers is not"),
        (crd(box="        onReconcile: {storageClasses: []}\n"), "storageClasses is not"),
        (
            crd(
                box="        preReconcile:\n          external: [{name: f, url: 'http://x/'}]\n"
                "        onReconcile:\n          external: [{name: f, url: 'http://x/'}]\n"
            ),
            "external call 'f' is already declared at",
        ),
        (
            HEAD + "notes: [{name: loop, expression: 'loop'}]\nspec: {crds: {web: {apiTypes: "
            "{group: d.example.com, version: v1, kind: Web, plural: webs}, operatorBox: "
            "{onReconcile: {configMaps: [{data: {a: '{{ loop }}'}}]}}}}}\n",
            "function 'loop' not defined",
        ),
    ],
)
def test_refused_with_a_reason(tmp_path, text, message):
    found = issues(tmp_path, text)
    assert any(message in issue for issue in found), found


def test_both_layouts_load_to_the_same_model(tmp_path):
    gen_b = crd(
        box="""\
        reconciler: {workers: 3, resync: 1m, requeue: {after: 30s}}
        cross: [{crd: web, as: peer}]
        onReconcile:
          configMaps: [{name: x, data: {a: "1"}}]
        status: {fields: [{path: phase, value: Running}]}
        autoscale: {conditions: [{when: [{field: metrics.queueDepth, gt: "5"}], override: {workers: 6}}]}
        finalizers: [d.example.com/keep]
"""
    )
    gen_c = crd(
        box="""\
        observe:
          cross: [{crd: web, as: peer}]
        runtime:
          autoscale: {conditions: [{when: [{field: metrics.queueDepth, gt: "5"}], override: {workers: 6}}]}
          finalizers: [d.example.com/keep]
        reconcile:
          workers: 3
          resync: 1m
          requeue: {after: 30s}
          onReconcile:
            configMaps: [{name: x, data: {a: "1"}}]
        emit:
          status: {fields: [{path: phase, value: Running}]}
"""
    )
    boxes = []
    for name, text in (("b.yaml", gen_b), ("c.yaml", gen_c)):
        path = tmp_path / name
        path.write_text(text)
        boxes.append(load_katalog(path).crds["web"].operator_box)
    assert boxes[0] == boxes[1]
    assert boxes[0].reconciler.workers == 3 and boxes[0].finalizers == ("d.example.com/keep",)


def test_descriptive_keys_are_accepted(tmp_path):
    text = (
        HEAD.replace(
            "metadata: {name: t}",
            "metadata: {name: t, version: 1.0.0, author: me, description: d, tags: [a]}",
        )
        + "lifecycle: {maturity: stable}\nspec:\n  crds:\n    web:\n"
        + "      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}\n"
        + "      description: web sites\n      enabled: false\n"
        + "      operatorBox: {onReconcile: {configMaps: [{data: {a: b}}]}}\n"
    )
    path = tmp_path / "k.yaml"
    path.write_text(text)
    katalog = load_katalog(path)
    assert katalog.info["version"] == "1.0.0"
    assert katalog.crds["web"].description == "web sites"
    assert katalog.boxes == ()  # disabled: listed, not run


def test_orkestra_runtime_autoscale_shape(tmp_path):
    text = crd(
        box="""\
        runtime:
          autoscale:
            interval: 15s
            cooldown: 2m
            conditions:
              or:
                - {field: metrics.queueDepth, greaterThan: "200"}
                - {field: metrics.workersBusyPercent, greaterThanOrEqual: "90"}
              when:
                - {dayOfWeek: weekday}
            do: {workers: 12}
"""
    )
    path = tmp_path / "k.yaml"
    path.write_text(text)
    autoscale = load_katalog(path).crds["web"].operator_box.autoscale
    [condition] = autoscale.conditions
    assert condition.override.workers == 12
    assert len(condition.or_) == 2 and condition.when[0].operator == "dayOfWeek"
    assert autoscale.cooldown == 120.0
