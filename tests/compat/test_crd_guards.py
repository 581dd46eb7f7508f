"""The CRD entry's namespace guard and migration aids, on the embedded server.

Katalog: katalogs/crd-guards.yaml. ``allowedNamespaces``/``restrictedNamespaces``
keep CRs out (no child, no status, no finalizer), ``ignoreObservedGeneration``
leaves ``status.observedGeneration`` alone, and ``removeFinalizers`` strips the
finalizers it names (a list) or the runtime's own (``true``).
"""

from pathlib import Path

from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.katalog.plan import NAMESPACE_GUARD, Observed, plan_reconcile
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "crd-guards.yaml"
LEGACY = "legacy.example.com/protect"


async def _namespace(kat, name: str) -> None:
    await kat.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


async def test_allowed_and_restricted_namespaces_guard_the_box(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        for namespace in ("team-a", "team-b", "other"):
            await _namespace(kat, namespace)
            cr = kat.manifest("guarded", "x", {}, namespace=namespace)
            cr["metadata"]["finalizers"] = [LEGACY]
            await kat.apply(cr)
        await kat.wait_steady()

        # Allowed: reconciled, and the legacy finalizer is stripped.
        assert kat.status("guarded", "x", "team-a")["phase"] == "Seen"
        assert kat.child("guarded", "x", "ConfigMap", "x-seen", "team-a")["data"] == {
            "namespace": "team-a"
        }
        assert not kat.cr("guarded", "x", "team-a")["metadata"].get("finalizers")
        # Restricted (though listed as allowed) and not allowed: untouched.
        for namespace in ("team-b", "other"):
            cr = kat.cr("guarded", "x", namespace)
            assert cr is not None and not cr.get("status"), namespace
            assert cr["metadata"]["finalizers"] == [LEGACY], namespace
            assert kat.children("guarded", "x", namespace) == []


async def test_ignore_observed_generation_leaves_it_alone(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await _namespace(kat, "team-a")
        await kat.apply(kat.manifest("guarded", "y", {}, namespace="team-a"))
        await kat.wait_steady()
        status = kat.status("guarded", "y", "team-a")
        assert status["phase"] == "Seen"
        assert "observedGeneration" not in status


async def test_remove_finalizers_true_releases_the_crs(autojump_clock):
    """The box holds no finalizer (its onDelete is skipped): the CR goes at once."""
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await kat.apply(kat.manifest("released", "z"))
        await kat.wait_steady()
        assert kat.status("released", "z")["phase"] == "Seen"
        assert not kat.cr("released", "z")["metadata"].get("finalizers")
        await kat.delete("released", "z")
        await kat.wait_steady()
        assert kat.cr("released", "z") is None
        assert kat.children("released", "z") == []


def test_the_plan_says_why_a_guarded_cr_is_left_out():
    crd = load_katalogs([KATALOG]).crds["guarded"]
    cr = {"kind": "Guarded", "metadata": {"name": "x", "namespace": "team-b"}, "spec": {}}
    plan = plan_reconcile(crd, Observed(cr))
    assert plan.gated and plan.gated_by == NAMESPACE_GUARD


def test_a_bad_namespace_name_is_a_load_error(tmp_path):
    text = KATALOG.read_text().replace("[team-a, team-b]", "[team-a, Team_B]")
    path = tmp_path / "k.yaml"
    path.write_text(text)
    try:
        load_katalogs([path])
    except KatalogError as exc:
        message = str(exc)
    else:
        raise AssertionError("loaded")
    assert f"{path}:10:" in message and "allowedNamespaces" in message and "Team_B" in message


async def test_a_crd_namespace_is_the_one_its_box_watches(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        await _namespace(kat, "team-a")
        await kat.apply(kat.manifest("scoped", "w", {}, namespace="team-a"))
        await kat.apply(kat.manifest("scoped", "w", {}))  # in default: not watched
        await kat.wait_steady()
        box = kat.box("scoped")
        assert box.cr_informer is not None and box.cr_informer.namespace == "team-a"
        assert all(i.namespace == "team-a" for i in box.child_informers.values())
        assert kat.status("scoped", "w", "team-a")["phase"] == "Seen"
        assert kat.child("scoped", "w", "ConfigMap", "w-seen", "team-a")["data"] == {
            "namespace": "team-a"
        }
        assert not kat.cr("scoped", "w")["metadata"].get("finalizers")
        assert not kat.cr("scoped", "w").get("status")
        assert kat.children("scoped", "w") == []
