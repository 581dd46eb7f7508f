"""FaultInjector.exempt: the requests a predicate picks are counted but never faulted."""

import time

CM = "/api/v1/namespaces/default/configmaps"


def configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


async def test_exempt_requests_pass_faults_and_are_counted_apart(server, client):
    spare = {"on": True}
    server.faults.exempt(lambda: spare["on"])
    server.faults.fail_next(1, verb="create", status=500)
    server.faults.add_latency(0.3, verb="get")
    assert (await client.post(CM, json=configmap("a"))).status_code == 201
    started = time.monotonic()
    assert (await client.get(f"{CM}/a")).status_code == 200
    assert time.monotonic() - started < 0.3
    assert server.faults.exempt_requests == {("create", "configmaps"): 1, ("get", "configmaps"): 1}

    # The same rules still hit a request the predicate does not spare.
    spare["on"] = False
    assert (await client.post(CM, json=configmap("b"))).status_code == 500
    started = time.monotonic()
    assert (await client.get(f"{CM}/a")).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert server.faults.request_count("create", "configmaps") == 2
    assert sum(server.faults.exempt_requests.values()) == 2

    # clear() removes the faults, not the exemption; exempt(None) removes it.
    server.faults.clear()
    spare["on"] = True
    assert (await client.get(f"{CM}/a")).status_code == 200
    assert sum(server.faults.exempt_requests.values()) == 3
    server.faults.exempt(None)
    server.faults.fail_next(1, verb="get", status=503)
    assert (await client.get(f"{CM}/a")).status_code == 503
