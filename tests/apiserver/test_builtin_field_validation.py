"""fieldValidation=Strict|Warn|Ignore on built-in kinds: unknown fields, as a real server reports them."""

from orkestra_trio.apiserver import builtin_fields

DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
CM = "/api/v1/namespaces/default/configmaps"


def deployment(name, **spec_extra):
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
            **spec_extra,
        },
    }


async def test_strict_rejects_a_spec_typo_and_names_it(client):
    r = await client.post(f"{DEPLOY}?fieldValidation=Strict", json=deployment("typo", replica=2))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replica"'
    )
    assert (await client.get(f"{DEPLOY}/typo")).status_code == 404


async def test_strict_checks_metadata_pod_template_and_containers(client):
    body = deployment("deep")
    body["metadata"]["lables"] = {"a": "b"}
    body["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = "Always"
    body["spec"]["template"]["spec"]["restart"] = "Never"
    r = await client.post(f"{DEPLOY}?fieldValidation=Strict", json=body)
    assert r.status_code == 400
    message = r.json()["message"]
    for path in (
        "metadata.lables",
        "spec.template.spec.containers[0].imagePolicy",
        "spec.template.spec.restart",
    ):
        assert f'unknown field "{path}"' in message


async def test_warn_accepts_with_a_warning_and_ignore_says_nothing(client):
    r = await client.post(f"{CM}?fieldValidation=Warn", json={"metadata": {"name": "w"}, "dta": {}})
    assert r.status_code == 201
    assert r.headers["warning"] == '299 - "unknown field \\"dta\\""'
    r = await client.post(
        f"{CM}?fieldValidation=Ignore", json={"metadata": {"name": "i"}, "dta": {}}
    )
    assert r.status_code == 201 and "warning" not in r.headers


async def test_known_fields_pass_strict_and_stored_unknowns_do_not_fail_later_writes(client):
    full = deployment("full", strategy={"type": "Recreate"}, minReadySeconds=1, paused=False)
    full["spec"]["template"]["spec"].update(
        {"initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always"}]},
        serviceAccountName="default",
        nodeSelector={"disk": "ssd"},
    )
    r = await client.post(f"{DEPLOY}?fieldValidation=Strict", json=full)
    assert r.status_code == 201, r.text
    # A field stored through an Ignore write is not the next Strict write's mistake.
    r = await client.post(
        f"{CM}?fieldValidation=Ignore", json={"metadata": {"name": "old"}, "extra": 1}
    )
    assert r.status_code == 201
    r = await client.patch(
        f"{CM}/old?fieldValidation=Strict",
        json={"data": {"k": "v"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"{CM}/old?fieldValidation=Strict",
        json={"dataa": {"k": "v"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 400 and 'unknown field "dataa"' in r.json()["message"]


def test_kinds_without_a_shape_are_not_checked():
    assert builtin_fields.unknown_fields(("example.com", "gadgets"), {"anything": 1}) == []
    assert (
        builtin_fields.unknown_fields(("apps", "deployments"), {"spec": {"selector": {"x": 1}}})
        == []
    )
