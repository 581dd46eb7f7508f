"""Each namespace gets a ``default`` ServiceAccount shortly after it appears, as in a cluster."""

import trio
from apiserver_helpers import WatchCollector

NS = "/api/v1/namespaces"
ALL_SA = "/api/v1/serviceaccounts"


def sa_url(namespace, name="default"):
    return f"{NS}/{namespace}/serviceaccounts/{name}"


async def test_precreated_namespaces_have_a_default_serviceaccount(client):
    listed = (await client.get(ALL_SA)).json()["items"]
    names = sorted((i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed)
    assert ("default", "default") in names
    assert ("kube-system", "default") in names
    sa = (await client.get(sa_url("default"))).json()
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["uid"]


async def test_new_namespace_gets_one_and_a_deleted_one_comes_back(client, nursery):
    watch = WatchCollector(
        client, ALL_SA, {"watch": "true", "fieldSelector": "metadata.name=default"}
    )
    await nursery.start(watch.run)
    created = await client.post(NS, json={"metadata": {"name": "team-a"}})
    assert created.status_code == 201

    def added_in(namespace):
        return lambda events: any(
            e["type"] == "ADDED" and e["object"]["metadata"]["namespace"] == namespace
            for e in events
        )

    await watch.wait_for(added_in("team-a"))
    first = (await client.get(sa_url("team-a"))).json()
    # Its own revision, after the namespace's: a controller's write, not part of the create.
    assert int(first["metadata"]["resourceVersion"]) > int(
        created.json()["metadata"]["resourceVersion"]
    )
    assert (await client.delete(sa_url("team-a"))).status_code == 200
    await watch.wait_for(
        lambda events: (
            sum(
                e["type"] == "ADDED" and e["object"]["metadata"]["namespace"] == "team-a"
                for e in events
            )
            == 2
        )
    )
    again = (await client.get(sa_url("team-a"))).json()
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    watch.stop()


async def test_terminating_namespace_goes_without_its_serviceaccount_coming_back(client):
    await client.post(NS, json={"metadata": {"name": "short-lived"}})
    with trio.fail_after(5):
        while (await client.get(sa_url("short-lived"))).status_code != 200:
            await trio.sleep(0.01)
    assert (await client.delete(f"{NS}/short-lived")).status_code == 200
    with trio.fail_after(5):
        while (await client.get(f"{NS}/short-lived")).status_code != 404:
            await trio.sleep(0.02)
    assert (await client.get(sa_url("short-lived"))).status_code == 404
