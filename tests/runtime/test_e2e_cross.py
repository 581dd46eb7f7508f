"""The seeds' same-binary cross: example: the App's Deployment waits for its database."""

from __future__ import annotations

from pathlib import Path

import trio
from runtime_helpers import DEPLOY, SERVICE, eventually

from orkestra_trio.kube import NotFound, open_kube_client
from orkestra_trio.runtime.runtime import open_runtime

KATALOG = Path(__file__).parents[2] / "katalogs" / "cross-same-binary.yaml"
APP = ("demo.example.com/v1", "App")
DATABASE = ("demo.example.com/v1", "ManagedDatabase")
STATEFULSET = ("apps/v1", "StatefulSet")


async def test_app_deployment_appears_once_the_database_is_ready():
    # No workload simulation: the test decides when the database's StatefulSet is ready.
    async with (
        open_runtime(KATALOG, embedded=True, workload_simulation=False) as rt,
        open_kube_client(rt.server_url) as kube,
    ):
        assert rt.box("app").model.reconciler.resync is None  # no resync to lean on
        with trio.fail_after(10):
            await rt.wait_ready()

        async def waiting():
            app = await kube.get(APP, "shop", namespace="default")
            return (app.get("status") or {}).get("phase") == "WaitingForDatabase"

        await eventually(waiting, what="the app to wait for its database")
        await kube.get(SERVICE, "shop", namespace="default")  # the Service needs no database

        async def provisioning():
            db = await kube.get(DATABASE, "shop-db", namespace="default")
            return (db.get("status") or {}).get("phase") == "Provisioning"

        # The database's own box reports it, independently of the app's box.
        await eventually(provisioning, what="the database to be Provisioning")
        with trio.fail_after(10):
            await rt.wait_idle()
        try:
            await kube.get(DEPLOY, "shop", namespace="default")
            raise AssertionError("the app's Deployment exists before the database is Ready")
        except NotFound:
            pass

        # The database's StatefulSet becomes ready (as a controller would report).
        await kube.patch_status(
            STATEFULSET,
            "shop-db",
            {"status": {"replicas": 1, "readyReplicas": 1}},
            namespace="default",
        )

        async def deployed():
            return await kube.get(DEPLOY, "shop", namespace="default")

        deployment = await eventually(deployed, what="the app's Deployment", timeout=5)
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": "DATABASE_URL", "value": "postgres://shop-db.default.svc:5432/shop"} in env

        async def app_running():
            app = await kube.get(APP, "shop", namespace="default")
            status = app.get("status") or {}
            return status.get("phase") == "Running" and status.get("database") == "Ready"

        await eventually(app_running, what="the app's status to follow the database")

        # And back: the database stops being Ready, the Deployment is deleted again.
        await kube.patch_status(
            STATEFULSET, "shop-db", {"status": {"readyReplicas": 0}}, namespace="default"
        )

        async def undeployed():
            try:
                await kube.get(DEPLOY, "shop", namespace="default")
            except NotFound:
                app = await kube.get(APP, "shop", namespace="default")
                return "databaseUrl" not in app["status"]
            return False

        await eventually(undeployed, what="the app's Deployment to be deleted again")
