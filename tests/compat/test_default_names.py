"""Entries without `name` (ORKESTRA-LANGUAGE 1.6), on the embedded server.

Orkestra names such a child per kind: `<cr>-deployment`, `<cr>-svc`,
`<cr>-config`, `<cr>-ingress`, `<cr>-hpa`, `<cr>-pdb`, `<cr>-sa`, `<cr>-role`,
`<cr>-rolebinding`... A Katalog written for Orkestra omits the names and
refers to those names elsewhere (an Ingress backend, an HPA's target, an
envFrom, a RoleBinding's role and subjects, an onDelete group); every child is
checked field by field. The second test is the upgrade from the old default
(every unnamed child was called `<cr>`): what becomes of the old children.
"""

from pathlib import Path

from orkestra_trio.testing import open_test_cluster, run_katalog

HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: default-names}
spec:
  crds:
    app:
      apiTypes: {group: names.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
"""

KATALOG = (
    HEAD
    + """\
        onCreate:
          configMaps:
            - data: {mode: "{{ .spec.mode }}"}
        onReconcile:
          serviceAccounts:
            - labels: {team: web}
          roles:
            - rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
          roleBindings:
            - roleRef: {name: "{{ .metadata.name }}-role", kind: Role}
              subjects:
                - {kind: ServiceAccount, name: "{{ .metadata.name }}-sa", namespace: "{{ .metadata.namespace }}"}
          deployments:
            - image: nginx
              port: "8080"
              serviceAccountName: "{{ .metadata.name }}-sa"
              envFrom: {configMapRef: [{name: "{{ .metadata.name }}-config"}]}
          services:
            - port: "80"
              targetPort: "8080"
          ingresses:
            - host: "{{ .metadata.name }}.example.com"
              serviceName: "{{ .metadata.name }}-svc"
              servicePort: "80"
          hpa:
            - scaleTargetRef:
                apiVersion: apps/v1
                kind: Deployment
                name: "{{ .metadata.name }}-deployment"
              minReplicas: "1"
              maxReplicas: "3"
          pdb:
            - minAvailable: "1"
        onDelete:
          ordered: true
          groups:
            - name: app
              deployments: [{}]
        emit:
          status:
            fields:
              - path: image
                value: >-
                  {{ (index (index (index .children.deployments
                  (printf "%s-deployment" .metadata.name)).spec.template.spec.containers 0)).image }}
"""
)

#: What the previous release made of the same Katalog: every unnamed child was `<cr>`.
OLD_KATALOG = (
    HEAD
    + """\
        onCreate:
          configMaps:
            - {name: "{{ .metadata.name }}", data: {mode: "{{ .spec.mode }}"}}
        onReconcile:
          deployments:
            - {name: "{{ .metadata.name }}", image: nginx, port: "8080"}
          services:
            - {name: "{{ .metadata.name }}", port: "80", targetPort: "8080"}
"""
)

OWNER = "orkestra.orkspace.io/owner"
NAME = "app.kubernetes.io/name"


async def test_unnamed_entries_take_orkestras_names_and_find_each_other(
    autojump_clock, tmp_path: Path
):
    path = tmp_path / "katalog.yaml"
    path.write_text(KATALOG)
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("app", "acme", {"mode": "fast"}))
        await kat.wait_steady()
        assert kat.ready("app", "acme"), kat.status("app", "acme")
        names = {(c["kind"], c["metadata"]["name"]) for c in kat.children("app", "acme")}
        assert names == {
            ("ConfigMap", "acme-config"),
            ("ServiceAccount", "acme-sa"),
            ("Role", "acme-role"),
            ("RoleBinding", "acme-rolebinding"),
            ("Deployment", "acme-deployment"),
            ("Service", "acme-svc"),
            ("Ingress", "acme-ingress"),
            ("HorizontalPodAutoscaler", "acme-hpa"),
            ("PodDisruptionBudget", "acme-pdb"),
        }

        assert kat.child("app", "acme", "ConfigMap", "acme-config")["data"] == {"mode": "fast"}
        sa = kat.child("app", "acme", "ServiceAccount", "acme-sa")
        assert sa["metadata"]["labels"]["team"] == "web"
        role = kat.child("app", "acme", "Role", "acme-role")
        assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
        binding = kat.child("app", "acme", "RoleBinding", "acme-rolebinding")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "acme-role",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "acme-sa", "namespace": "default"}
        ]

        deploy = kat.child("app", "acme", "Deployment", "acme-deployment")
        pods = {NAME: "acme-deployment", OWNER: "acme"}
        assert deploy["spec"]["selector"] == {"matchLabels": pods}
        assert deploy["spec"]["template"]["metadata"]["labels"] == pods
        pod = deploy["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "acme-sa"
        [container] = pod["containers"]
        assert container["name"] == "acme-deployment"  # Orkestra: the primary container too
        assert container["image"] == "nginx"
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert container["envFrom"] == [{"configMapRef": {"name": "acme-config"}}]

        service = kat.child("app", "acme", "Service", "acme-svc")
        # An unnamed Service selects the pods of the unnamed Deployment.
        assert service["spec"]["selector"] == pods
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}
        ]
        ingress = kat.child("app", "acme", "Ingress", "acme-ingress")
        assert ingress["spec"]["rules"] == [
            {
                "host": "acme.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "acme-svc", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
        hpa = kat.child("app", "acme", "HorizontalPodAutoscaler", "acme-hpa")
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "acme-deployment",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
        pdb = kat.child("app", "acme", "PodDisruptionBudget", "acme-pdb")
        assert pdb["spec"]["selector"] == {"matchLabels": pods}
        assert pdb["spec"]["minAvailable"] == 1
        # The status reads the child under its default name.
        assert kat.status("app", "acme")["image"] == "nginx"

        # The unnamed onDelete group entry is the unnamed Deployment: deleted first.
        await kat.delete("app", "acme")
        await kat.wait_steady()
        assert kat.cr("app", "acme") is None
        deletes = [(verb, resource) for verb, resource in cluster.requests() if verb == "delete"]
        assert deletes[0] == ("delete", "deployments")
        assert not cluster.objects("deployments", "default")


async def test_upgrading_from_the_cr_name_default_renames_the_children(
    autojump_clock, tmp_path: Path
):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(OLD_KATALOG)
    new.write_text(KATALOG)
    async with open_test_cluster() as cluster:
        async with run_katalog(old, cluster) as kat:
            await kat.apply(kat.manifest("app", "acme", {"mode": "fast"}))
            await kat.wait_steady()
            before = {(c["kind"], c["metadata"]["name"]) for c in kat.children("app", "acme")}
            assert before == {("ConfigMap", "acme"), ("Deployment", "acme"), ("Service", "acme")}
        async with run_katalog(new, cluster, install=False) as kat:
            await kat.wait_steady()
            assert kat.ready("app", "acme"), kat.status("app", "acme")
            # onReconcile children of the old name are pruned once the new ones exist;
            # the onCreate ConfigMap is the user's once made: it stays, still owned by
            # the CR, beside the new one.
            assert kat.child("app", "acme", "Deployment", "acme") is None
            assert kat.child("app", "acme", "Service", "acme") is None
            assert kat.child("app", "acme", "Deployment", "acme-deployment") is not None
            assert kat.child("app", "acme", "Service", "acme-svc") is not None
            kept = kat.child("app", "acme", "ConfigMap", "acme")
            assert kept is not None and kept["data"] == {"mode": "fast"}
            assert kat.child("app", "acme", "ConfigMap", "acme-config")["data"] == {"mode": "fast"}
            # The kept one goes with the CR (garbage-collected through its ownerReference).
            await kat.delete("app", "acme")
            await kat.wait_steady()
            assert kat.cr("app", "acme") is None
            left = {c["metadata"]["name"] for c in cluster.objects("configmaps", "default")}
            assert not left & {"acme", "acme-config"}, left
