"""katalog/secrets.py: when a generated Secret (``tls``, ``rotateAfter``) is made again, and the
load errors of the Secret keys (``fromSecret`` too) (ORKESTRA-LANGUAGE.md 1.6)."""

from __future__ import annotations

import datetime

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.katalog.plan import Observed, plan_document, plan_reconcile
from orkestra_trio.katalog.secrets import (
    GENERATED_AT_ANNOTATION,
    TLS_SPEC_ANNOTATION,
    SecretSpecError,
    decide,
)
from orkestra_trio.runtime.certificates import with_certificates

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TLS = {"tls": {"commonName": "a.example.com", "dnsNames": ["a.example.com"], "validFor": "2h"}}


def made(rendered: dict, at: datetime.datetime) -> dict:
    """The Secret as the cluster holds it after ``decide`` made it at ``at``."""
    generation = decide(rendered, None, at)
    return {
        "metadata": {"annotations": dict(generation.annotations)},
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"} if "tls" in rendered else {},
    }


def test_absent_it_is_made_with_a_request_and_the_stamps():
    generation = decide(TLS, None, NOW)
    assert generation.due and generation.request is not None
    assert generation.request.common_name == "a.example.com"
    assert generation.request.not_after - generation.request.not_before == datetime.timedelta(
        hours=2
    )
    assert generation.annotations[GENERATED_AT_ANNOTATION] == "2026-12-04T12:00:00Z"
    assert generation.renew_in == 7200.0


def test_kept_until_it_expires_then_made_again():
    cached = made(TLS, NOW)
    kept = decide(TLS, cached, NOW + datetime.timedelta(minutes=90))
    assert not kept.due and kept.request is None
    assert kept.kept_data == cached["data"]
    assert kept.renew_in == 1800.0
    assert decide(TLS, cached, NOW + datetime.timedelta(hours=2)).due


def test_a_changed_tls_block_or_missing_data_makes_it_again():
    cached = made(TLS, NOW)
    changed = {"tls": {**TLS["tls"], "dnsNames": ["b.example.com"]}}
    assert decide(changed, cached, NOW).due
    assert decide(TLS, {**cached, "data": {}}, NOW).due
    assert cached["metadata"]["annotations"][TLS_SPEC_ANNOTATION]


def test_rotate_after_counts_from_generated_at_else_creation():
    rendered = {"rotateAfter": "1d"}
    cached = made(rendered, NOW)
    assert not decide(rendered, cached, NOW + datetime.timedelta(hours=23)).due
    assert decide(rendered, cached, NOW + datetime.timedelta(days=1)).due
    created = {"metadata": {"creationTimestamp": "2026-12-01T12:00:00Z"}}
    assert decide(rendered, created, NOW).due


def test_dns_names_default_to_the_common_name():
    generation = decide({"tls": {"commonName": "solo.example.com"}}, None, NOW)
    assert generation.request is not None
    assert generation.request.dns_names == ("solo.example.com",)


@pytest.mark.parametrize(
    ("rendered", "field"),
    [
        ({"tls": {"commonName": ""}}, "tls.commonName"),
        ({"tls": {"commonName": "x", "validFor": "soon"}}, "tls.validFor"),
        ({"rotateAfter": "0s"}, "rotateAfter"),
    ],
)
def test_bad_rendered_values_name_their_field(rendered, field):
    with pytest.raises(SecretSpecError) as caught:
        decide(rendered, None, NOW)
    assert caught.value.field == field


HEAD = (
    "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: t}\n"
    "spec:\n  crds:\n    web:\n      apiTypes: {group: d.example.com, version: v1, "
    "kind: Web, plural: webs}\n      operatorBox:\n        onReconcile:\n          secrets:\n"
)


@pytest.mark.parametrize(
    ("entry", "where", "words"),
    [
        ("{name: a, tls: {commonName: x, validFor: forever}}", "tls.validFor", "invalid duration"),
        ("{name: a, rotateAfter: -1h}", "rotateAfter", "negative"),
        ("{name: a, tls: {dnsNames: [x]}}", "tls", "commonName"),
        ("{name: a, tls: {commonName: x, ttl: 1h}}", "tls", "ttl"),
        ("{name: a, fromNamespace: x}", "fromNamespace", "fromNamespace names where"),
        ("{name: a, fromSecret: x, tls: {commonName: y}}", "fromSecret", "keep one"),
        ("{name: a, fromSecret: [x]}", "fromSecret", "expected a Secret name"),
    ],
)
def test_bad_keys_are_one_line_load_errors(tmp_path, entry, where, words):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + "            - " + entry + "\n")
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    [line] = [m for m in str(caught.value).splitlines() if words in m]
    assert line.startswith(f"{path}:11:") and f"secrets[0].{where}" in line, line


def test_the_plan_asks_for_the_certificate_and_reconciles_when_it_expires(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(
        HEAD + "            - {name: w-tls, tls: {commonName: '{{ .metadata.name }}.local', "
        "validFor: 90d}}\n"
    )
    crd = load_katalog(path).crds["web"]
    cr = {"kind": "Web", "metadata": {"name": "w", "namespace": "default"}, "spec": {}}
    plan = plan_reconcile(crd, Observed(cr, now="2026-12-04T12:00:00Z"))
    [child] = plan.children
    assert child.manifest["type"] == "kubernetes.io/tls"
    assert child.generate is not None and child.generate.common_name == "w.local"
    assert plan.renew_after == plan.requeue_after == 90 * 86400.0
    [shown] = plan_document(plan)["children"]
    assert "CN=w.local" in shown["generate"]


def test_to_namespaces_copies_are_the_same_secret(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(
        HEAD + "            - {name: pw, once: true, rotateAfter: 1h, toNamespaces: [b, c],\n"
        "               data: {password: '{{ randomAlphanumeric 16 }}'}}\n"
        "            - {name: cert, tls: {commonName: x}, toNamespaces: [b]}\n"
    )
    crd = load_katalog(path).crds["web"]
    cr = {"kind": "Web", "metadata": {"name": "w", "namespace": "a"}, "spec": {}}
    plan = plan_reconcile(crd, Observed(cr, now="2026-12-04T12:00:00Z"))
    passwords = [c for c in plan.children if c.name == "pw"]
    assert [c.namespace for c in passwords] == ["a", "b", "c"]
    assert len({c.manifest["data"]["password"] for c in passwords}) == 1
    stamps = {c.manifest["metadata"]["annotations"][GENERATED_AT_ANNOTATION] for c in passwords}
    assert stamps == {"2026-12-04T12:00:00Z"}
    certs = [c for c in plan.children if c.name == "cert"]
    assert certs[0].generate is certs[1].generate is not None
    # The runtime makes one certificate for the request they share.
    made = with_certificates(certs)
    assert made[0].manifest["data"] == made[1].manifest["data"]
    assert set(made[0].manifest["data"]) == {"tls.crt", "tls.key"}
