"""Orkestra's newest layout, profiles, notes and workload fields, run on the embedded server.

The Katalog (katalogs/storefront-gen-c.yaml) is written the way Orkestra's
documentation shows it; the children are checked field by field.
"""

from pathlib import Path

from orkestra_trio.runtime.health import HealthState
from orkestra_trio.testing import open_test_cluster, run_katalog

KATALOG = Path(__file__).parent / "katalogs" / "storefront-gen-c.yaml"


async def test_storefront_in_the_newest_layout(autojump_clock):
    async with open_test_cluster() as cluster, run_katalog(KATALOG, cluster) as kat:
        box = kat.box("storefront")
        assert box.workers == 4  # the reconciler profile "bursty"
        await kat.apply(kat.manifest("storefront", "shop", {"tier": "premium", "public": True}))
        await kat.wait_steady()
        assert kat.ready("storefront", "shop")
        cr = kat.cr("storefront", "shop")
        assert set(cr["metadata"]["finalizers"]) == {
            "orkestra.orkspace.io/finalizer",
            "shop.example.com/cleanup",
        }
        assert cr["status"]["phase"] == "Running"

        deploy = kat.child("storefront", "shop", "Deployment", "shop")
        assert deploy["spec"]["replicas"] == 3  # the note isPremium
        assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        pod = deploy["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "shop"
        assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["volumes"] == [{"name": "cache", "emptyDir": {}}]
        [container] = pod["containers"]
        assert container["workingDir"] == "/srv"
        assert container["resources"] == {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        }
        assert container["envFrom"] == [
            {"configMapRef": {"name": "shop-config"}, "prefix": "SHOP_"},
            {"secretRef": {"name": "shop-creds"}},
        ]
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
        assert container["livenessProbe"]["tcpSocket"] == {"port": 8080}
        assert container["livenessProbe"]["initialDelaySeconds"] == 5
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["volumeMounts"] == [{"name": "cache", "mountPath": "/var/cache/nginx"}]

        headless = kat.child("storefront", "shop", "Service", "shop-headless")
        assert headless["spec"]["clusterIP"] == "None"
        ingress = kat.child("storefront", "shop", "Ingress", "shop")
        assert ingress["spec"]["tls"] == [
            {"secretName": "shop-tls", "hosts": ["shop.shop.example.com"]}
        ]

        # Steady: nothing rewritten, the once-Secret included.
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before

        # enqueueGate: an annotation-only change is not reconciled...
        runs = len(kat.log.of("storefront"))
        await kat.apply(
            kat.manifest(
                "storefront", "shop", {"tier": "premium", "public": True}, annotations={"note": "x"}
            )
        )
        await kat.wait_steady()
        assert len(kat.log.of("storefront")) == runs
        # ...a watched ConfigMap naming the CR in its label is.
        await cluster.kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "side",
                    "namespace": "default",
                    "labels": {"shop.example.com/storefront": "shop"},
                },
                "data": {"a": "1"},
            }
        )
        await kat.wait_steady()
        assert len(kat.log.of("storefront")) == runs  # on: [update] only
        await cluster.kube.merge_patch(
            ("v1", "ConfigMap"), "side", {"data": {"a": "2"}}, namespace="default"
        )
        await kat.wait_steady()
        assert len(kat.log.of("storefront")) == runs + 1

        # reconcileGate: paused storefronts are gated.
        await kat.apply(kat.manifest("storefront", "shop", {"tier": "basic", "paused": True}))
        await box.health.wait_until(lambda s: s.state is HealthState.GATED)
        await kat.wait_steady()
        deploy = kat.child("storefront", "shop", "Deployment", "shop")
        assert deploy["spec"]["replicas"] == 3  # untouched while gated

        # Deletion: both finalizers come off, the CR goes.
        await kat.delete("storefront", "shop")
        await kat.wait_steady()
        assert kat.cr("storefront", "shop") is None
        assert kat.health("storefront").state in (HealthState.HEALTHY, HealthState.PENDING)


AUTOSCALE = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: scale}
spec:
  crds:
    app:
      apiTypes: {group: compat.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        onReconcile:
          deployments:
            - name: "{{ .metadata.name }}"
              image: nginx
              replicas: 2
              autoscale:
                min: 1
                max: 4
                cooldown: 5m
                scaleUp:
                  conditions: {when: [{field: spec.load, gt: "80"}]}
                  increment: 2
                scaleDown:
                  conditions: {when: [{field: spec.load, lt: "20"}]}
"""
AUTOSCALE_COOLDOWN = 300  # the 5m above


async def test_workload_autoscale_steps_once_per_cooldown(autojump_clock, tmp_path):
    path = tmp_path / "scale.yaml"
    path.write_text(AUTOSCALE)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("app", "web", {"load": 50}))
        await kat.wait_steady()
        deploy = kat.child("app", "web", "Deployment", "web")
        assert deploy["spec"]["replicas"] == 2  # neither condition: the declared count
        await kat.apply(kat.manifest("app", "web", {"load": 95}))
        await kat.wait_steady()
        deploy = kat.child("app", "web", "Deployment", "web")
        assert deploy["spec"]["replicas"] == 4
        assert "orkestra.orkspace.io/scaled-at" in deploy["metadata"]["annotations"]
        # A hand edit of replicas is not drift while autoscale owns them...
        await cluster.kube.merge_patch(
            ("apps/v1", "Deployment"), "web", {"spec": {"replicas": 3}}, namespace="default"
        )
        await kat.apply(kat.manifest("app", "web", {"load": 5}))
        await kat.wait_steady()
        # ...and within the cooldown nothing steps down.
        assert kat.child("app", "web", "Deployment", "web")["spec"]["replicas"] == 3
        # Past the cooldown (virtual time, Trio's clock) it steps down by one decrement.
        await kat.advance(AUTOSCALE_COOLDOWN + 1)
        await kat.apply(kat.manifest("app", "web", {"load": 4}))
        await kat.wait_steady()
        assert kat.child("app", "web", "Deployment", "web")["spec"]["replicas"] == 2


LABELS_AND_NORMALIZE = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: norm}
spec:
  crds:
    app:
      apiTypes: {group: compat.example.com, version: v1, kind: App, plural: apps}
      labels:
        tier: '{{ .spec.tier | default "web" }}'
      normalize:
        spec:
          replicas: "{{ .spec.replicas | default 2 }}"
          image: '{{ .spec.image | default "nginx" }}'
      operatorBox:
        onReconcile:
          deployments:
            - name: "{{ .metadata.name }}"
              image: "{{ .spec.image }}"
              replicas: "{{ .spec.replicas }}"
"""


async def test_crd_labels_and_normalize(autojump_clock, tmp_path):
    path = tmp_path / "norm.yaml"
    path.write_text(LABELS_AND_NORMALIZE)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("app", "web", {}))
        await kat.wait_steady()
        cr = kat.cr("app", "web")
        assert cr["metadata"]["labels"]["tier"] == "web"
        assert cr["spec"] == {}  # normalize is in memory only
        deploy = kat.child("app", "web", "Deployment", "web")
        assert deploy["spec"]["replicas"] == 2
        assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
        before = cluster.write_count()
        await kat.advance(60)
        assert cluster.write_count() == before
        await kat.apply(kat.manifest("app", "web", {"tier": "api", "replicas": 4}))
        await kat.wait_steady()
        assert kat.cr("app", "web")["metadata"]["labels"]["tier"] == "api"
        assert kat.child("app", "web", "Deployment", "web")["spec"]["replicas"] == 4
