"""Cross `labelSelector` (ORKESTRA-LANGUAGE 1.8), on the embedded server: instead of a peer
CRD, the first CR of this runtime's Katalogs whose labels match (and `selector.matchLabels`,
templates over the reading CR) is `.cross.<as>`; a change of it reconciles the reader."""

from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: by-labels}
spec:
  crds:
    cache:
      apiTypes: {group: labels.example.com, version: v1, kind: Cache, plural: caches}
      operatorBox:
        status:
          fields: [{path: phase, value: Ready}]
    database:
      apiTypes: {group: labels.example.com, version: v1, kind: Database, plural: databases}
      operatorBox:
        status:
          fields: [{path: phase, value: Ready}]
    app:
      apiTypes: {group: labels.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        observe:
          cross:
            - labelSelector: "tier in (cache,memory),!retired"
              as: cache
              selector: {matchLabels: {zone: "{{ .spec.zone }}"}}
        status:
          fields:
            - {path: cacheName, value: "{{ .cross.cache.name }}"}
            - {path: cacheFound, value: "{{ .cross.cache.found }}"}
"""


async def test_a_label_selected_peer_is_read_and_followed(autojump_clock, tmp_path: Path):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("cache", "c-a", labels={"tier": "cache", "zone": "a"}))
        await kat.apply(kat.manifest("cache", "c-b", labels={"tier": "cache", "zone": "b"}))
        # Another kind, same labels but the wrong tier: never the answer.
        await kat.apply(kat.manifest("database", "d-b", labels={"tier": "db", "zone": "b"}))
        await kat.apply(kat.manifest("app", "shop", {"zone": "b"}))
        await kat.wait_steady()
        assert kat.status("app", "shop")["cacheName"] == "c-b"
        assert kat.status("app", "shop")["cacheFound"] == "true"

        # The matched CR changes so that it no longer matches: the reader follows.
        await kat.apply(
            kat.manifest("cache", "c-b", labels={"tier": "cache", "zone": "b", "retired": "yes"})
        )
        await kat.wait_steady()
        assert kat.status("app", "shop")["cacheFound"] == "false"
        assert kat.status("app", "shop")["cacheName"] == ""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{crd: cache, labelSelector: "tier=cache", as: c}', "exactly one of crd"),
        ('{labelSelector: "tier in (cache", as: c}', "invalid label selector"),
        ('{labelSelector: "tier=cache"}', "needs as:"),
        ('{labelSelector: "tier=cache", as: c, source: {host: "http://x:1"}}', "own CRs"),
    ],
)
def test_label_selector_entries_are_checked_at_load(tmp_path: Path, entry: str, message: str):
    text = KATALOG.replace(
        """            - labelSelector: "tier in (cache,memory),!retired"
              as: cache
              selector: {matchLabels: {zone: "{{ .spec.zone }}"}}""",
        f"            - {entry}",
    )
    path = tmp_path / "katalog.yaml"
    path.write_text(text)
    with pytest.raises(KatalogError) as caught:
        load_katalogs([path])
    issues = [str(issue) for issue in caught.value.issues]
    assert any(message in issue and "katalog.yaml:" in issue for issue in issues), issues
