"""katalog/serve.py: the gateway's pure decisions (target, token, CR build, form schema)."""

from __future__ import annotations

import json

import pytest

from orkestra_trio.katalog import KatalogError
from orkestra_trio.katalog.loader import load_katalog, load_katalogs
from orkestra_trio.katalog.render import build_context
from orkestra_trio.katalog.serve import (
    build_from_intent,
    form_schema,
    prepare_cr,
    resolve_cr,
    resolve_kind,
    resolve_target,
    token_denial,
)

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: s}
gateway:
  api:
    enabled: true
    auth: {tokens: [{name: ci, token: "${CI}"}, {name: ro, token: "${RO}"}, {name: ns, token: "${NS}"}]}
spec:
  crds:
    app:
      apiTypes: {group: s.example.com, version: v1, kind: AppRequest, plural: apprequests}
      serve:
        enabled: true
        name: '{{ .request.repo | replace "/" "-" }}'
        namespace: team-{{ .request.team }}
        ignore: [spec.internal]
        tokens:
          ci: {permissions: {global: ["*"]}}
          ro: {permissions: {global: [get], resources: [list]}}
          ns: {namespaces: [team-a], permissions: {global: [create]}}
        fields:
          repo: {path: source.repository, required: true, order: 2}
          env: {enum: [staging, production], required: true, order: 1}
          ticket:
            required: true
            when: [{field: env, equals: production}]
          locked: {disabled: managed by the platform}
          replicas: {override: 2}
        annotations:
          cost: {type: string}
    cluster:
      apiTypes: {group: s.example.com, version: v1, kind: Zone, plural: zones}
      namespaced: false
      serve: {enabled: true, target: zone}
"""


@pytest.fixture
def crds(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(KATALOG)
    return list(load_katalog(path).crds.values())


def test_targets_resolve_by_name_crd_key_kind_and_apiversion(crds):
    assert resolve_target(crds, "apprequest").crd.key == "app"  # default: the kind, lowercased
    assert resolve_target(crds, "app").target.name == "apprequest"  # a CRD key: its primary
    assert resolve_target(crds, "zone").crd.key == "cluster"
    assert resolve_target(crds, "nope") is None
    assert resolve_kind(crds, "AppRequest").crd.key == "app"
    assert resolve_kind(crds, "zones").crd.key == "cluster"
    assert resolve_cr(crds, "s.example.com/v1", "Zone").crd.key == "cluster"
    assert resolve_cr(crds, "s.example.com/v2", "Zone") is None


def test_a_token_grant_class_list_wins_over_global_and_namespaces_narrow(crds):
    app = resolve_target(crds, "app")
    assert token_denial(app, "ci", "delete", "resources", "x") is None
    assert token_denial(app, "ro", "get", "schema", "") is None  # schema: global
    assert token_denial(app, "ro", "list", "resources", "") is None
    assert token_denial(app, "ro", "get", "resources", "") is not None  # resources: [list] only
    assert token_denial(app, "ns", "create", "resources", "team-a") is None
    assert "namespace" in token_denial(app, "ns", "create", "resources", "team-b")
    assert "no access" in token_denial(app, "stranger", "get", "resources", "")
    # A CRD without serve.tokens: any gateway token may.
    assert token_denial(resolve_target(crds, "zone"), "ro", "delete", "resources", "") is None


def test_the_intent_becomes_a_cr_named_and_placed_by_serve_name_and_namespace(crds):
    app = resolve_target(crds, "app")
    intent = {
        "target": "app",
        "name": "ignored",
        "repo": "org/shop",
        "env": "staging",
        "team": "a",
        "cost": "42",
        "extra": {"k": 1},
    }
    cr, problems = build_from_intent(app, intent)
    assert problems == []
    assert cr["metadata"]["name"] == "org-shop"  # serve.name wins over the caller's name
    assert cr["metadata"]["namespace"] == "team-a"
    assert cr["metadata"]["annotations"]["cost"] == "42"
    assert cr["spec"] == {
        "source": {"repository": "org/shop"},
        "env": "staging",
        "team": "a",
        "extra": {"k": 1},
        "replicas": 2,
    }
    recorded = json.loads(cr["metadata"]["annotations"]["orkestra.orkspace.io/serve-intent"])
    assert recorded == intent
    # .request in a template of the reconcile is the intent.
    assert build_context(cr)["request"] == intent
    assert build_context({"metadata": {}})["request"] == {}


def test_violations_in_field_order_and_hidden_fields_are_not_required(crds):
    app = resolve_target(crds, "app")
    _, problems = build_from_intent(app, {"team": "a", "env": "qa", "locked": 1, "internal": 2})
    assert [(p.field, p.message) for p in problems] == [
        ("spec.locked", "locked is disabled: managed by the platform"),
        ("spec.internal", "internal is not a serve field"),
        ("spec.env", "env must be one of staging, production"),
        ("spec.source.repository", "repo is required"),
        ("metadata.name", "name is required"),
    ]
    _, problems = build_from_intent(app, {"team": "a", "env": "production", "repo": "o/r"})
    assert [p.field for p in problems] == ["spec.ticket"]  # shown in production only


def test_full_cr_mode_keeps_the_cr_and_decides_identity(crds):
    zone = resolve_target(crds, "zone")
    body = {
        "apiVersion": "s.example.com/v1",
        "kind": "Zone",
        "metadata": {"name": "eu", "namespace": "x"},
        "spec": {"a": 1},
    }
    cr, problems = prepare_cr(zone, body)
    assert problems == []
    assert cr["metadata"]["name"] == "eu" and "namespace" not in cr["metadata"]
    annotations = cr["metadata"]["annotations"]
    assert annotations["orkestra.orkspace.io/serve-target"] == "zone"
    assert "orkestra.orkspace.io/serve-intent" not in annotations
    assert body["metadata"] == {"name": "eu", "namespace": "x"}  # the request is not changed


def test_the_form_lists_serve_fields_in_order_then_the_schemas_others(crds):
    app = resolve_target(crds, "app")
    spec_schema = {
        "properties": {
            "env": {"type": "string", "description": "Environment"},
            "size": {"type": "integer", "description": "Size"},
            "internal": {"type": "string"},
        },
        "required": ["size"],
    }
    form = form_schema(app, spec_schema)
    names = [f["name"] for f in form["fields"]]
    assert names == ["env", "repo", "ticket", "locked", "replicas", "size", "cost"]
    env, repo, ticket = form["fields"][:3]
    assert env["type"] == "enum" and env["enum"] == ["staging", "production"]
    assert env["label"] == "Environment"  # from the schema's description
    assert repo["path"] == "spec.source.repository"
    assert ticket["when"] == [
        {"field": "env", "operator": "equals", "value": "production", "negate": False}
    ]
    size = form["fields"][5]
    assert size["type"] == "integer" and size["required"] is True
    assert form["fields"][-1]["path"] == "metadata.annotations.cost"
    assert form["requireServeName"] is False and form["namespaced"] is True


def gateway_katalog(tmp_path, tokens: str):
    """A Katalog file whose gateway API has ``tokens`` (YAML list items, 8 spaces in)."""
    path = tmp_path / "k.yaml"
    path.write_text(GATEWAY_HEAD + tokens + GATEWAY_TAIL)
    return path


GATEWAY_HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: o}
gateway:
  api:
    enabled: true
    auth:
      tokens:
"""
GATEWAY_TAIL = """\
spec:
  crds:
    app:
      apiTypes: {group: s.example.com, version: v1, kind: App, plural: apps}
"""


def test_oidc_token_kinds_read_to_an_issuer_an_audience_and_claims(tmp_path):
    path = gateway_katalog(
        tmp_path,
        """\
        - {name: gh, githubOIDC: {allow: {repository: org/app, ref: refs/heads/main}}}
        - {name: gl, gitlabOIDC: {allow: {namespacePath: grp, refProtected: true}}}
        - name: vault
          vaultOIDC: {url: "https://vault.example/", audience: gw, allow: {entityName: ci, allow: {team: a}}}
        - {name: any, oidc: {issuer: "https://idp.example", allow: {email: a@b.c}}}
""",
    )
    tokens = {t.name: t for t in load_katalog(path).gateway.tokens}
    assert tokens["gh"].oidc_issuer == "https://token.actions.githubusercontent.com"
    assert dict(tokens["gh"].oidc_allow) == {"repository": "org/app", "ref": "refs/heads/main"}
    assert tokens["gl"].oidc_issuer == "https://gitlab.com"
    assert dict(tokens["gl"].oidc_allow) == {"namespace_path": "grp", "ref_protected": "true"}
    vault = tokens["vault"]
    assert vault.oidc_issuer == "https://vault.example/v1/identity/oidc"
    assert vault.oidc_audience == "gw"
    assert dict(vault.oidc_allow) == {"entity_name": "ci", "team": "a"}
    assert dict(tokens["any"].oidc_allow) == {"email": "a@b.c"}


@pytest.mark.parametrize(
    "entry",
    [
        "githubOIDC: {}",
        "gitlabOIDC: {allow: {}}",
        'vaultOIDC: {url: "https://vault.example"}',
    ],
)
def test_a_ci_oidc_token_without_allow_claims_is_a_load_error(tmp_path, entry):
    # GitHub, GitLab and Vault sign tokens for every repository, project and entity
    # they serve: an entry that allows them all is refused, as in Orkestra.
    path = gateway_katalog(tmp_path, f"        - {{name: ci, {entry}}}\n")
    with pytest.raises(KatalogError) as caught:
        load_katalog(path)
    [issue] = caught.value.issues
    kind = entry.split(":")[0]
    assert (issue.line, issue.path) == (9, f"gateway.api.auth.tokens[0].{kind}")
    assert f"{kind}.allow is empty" in issue.message


def test_a_generic_oidc_token_without_allow_claims_loads_with_a_warning(tmp_path):
    path = gateway_katalog(
        tmp_path, '        - {name: idp, oidc: {issuer: "https://idp.example"}}\n'
    )
    loaded = load_katalogs([path])
    [warning] = loaded.warnings
    assert "accepts any token its issuer signs" in warning.message
