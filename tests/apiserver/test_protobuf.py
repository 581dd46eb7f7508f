"""Protobuf request bodies (kubectl >= 1.32 typed create commands) for the kinds it creates."""

CM = "/api/v1/namespaces/default/configmaps"
PROTO = {"content-type": "application/vnd.kubernetes.protobuf"}


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, payload):
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def envelope(api_version, kind, raw):
    type_meta = field(1, api_version) + field(2, kind)
    return b"k8s\x00" + field(1, type_meta) + field(2, raw) + field(3, "") + field(4, "")


def configmap_message(name, data, labels):
    meta = field(1, name) + field(2, "") + field(8, b"")  # zero values as Go writes them
    for k, v in labels.items():
        meta += field(11, field(1, k) + field(2, v))
    body = field(1, meta)
    for k, v in data.items():
        body += field(2, field(1, k) + field(2, v))
    return body


async def test_protobuf_configmap_is_decoded(client):
    raw = configmap_message("pb", {"a": "1", "b": "2"}, {"app": "x"})
    r = await client.post(CM, content=envelope("v1", "ConfigMap", raw), headers=PROTO)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["data"] == {"a": "1", "b": "2"}
    assert obj["metadata"]["labels"] == {"app": "x"}
    assert "generateName" not in obj["metadata"]


async def test_protobuf_secret_bytes_become_base64(client):
    meta = field(1, "pbs")
    raw = field(1, meta) + field(2, field(1, "k") + field(2, b"\x00\xff")) + field(3, "Opaque")
    r = await client.post(
        "/api/v1/namespaces/default/secrets", content=envelope("v1", "Secret", raw), headers=PROTO
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {"k": "AP8="}


async def test_unsupported_protobuf_kind_is_415_and_garbage_is_400(client):
    r = await client.post(
        "/apis/apps/v1/namespaces/default/statefulsets",
        content=envelope("apps/v1", "StatefulSet", b""),
        headers=PROTO,
    )
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    r = await client.post(CM, content=b"k8s\x00\xff\xff", headers=PROTO)
    assert r.status_code == 400


DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
ZERO_META = field(2, "") + field(3, "") + field(4, "") + field(7, 0) + field(8, b"")


def labels(number, **pairs):
    return b"".join(field(number, field(1, k) + field(2, v)) for k, v in pairs.items())


def container(name, image, *extra):
    # The zero fields Go writes for every container (stdin, stdinOnce, tty).
    return field(1, name) + field(2, image) + b"".join(extra) + field(16, 0) + field(18, 0)


def deployment_message(*, replicas, spec_extra=b"", container_extra=()):
    meta = field(1, field(1, "pbd") + ZERO_META + labels(11, app="pbd"))
    template = field(1, ZERO_META + labels(11, app="pbd")) + field(
        2, field(2, container("web", "nginx:1.25", *container_extra)) + field(11, 0)
    )
    spec = (
        field(1, replicas)
        + field(2, labels(1, app="pbd"))
        + field(3, template)
        + field(4, field(1, ""))
        + field(5, 0)
        + spec_extra
    )
    status = field(1, 0) + field(2, 0)  # all-zero status, as kubectl sends it
    return meta + field(2, spec) + field(3, status)


async def test_protobuf_deployment_with_pod_template_is_decoded(client):
    port = field(1, "") + field(2, 0) + field(3, 8080) + field(4, "TCP")
    env = field(1, "MODE") + field(2, "fast")
    resources = field(1, field(1, "cpu") + field(2, field(1, "500m"))) + field(
        2, field(1, "memory") + field(2, field(1, "64Mi"))
    )
    rolling = field(1, field(1, 1) + field(3, "25%")) + field(2, field(1, 0) + field(2, 2))
    raw = deployment_message(
        replicas=0,  # a pointer in Go: present means set, so 0 is kept
        spec_extra=field(4, field(1, "RollingUpdate") + field(2, rolling)),
        container_extra=(
            field(3, "serve"),
            field(4, "--fast"),
            field(6, port),
            field(7, env),
            field(8, resources),
        ),
    )
    r = await client.post(DEPLOY, content=envelope("apps/v1", "Deployment", raw), headers=PROTO)
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert spec["replicas"] == 0
    assert spec["selector"] == {"matchLabels": {"app": "pbd"}}
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": 2}
    (pod_container,) = spec["template"]["spec"]["containers"]
    assert pod_container["image"] == "nginx:1.25"
    assert pod_container["command"] == ["serve"] and pod_container["args"] == ["--fast"]
    assert pod_container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert pod_container["env"] == [{"name": "MODE", "value": "fast"}]
    assert pod_container["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
    assert "stdin" not in pod_container  # zero fields stay out, as in JSON


async def test_protobuf_service_and_job_are_decoded(client):
    svc_port = (
        field(1, "http") + field(2, "TCP") + field(3, 80) + field(4, field(1, 1) + field(3, "web"))
    )
    svc = field(1, field(1, "pbs") + ZERO_META) + field(
        2, field(1, svc_port) + labels(2, app="web") + field(4, "ClusterIP") + field(12, 0)
    )
    r = await client.post(
        "/api/v1/namespaces/default/services",
        content=envelope("v1", "Service", svc),
        headers=PROTO,
    )
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["ports"][0]["targetPort"] == "web"
    assert r.json()["spec"]["selector"] == {"app": "web"}
    template = field(1, ZERO_META) + field(
        2, field(2, container("j", "busybox", field(3, "true"))) + field(3, "Never")
    )
    job = field(1, field(1, "pbj") + ZERO_META) + field(2, field(6, template) + field(7, 2))
    r = await client.post(
        "/apis/batch/v1/namespaces/default/jobs",
        content=envelope("batch/v1", "Job", job),
        headers=PROTO,
    )
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["backoffLimit"] == 2
    assert r.json()["spec"]["template"]["spec"]["restartPolicy"] == "Never"


async def test_protobuf_field_with_data_the_decoder_lacks_is_415_naming_it(client):
    # Container field 10 is livenessProbe: not decoded, so not silently dropped either.
    raw = deployment_message(replicas=1, container_extra=(field(10, field(2, 5)),))
    r = await client.post(DEPLOY, content=envelope("apps/v1", "Deployment", raw), headers=PROTO)
    assert r.status_code == 415, r.text
    message = r.json()["message"]
    assert "field 10 of Container" in message
    assert "spec.template.spec.containers[0]" in message
    assert (await client.get(f"{DEPLOY}/pbd")).status_code == 404
