"""ownerReference garbage collection and finalizers: background, foreground, orphan."""

import trio

CM = "/api/v1/namespaces/default/configmaps"
MERGE = {"content-type": "application/merge-patch+json"}


async def make(client, name, *, owner=None, finalizers=None):
    meta = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "blockOwnerDeletion": True,
            }
        ]
    if finalizers:
        meta["finalizers"] = finalizers
    r = await client.post(CM, json={"metadata": meta})
    assert r.status_code == 201, r.text
    return r.json()


async def exists(client, name):
    return (await client.get(f"{CM}/{name}")).status_code == 200


async def eventually(check, timeout=3.0):
    with trio.fail_after(timeout):
        while not await check():
            await trio.sleep(0.01)


async def test_background_deletion_collects_dependents(client):
    owner = await make(client, "owner")
    await make(client, "child", owner=owner)
    grandchild_owner = (await client.get(f"{CM}/child")).json()
    await make(client, "grandchild", owner=grandchild_owner)
    r = await client.delete(f"{CM}/owner", params={"propagationPolicy": "Background"})
    assert r.status_code == 200
    assert not await exists(client, "owner")

    async def gone():
        return not await exists(client, "child") and not await exists(client, "grandchild")

    await eventually(gone)


async def test_foreground_deletion_waits_for_dependents(client):
    owner = await make(client, "fg-owner")
    await make(client, "fg-child", owner=owner, finalizers=["example.com/hold"])
    r = await client.request(
        "DELETE",
        f"{CM}/fg-owner",
        json={"kind": "DeleteOptions", "propagationPolicy": "Foreground"},
    )
    assert r.status_code == 200
    pending = r.json()
    assert pending["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in pending["metadata"]["finalizers"]

    async def child_terminating():
        child = (await client.get(f"{CM}/fg-child")).json()
        return bool(child["metadata"].get("deletionTimestamp"))

    await eventually(child_terminating)
    await trio.sleep(0.05)
    assert await exists(client, "fg-owner")  # blocked by the dependent's finalizer
    await client.patch(f"{CM}/fg-child", json={"metadata": {"finalizers": None}}, headers=MERGE)

    async def both_gone():
        return not await exists(client, "fg-child") and not await exists(client, "fg-owner")

    await eventually(both_gone)


async def test_orphan_deletion_keeps_dependents_without_the_reference(client):
    owner = await make(client, "or-owner")
    await make(client, "or-child", owner=owner)
    r = await client.delete(f"{CM}/or-owner", params={"propagationPolicy": "Orphan"})
    assert r.status_code == 200

    async def owner_gone():
        return not await exists(client, "or-owner")

    await eventually(owner_gone)
    child = (await client.get(f"{CM}/or-child")).json()
    assert "ownerReferences" not in child["metadata"]


async def test_object_with_absent_owner_is_collected(client):
    ghost = {"metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}}
    await make(client, "stray", owner=ghost)

    async def gone():
        return not await exists(client, "stray")

    await eventually(gone)


async def test_invalid_propagation_policy_is_422(client):
    await make(client, "pp")
    r = await client.delete(f"{CM}/pp", params={"propagationPolicy": "Sideways"})
    assert r.status_code == 422
    assert r.json()["reason"] == "Invalid"
