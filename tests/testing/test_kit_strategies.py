"""Strategies: drawn CRs are what the CRD's schema accepts; fault schedules are well formed."""

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orkestra_trio.apiserver.schema import validate
from orkestra_trio.katalog import load_katalog
from orkestra_trio.testing.faults import ApiFault, BoxFault
from orkestra_trio.testing.strategies import (
    crd_schema,
    crs,
    fault_schedules,
    from_schema,
    object_names,
)

KATALOGS = Path(__file__).parent / "katalogs"
SHOP = load_katalog(KATALOGS / "shop.yaml").crds["shop"]
SCHEMA = crd_schema(SHOP)


@settings(max_examples=200)
@given(crs(SHOP))
def test_drawn_crs_pass_the_crd_schema(cr):
    assert cr["apiVersion"] == "kit.example.com/v1" and cr["kind"] == "Shop"
    assert cr["metadata"]["namespace"] == "default"
    assert validate(cr, SCHEMA) == []
    assert 1 <= cr["spec"]["size"] <= 9


@given(object_names())
def test_names_are_dns_labels(name):
    assert 1 <= len(name) <= 63
    assert name[0].isalnum() and name[-1].isalnum()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


@given(
    from_schema(
        {
            "type": "object",
            "required": ["port"],
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
                "when": {"type": "string", "format": "date-time", "nullable": True},
                "ids": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            },
        }
    )
)
def test_schema_features(value):
    assert "port" in value
    if "ratio" in value:
        assert 0 < value["ratio"] <= 1
    if value.get("ids"):
        assert len(set(value["ids"])) == len(value["ids"])


@given(st.data())
def test_fault_schedules(data):
    schedule = data.draw(fault_schedules(["a", "b"], max_faults=4, horizon=30))
    assert len(schedule) <= 4
    assert [f.at for f in schedule] == sorted(f.at for f in schedule)
    for fault in schedule:
        assert fault.box in ("a", "b") and 0 <= fault.at <= 30 and fault.duration > 0
        assert isinstance(fault.fault, BoxFault | ApiFault)
        assert fault.describe()


def test_crd_schema_sources(tmp_path):
    crd_file = KATALOGS / "shop-crd.yaml"
    from_file = crd_schema(crd_file)
    assert from_file == SCHEMA
    assert from_file["properties"]["spec"]["required"] == ["size"]
    generated = load_katalog(
        KATALOGS.parent.parent.parent / "tests" / "isolation" / "katalogs" / "isolation.yaml"
    )
    permissive = crd_schema(generated.crds["alpha"])  # no crdFile: the runtime's generated CRD
    assert permissive == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
