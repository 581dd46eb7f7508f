"""The security: block's decisions as pure functions (katalog/security.py, katalog/protection.py)."""

from pathlib import Path

import pytest

from orkestra_trio.katalog import load_katalogs
from orkestra_trio.katalog.protection import (
    deletion_protection,
    namespace_guards,
    protected_crd_names,
)
from orkestra_trio.katalog.security import (
    deletion_denial,
    matches_namespace,
    namespace_denial,
    strict_mode_denial,
)

SECURITY = Path(__file__).parents[1] / "compat" / "katalogs" / "security.yaml"
ADMISSION = Path(__file__).parents[1] / "compat" / "katalogs" / "admission.yaml"


def obj(**labels):
    return {"metadata": {"name": "x", "namespace": "ns", "labels": labels}}


@pytest.mark.parametrize(
    ("namespace", "pattern", "matches"),
    [
        ("kube-system", "kube-*", True),
        ("kube", "kube-*", False),
        ("team-system", "*-system", True),
        ("system", "*-system", False),
        ("apps", "apps", True),
        ("apps-2", "apps", False),
    ],
)
def test_namespace_patterns_are_exact_prefix_or_suffix(namespace, pattern, matches):
    assert matches_namespace(namespace, pattern) is matches


def test_restricted_wins_over_allowed_and_empty_allowed_allows_all():
    assert namespace_denial("Vault", "kube-x", ["kube-*"], ["kube-x"]) is not None
    assert namespace_denial("Vault", "anything", [], []) is None
    assert "allowedNamespaces: a, b" in namespace_denial("Vault", "c", [], ["a", "b"])
    assert namespace_denial("Vault", "", ["*"], []) is None  # a cluster-scoped object


def test_deletion_is_refused_by_label_value_or_by_crd_name():
    assert deletion_denial("ConfigMap", obj(**{"orkestra.io/deletion-protection": "true"}))
    assert deletion_denial("ConfigMap", obj(**{"orkestra.io/deletion-protection": "false"})) is None
    assert deletion_denial("ConfigMap", obj()) is None
    crd = {"metadata": {"name": "vaults.sec.example.com"}}
    assert deletion_denial("CustomResourceDefinition", crd, {"vaults.sec.example.com"})
    assert deletion_denial("CustomResourceDefinition", crd, {"other.sec.example.com"}) is None


def test_strict_mode_refuses_removing_or_changing_the_label_unless_exempt():
    on = obj(**{"orkestra.io/deletion-protection": "true"})
    assert strict_mode_denial("Vault", on, obj())
    assert strict_mode_denial("Vault", on, obj(**{"orkestra.io/deletion-protection": "no"}))
    assert (
        strict_mode_denial("Vault", on, obj(**{"orkestra.io/strict-mode-exempt": "true"})) is None
    )
    assert strict_mode_denial("Vault", on, on) is None  # the label kept
    assert strict_mode_denial("Vault", obj(), obj()) is None  # never protected
    assert strict_mode_denial("Vault", obj(), on) is None  # protecting is fine


def test_the_set_protects_only_the_katalogs_that_ask():
    katalogs = load_katalogs([SECURITY, ADMISSION])
    protection = deletion_protection(katalogs)
    assert protection is not None and protection.strict_mode
    assert protected_crd_names(katalogs) == {"vaults.sec.example.com"}
    [guard] = namespace_guards(katalogs)
    assert guard.crd.key == "vault"
    assert guard.restricted == ("kube-*", "secrets")
    assert guard.allowed == ("default", "team-a", "secrets", "kube-public")
    assert not katalogs.crds["site"].deletion_protected
    assert deletion_protection(load_katalogs([ADMISSION])) is None
