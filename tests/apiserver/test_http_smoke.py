async def test_version_and_health(client):
    r = await client.get("/version")
    assert r.status_code == 200
    assert r.json()["major"] == "1"
    for path in ("/healthz", "/readyz", "/livez"):
        assert (await client.get(path)).text == "ok"
