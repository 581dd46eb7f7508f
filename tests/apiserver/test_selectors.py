"""Label and field selectors follow kube-apiserver's parsing and matching rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orkestra_trio.apiserver.kinds import builtin
from orkestra_trio.apiserver.selectors import parse_field_selector, supported_field_labels
from orkestra_trio.katalog.labelselector import (
    LabelSelector,
    SelectorError,
    label_selector_from_match,
    parse_label_selector,
)

PODS = builtin("", "pods")
EVENTS = builtin("", "events")
EVENTS_V1 = builtin("events.k8s.io", "events")
CONFIGMAPS = builtin("", "configmaps")


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("", {"a": "b"}, True),
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),  # absent label matches !=
        ("app!=web", {"app": "web"}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env in (prod,staging)", {"env": "dev"}, False),
        ("env in (prod)", {}, False),
        ("env in (prod,)", {"env": ""}, True),
        ("env in ()", {"env": ""}, True),
        ("env notin (prod)", {}, True),  # absent label matches notin
        ("env notin (prod,dev)", {"env": "dev"}, False),
        ("env", {"env": ""}, True),
        ("env", {}, False),
        ("!env", {}, True),
        ("!env", {"env": "x"}, False),
        ("app=web,tier=fe", {"app": "web", "tier": "fe"}, True),
        ("app=web,tier=fe", {"app": "web", "tier": "be"}, False),
        ("app=", {"app": ""}, True),
        ("app=", {"app": "x"}, False),
        ("example.com/owner=me", {"example.com/owner": "me"}, True),
        ("n>3", {"n": "4"}, True),
        ("n>3", {"n": "3"}, False),
        ("n<3", {"n": "x"}, False),
        ("  app = web ,  !gone ", {"app": "web"}, True),
    ],
)
def test_label_selector_matching(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


@pytest.mark.parametrize(
    "bad",
    [
        "app=web,",
        ",",
        "app in web",
        "app in (a",
        "app in (a b)",
        "app=a b",
        "-bad=x",
        "app=-x",
        "UPPER.example.com/x=y",
        "app>x",
        "app exists",
        "a" * 64 + "=x",
        "app=" + "v" * 64,
        "!",
    ],
)
def test_label_selector_errors(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_label_selector_format_is_canonical() -> None:
    sel = parse_label_selector("z in (b,a),app==web,!gone,x!=1,has")
    assert sel.format() == "app=web,!gone,has,x!=1,z in (a,b)"
    assert str(LabelSelector()) == ""


def test_selector_from_label_selector_object() -> None:
    sel = label_selector_from_match(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert sel.matches({"app": "web", "tier": "fe"})
    assert not sel.matches({"app": "web", "tier": "fe", "legacy": "1"})
    assert label_selector_from_match(None).matches({"anything": "x"})
    with pytest.raises(SelectorError):
        label_selector_from_match({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})


_alnum = st.sampled_from("abcxyz019")
_names = st.builds(
    lambda first, middle, last: first + middle + last,
    _alnum,
    st.text(alphabet="ab9._-", max_size=6),
    _alnum,
)
_values = st.one_of(st.just(""), _names)
_keys = st.one_of(
    _names, st.builds(lambda p, n: f"{p}.example.io/{n}", st.sampled_from(["a", "b1"]), _names)
)


@st.composite
def _requirement_texts(draw: st.DrawFn) -> str:
    key = draw(_keys)
    form = draw(st.sampled_from(["eq", "ne", "in", "notin", "exists", "absent"]))
    if form == "eq":
        return f"{key}={draw(_values)}"
    if form == "ne":
        return f"{key}!={draw(_values)}"
    if form in ("in", "notin"):
        vals = draw(st.lists(_names, min_size=1, max_size=3))
        return f"{key} {form} ({','.join(vals)})"
    return key if form == "exists" else f"!{key}"


@given(st.lists(_requirement_texts(), max_size=5))
def test_label_selector_format_parse_round_trip(parts: list[str]) -> None:
    sel = parse_label_selector(",".join(parts))
    again = parse_label_selector(sel.format())
    assert again.format() == sel.format()
    assert sorted(again.requirements, key=repr) == sorted(sel.requirements, key=repr)


@given(
    st.lists(_requirement_texts(), max_size=4),
    st.dictionaries(_keys, _values, max_size=4),
)
def test_label_selector_is_a_conjunction(parts: list[str], labels: dict[str, str]) -> None:
    whole = parse_label_selector(",".join(parts)).matches(labels)
    assert whole == all(parse_label_selector(p).matches(labels) for p in parts)


# ---------------------------------------------------------------- field selectors


def test_field_selector_metadata() -> None:
    obj = {"metadata": {"name": "a", "namespace": "ns1"}}
    assert parse_field_selector("metadata.name=a", CONFIGMAPS).matches(obj)
    assert parse_field_selector("metadata.name==a", CONFIGMAPS).matches(obj)
    assert not parse_field_selector("metadata.name!=a", CONFIGMAPS).matches(obj)
    assert parse_field_selector("metadata.namespace=ns1,metadata.name=a", CONFIGMAPS).matches(obj)
    assert not parse_field_selector("metadata.namespace=ns2", CONFIGMAPS).matches(obj)
    assert parse_field_selector("", CONFIGMAPS).matches(obj)
    assert parse_field_selector("", CONFIGMAPS).empty


def test_field_selector_events_involved_object_like_kubectl_describe() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {
            "kind": "Widget",
            "namespace": "default",
            "name": "w1",
            "uid": "u-1",
            "apiVersion": "example.com/v1",
        },
        "reason": "Created",
        "type": "Normal",
        "source": {"component": "orkestra"},
        "reportingComponent": "orkestra",
    }
    text = (
        "involvedObject.name=w1,involvedObject.namespace=default,"
        "involvedObject.kind=Widget,involvedObject.uid=u-1"
    )
    assert parse_field_selector(text, EVENTS).matches(event)
    assert not parse_field_selector("involvedObject.uid=u-2", EVENTS).matches(event)
    assert parse_field_selector("reason=Created,type=Normal", EVENTS).matches(event)
    assert parse_field_selector("source=orkestra", EVENTS).matches(event)
    assert parse_field_selector("reportingComponent=orkestra", EVENTS).matches(event)
    # A missing field compares as the empty string.
    assert parse_field_selector("involvedObject.fieldPath=", EVENTS).matches(event)
    # events.k8s.io/v1 names the same fields regarding.*; one store holds either shape.
    assert parse_field_selector("regarding.name=w1", EVENTS_V1).matches(event)
    v1_event = {"metadata": {"name": "e2"}, "regarding": {"name": "w1", "kind": "Widget"}}
    assert parse_field_selector("involvedObject.name=w1", EVENTS).matches(v1_event)
    assert parse_field_selector("regarding.kind=Widget", EVENTS_V1).matches(v1_event)


def test_field_selector_pods() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "hostNetwork": True},
        "status": {"phase": "Running"},
    }
    assert parse_field_selector("status.phase=Running", PODS).matches(pod)
    assert parse_field_selector("status.phase!=Pending", PODS).matches(pod)
    assert parse_field_selector("spec.nodeName=n1", PODS).matches(pod)
    assert parse_field_selector("spec.hostNetwork=true", PODS).matches(pod)
    assert parse_field_selector("spec.nodeName=", PODS).matches({"spec": {}})


def test_unsupported_field_uses_the_servers_message() -> None:
    with pytest.raises(SelectorError, match=r"^field label not supported: spec.data$"):
        parse_field_selector("spec.data=x", CONFIGMAPS)
    with pytest.raises(SelectorError, match=r"field label not supported: involvedObject\.name"):
        parse_field_selector("involvedObject.name=x", PODS)
    with pytest.raises(SelectorError, match=r"field label not supported: status\.phase"):
        parse_field_selector("status.phase=Running", EVENTS)
    assert "involvedObject.name" in supported_field_labels(EVENTS)
    assert "regarding.name" in supported_field_labels(EVENTS_V1)


def test_field_selector_syntax_errors_and_escapes() -> None:
    with pytest.raises(SelectorError):
        parse_field_selector("metadata.name", CONFIGMAPS)
    sel = parse_field_selector(r"metadata.name=a\,b\=c", CONFIGMAPS)
    assert sel.matches({"metadata": {"name": "a,b=c"}})
    assert sel.format() == r"metadata.name=a\,b\=c"
    with pytest.raises(SelectorError):
        parse_field_selector(r"metadata.name=a\x", CONFIGMAPS)
