"""What the runtime applies is what the offline ``render`` computes for the same CR."""

from __future__ import annotations

from pathlib import Path

import trio
from runtime_helpers import WEBSITE, eventually

from orkestra_trio.katalog import load_katalogs
from orkestra_trio.katalog.render import build_context, render_reconcile_children
from orkestra_trio.runtime.children import comparable, contains
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "website.yaml"


async def test_applied_children_are_the_rendered_ones():
    box = load_katalogs([KATALOG]).crds["website"].operator_box
    async with open_runtime(KATALOG, embedded=True) as rt:

        async def running():
            cr = await rt.kube.get(WEBSITE, "my-site", namespace="default")
            return cr if (cr.get("status") or {}).get("phase") == "Running" else None

        cr = await eventually(running, what="my-site Running")
        with trio.fail_after(10):
            await rt.wait_idle()
        children = render_reconcile_children(box, build_context(cr))
        present = [child for child in children if child.present]
        assert {child.kind for child in present} == {
            "ConfigMap",
            "Deployment",
            "Service",
            "Ingress",
        }
        for child in present:
            stored = await rt.kube.get(
                (child.api_version, child.kind), child.name, namespace=child.namespace
            )
            assert contains(stored, comparable(child.manifest)), child.name
