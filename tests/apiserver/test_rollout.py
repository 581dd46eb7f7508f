"""The Deployment/ReplicaSet decisions of registry/rollout.py, as pure functions."""

from hypothesis import given, settings
from hypothesis import strategies as st

from orkestra_trio.apiserver.registry import rollout


def deployment(image="nginx:1", replicas=2, limit=None, annotations=None):
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]},
        },
    }
    if limit is not None:
        spec["revisionHistoryLimit"] = limit
    meta = {"name": "web", "namespace": "default", "uid": "dep-uid"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def test_a_new_deployment_gets_a_replicaset_at_revision_one():
    plan = rollout.plan_rollout(deployment(), [])
    rs = plan.create
    assert rs["metadata"]["annotations"][rollout.REVISION] == "1"
    assert rs["spec"]["replicas"] == 2
    pod_hash = rs["spec"]["template"]["metadata"]["labels"][rollout.HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", rollout.HASH_LABEL: pod_hash}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == "dep-uid"
    assert plan.deployment_revision == "1"


def test_a_new_template_scales_the_old_replicaset_to_zero():
    first = rollout.new_replicaset(deployment("nginx:1"), 1)
    plan = rollout.plan_rollout(deployment("nginx:2"), [first])
    assert plan.create["metadata"]["annotations"][rollout.REVISION] == "2"
    assert [(name, rs["spec"]["replicas"]) for name, rs in plan.update] == [
        (first["metadata"]["name"], 0)
    ]


def test_going_back_to_an_old_template_reuses_its_replicaset_under_a_new_revision():
    first = rollout.new_replicaset(deployment("nginx:1"), 1)
    first["spec"]["replicas"] = 0
    second = rollout.new_replicaset(deployment("nginx:2"), 2)
    # kubectl rollout undo sends Go's zero values back (creationTimestamp: null, resources: {}).
    undone = deployment("nginx:1")
    undone["spec"]["template"]["metadata"]["creationTimestamp"] = None
    undone["spec"]["template"]["spec"]["containers"][0]["resources"] = {}
    plan = rollout.plan_rollout(undone, [first, second])
    assert plan.create is None
    updates = dict(plan.update)
    assert updates[first["metadata"]["name"]]["metadata"]["annotations"][rollout.REVISION] == "3"
    assert updates[first["metadata"]["name"]]["spec"]["replicas"] == 2
    assert updates[second["metadata"]["name"]]["spec"]["replicas"] == 0
    assert plan.deployment_revision == "3"


def test_old_replicasets_beyond_the_history_limit_are_deleted_oldest_first():
    old = [rollout.new_replicaset(deployment(f"nginx:{i}"), i) for i in (1, 2, 3)]
    for rs in old:
        rs["spec"]["replicas"] = 0
    plan = rollout.plan_rollout(deployment("nginx:4", limit=1), old)
    assert plan.delete == (old[0]["metadata"]["name"], old[1]["metadata"]["name"])


def test_a_converged_deployment_needs_nothing():
    dep = deployment(annotations={rollout.REVISION: "1"})
    rs = rollout.new_replicaset(dep, 1)
    assert rollout.plan_rollout(dep, [rs]) == rollout.RolloutPlan()


def test_scale_down_removes_the_youngest_pods():
    pods = [
        {"metadata": {"name": n, "creationTimestamp": t}}
        for n, t in (("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z"))
    ]
    assert rollout.pods_to_remove(pods, 1) == ["b"]
    assert rollout.pods_to_remove(pods, 2) == []


def test_a_pod_turns_running_and_ready_once():
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Pending"},
    }
    status = rollout.running_status(pod, "2026-01-01T00:00:00Z", "10.244.0.1")
    assert status["phase"] == "Running"
    assert {c["type"] for c in status["conditions"] if c["status"] == "True"} >= {
        "Ready",
        "ContainersReady",
    }
    assert status["containerStatuses"][0]["ready"] is True
    assert rollout.running_status({**pod, "status": status}, "later", "10.244.0.2") is None


def statefulset(image="db:1", replicas=2):
    sts = deployment(image, replicas)
    sts["kind"] = "StatefulSet"
    sts["metadata"]["name"] = "db"
    sts["spec"]["serviceName"] = "db"
    return sts


def test_statefulset_pods_have_stable_names_and_are_replaced_on_a_new_template():
    sts = statefulset()
    pod = rollout.statefulset_pod(sts, 1)
    assert pod["metadata"]["name"] == "db-1"
    assert pod["metadata"]["labels"][rollout.POD_NAME_LABEL] == "db-1"
    assert pod["spec"]["hostname"] == "db-1" and pod["spec"]["subdomain"] == "db"
    pods = [rollout.statefulset_pod(sts, i) for i in range(3)]
    assert rollout.statefulset_pods_to_remove(sts, pods, 2) == ["db-2"]
    newer = statefulset("db:2")
    assert rollout.statefulset_pods_to_remove(newer, pods[:2], 2) == ["db-1", "db-0"]


_LEAF = st.one_of(
    st.none(), st.integers(0, 2), st.sampled_from(["a", "b", ""]), st.just({}), st.just([])
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=12,
)
_TEMPLATE = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries(
            {},
            optional={
                "labels": st.dictionaries(
                    st.sampled_from([rollout.HASH_LABEL, "app"]), st.sampled_from("12"), max_size=2
                ),
                "name": _VALUE,
            },
        ),
        "spec": _VALUE,
        "x": _VALUE,
    },
)


@settings(max_examples=300)
@given(_TEMPLATE, _TEMPLATE)
def test_same_template_is_equality_of_the_normalized_templates(a, b):
    """The in-place walk answers exactly what comparing normalized copies answers."""
    expected = rollout._without_hash(a) == rollout._without_hash(b)
    assert rollout.same_template({"spec": {"template": a}}, {"spec": {"template": b}}) == expected


def test_same_template_remembers_stored_versions_only():
    def stored(uid, version, generation, image):
        return {
            "metadata": {"uid": uid, "resourceVersion": version, "generation": generation},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
        }

    rs = stored("rs", "5", 1, "nginx:1")
    assert rollout.same_template(rs, stored("d", "7", 1, "nginx:1"))
    # The Deployment's next version (or an update in flight: new generation, old version).
    assert not rollout.same_template(rs, stored("d", "9", 2, "nginx:2"))
    assert not rollout.same_template(rs, stored("d", "7", 2, "nginx:2"))
    # Objects never stored are compared each time.
    fresh = {"spec": rs["spec"]}
    assert rollout.same_template(fresh, stored("d", "7", 1, "nginx:1"))
    assert not rollout.same_template(fresh, {"spec": stored("d", "7", 1, "nginx:2")["spec"]})
