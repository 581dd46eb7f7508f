"""The pure decisions of rollback (katalog/rollback.py) and the plan of a rolled-back CR."""

from pathlib import Path

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.model import Rollback
from orkestra_trio.katalog.plan import Observed, plan_reconcile
from orkestra_trio.katalog.rollback import (
    PREVIOUS_SPEC_ANNOTATION,
    ROLLBACK_GENERATION_ANNOTATION,
    can_roll_back,
    decode_spec,
    encode_spec,
    rolled_back,
    should_roll_back,
    success_patch,
    trigger_patch,
)

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: t}
spec:
  crds:
    web:
      apiTypes: {group: d.example.com, version: v1, kind: Web, plural: webs}
      operatorBox:
        rollBackOnError: true
        onCreate:
          configMaps:
            - {name: "{{ .metadata.name }}-kept", data: {image: "{{ .spec.image }}"}, reconcile: true}
            - {name: "{{ .metadata.name }}-once", data: {image: "{{ .spec.image }}"}}
          secrets:
            - {name: "{{ .metadata.name }}-pw", once: true, reconcile: true, stringData: {pw: x}}
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-live"
              data: {image: "{{ .spec.image }}", previous: "{{ .previous.spec.image }}"}
"""


def cr(spec, *, generation=2, annotations=None):
    return {
        "apiVersion": "d.example.com/v1",
        "kind": "Web",
        "metadata": {
            "name": "w",
            "namespace": "default",
            "uid": "u-1",
            "generation": generation,
            "annotations": annotations or {},
        },
        "spec": spec,
    }


def test_the_spec_round_trips_and_a_broken_annotation_reads_as_none():
    spec = {"image": "a:1", "replicas": 2, "nested": {"b": [1, 2]}}
    assert decode_spec(encode_spec(spec)) == spec
    assert encode_spec(spec) == encode_spec(dict(reversed(spec.items())))  # same spec, same text
    assert decode_spec("not base64!") is None
    assert decode_spec(encode_spec(["a list"])) is None  # type: ignore[arg-type]


def test_the_trigger_counts_consecutive_failures_within_the_window():
    three = Rollback()
    assert not should_roll_back(three, [1.0, 2.0], 2.0)
    assert should_roll_back(three, [1.0, 2.0, 3.0], 3.0)
    windowed = Rollback(failures=2, within=60.0)
    assert should_roll_back(windowed, [10.0, 50.0], 50.0)
    assert not should_roll_back(windowed, [10.0, 100.0], 100.0)  # 90 s apart: no


def test_annotations_written_and_read():
    good = encode_spec({"image": "a:1"})
    failing = cr({"image": "b:2"}, annotations={PREVIOUS_SPEC_ANNOTATION: good})
    assert can_roll_back(failing)
    assert not can_roll_back(cr({"image": "a:1"}, annotations={PREVIOUS_SPEC_ANNOTATION: good}))
    assert not can_roll_back(cr({"image": "b:2"}))  # no known-good spec
    patch = trigger_patch(failing)
    assert patch == {"metadata": {"annotations": {ROLLBACK_GENERATION_ANNOTATION: "2"}}}
    marked = cr(
        {"image": "b:2"},
        annotations={PREVIOUS_SPEC_ANNOTATION: good, **patch["metadata"]["annotations"]},
    )
    assert rolled_back(marked)
    assert not rolled_back({**marked, "metadata": {**marked["metadata"], "generation": 3}})
    # Success: record the spec, end the rollback; nothing when both are already so.
    after = success_patch(marked)
    assert after is not None
    written = after["metadata"]["annotations"]
    assert decode_spec(written[PREVIOUS_SPEC_ANNOTATION]) == {"image": "b:2"}
    assert written[ROLLBACK_GENERATION_ANNOTATION] is None
    settled = cr(
        {"image": "b:2"}, annotations={PREVIOUS_SPEC_ANNOTATION: written[PREVIOUS_SPEC_ANNOTATION]}
    )
    assert success_patch(settled) is None


def test_a_rolled_back_plan_applies_the_known_good_reapplied_entries(tmp_path: Path):
    path = tmp_path / "k.yaml"
    path.write_text(KATALOG)
    crd = load_katalog(path).crds["web"]
    annotations = {
        PREVIOUS_SPEC_ANNOTATION: encode_spec({"image": "good:1"}),
        ROLLBACK_GENERATION_ANNOTATION: "2",
    }
    plan = plan_reconcile(crd, Observed(cr({"image": "bad:2"}, annotations=annotations)))
    assert plan.rolled_back and plan.error is None
    present = {c.name: c.manifest["data"] for c in plan.children or () if c.present}
    # onCreate without reconcile: true and once Secrets are not re-applied.
    assert present == {
        "w-kept": {"image": "good:1"},
        "w-live": {"image": "good:1", "previous": "good:1"},
    }
    ready = plan.status["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "RolledBack")
    # Not rolled back (another generation): the ordinary plan, .previous at hand.
    annotations[ROLLBACK_GENERATION_ANNOTATION] = "1"
    plan = plan_reconcile(crd, Observed(cr({"image": "new:3"}, annotations=annotations)))
    assert not plan.rolled_back
    live = next(c for c in plan.children or () if c.name == "w-live")
    assert live.manifest["data"] == {"image": "new:3", "previous": "good:1"}
