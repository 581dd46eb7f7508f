"""`manifests` for a Katalog with ``gateway.api``: the port, the token variables, the rights."""

from __future__ import annotations

from pathlib import Path

import yaml

from orkestra_trio.cli import main
from orkestra_trio.deploy.rbac import derive_rights, grants_of, policy_rules
from orkestra_trio.katalog import load_katalogs

GATEWAY = Path(__file__).parents[1] / "compat" / "katalogs" / "gateway.yaml"
WEBSITE = Path(__file__).parents[2] / "katalogs" / "website.yaml"


def objects_of(capsys, *paths):
    assert main(["manifests", *map(str, paths), "--namespace", "ops"]) == 0
    return [o for o in yaml.safe_load_all(capsys.readouterr().out) if o]


def one(objects, kind):
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def test_the_gateway_gets_its_port_service_port_and_token_variables(capsys):
    objects = objects_of(capsys, GATEWAY)
    deployment = one(objects, "Deployment")
    name = deployment["metadata"]["name"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--gateway-listen") + 1] == "0.0.0.0:8090"
    assert {"name": "gateway", "containerPort": 8090, "protocol": "TCP"} in container["ports"]
    service = one(objects, "Service")
    assert {"name": "gateway", "port": 8090, "targetPort": "gateway", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    # token: ${VAR} entries read VAR from the Secret <name>-gateway; secretRef ones do not.
    tokens = {e["name"]: e["valueFrom"] for e in container["env"] if e["name"].startswith("ORK_")}
    assert tokens == {
        var: {"secretKeyRef": {"name": f"{name}-gateway", "key": var}}
        for var in ("ORK_TEST_GATEWAY_CI", "ORK_TEST_GATEWAY_READER")
    }


def test_a_katalog_without_the_gateway_opens_no_port(capsys):
    container = one(objects_of(capsys, WEBSITE), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert "--gateway-listen" not in container["args"]
    assert [p["name"] for p in container["ports"]] == ["http"]


def test_the_gateway_may_create_and_delete_the_served_crs_and_keep_token_secrets():
    rights = grants_of(policy_rules(derive_rights(load_katalogs([GATEWAY])).cluster))
    for verb in ("get", "list", "create", "patch", "delete"):
        assert ("gw.example.com", "websites", verb) in rights
    # secretRef tokens: read, a missing Secret created, a due one given a new token.
    for verb in ("get", "create", "patch"):
        assert ("", "secrets", verb) in rights
    assert ("", "secrets", "delete") not in rights
    assert ("apiextensions.k8s.io", "customresourcedefinitions", "get") in rights
    without = grants_of(policy_rules(derive_rights(load_katalogs([WEBSITE])).cluster))
    assert ("demo.example.com", "websites", "create") not in without
