"""Install a Katalog's CRDs and sample CRs into a cluster (the embedded one by default).

For each CRD of the Katalog set: the ``crdFile`` when given, else a
permissive CRD generated from ``apiTypes`` (any fields accepted through
``x-kubernetes-preserve-unknown-fields``, a ``status`` subresource). A CRD
already present is left alone. We then wait until every CRD is
``Established`` (served) and create the objects of ``crFiles`` that do not
exist yet. The ``setup`` files' objects are created before all of it.

On a real cluster the runtime does none of this unless asked
(``--install-crds`` installs the CRDs, never ``setup`` or ``crFiles``): it must not
change a cluster it was only pointed at.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trio
import yaml

from orkestra_trio.katalog import CrdEntry, KatalogSet
from orkestra_trio.kube import AlreadyExists, ApiError, KubeClient, NotFound

logger = logging.getLogger(__name__)

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
ESTABLISH_TIMEOUT = 30.0

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InstallError(Exception):
    """A crdFile or crFile cannot be read or installed; the message names the file."""


def generated_crd(crd: CrdEntry) -> dict[str, Any]:
    """A permissive CRD for ``crd.api_types``: any spec and status, a status subresource."""
    types = crd.api_types
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{types.plural}.{types.group}"},
        "spec": {
            "group": types.group,
            "scope": "Namespaced" if crd.namespaced else "Cluster",
            "names": {
                "kind": types.kind,
                "listKind": f"{types.kind}List",
                "plural": types.plural,
                "singular": types.kind.lower(),
            },
            "versions": [
                {
                    "name": types.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def read_objects(path: Path) -> list[dict[str, Any]]:
    """Every object of a YAML file (several documents, or a v1 List)."""
    try:
        text = path.read_text(encoding="utf-8")
        documents = [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except OSError as exc:
        raise InstallError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise InstallError(f"{path}: invalid YAML: {exc}") from None
    objects: list[dict[str, Any]] = []
    for document in documents:
        items = document.get("items") if isinstance(document, dict) else None
        for obj in items if isinstance(items, list) else [document]:
            if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
                raise InstallError(f"{path}: every document must be an object with apiVersion/kind")
            objects.append(obj)
    return objects


def crd_manifest(crd: CrdEntry) -> dict[str, Any]:
    """The CRD object for ``crd``: its ``crdFile`` (exactly one CRD in it) or the generated one."""
    if crd.crd_file is None:
        return generated_crd(crd)
    documents = [o for o in read_objects(crd.crd_file) if o.get("kind") == CRD[1]]
    if len(documents) != 1:
        raise InstallError(f"{crd.crd_file}: expected one CustomResourceDefinition")
    return documents[0]


async def install_crds(kube: KubeClient, katalogs: KatalogSet) -> list[str]:
    """Create every missing CRD and wait until all are established. Returns the CRD names."""
    names: list[str] = []
    for crd in katalogs.crds.values():
        if crd.builtin:
            continue  # a built-in kind (an operator over Deployments...): no CRD to install
        manifest = crd_manifest(crd)
        name = str((manifest.get("metadata") or {}).get("name") or "")
        names.append(name)
        try:
            await kube.create(manifest)
            logger.info("installed CRD %s", name)
        except AlreadyExists:
            pass
        except ApiError as exc:  # RBAC on a real cluster, an invalid crdFile
            source = crd.crd_file if crd.crd_file is not None else "generated from apiTypes"
            raise InstallError(f"cannot install CRD {name} ({source}): {exc}") from None
    for name in names:
        await wait_established(kube, name)
    # Discovery changed: let the REST mapper learn the new kinds on next use.
    for crd in katalogs.crds.values():
        await kube.mapper.refresh(crd.api_types.api_version)
    return names


async def wait_established(kube: KubeClient, name: str) -> None:
    with trio.move_on_after(ESTABLISH_TIMEOUT):
        delay = 0.01
        while True:
            crd = await kube.get(CRD, name)
            if _established(crd):
                return
            await trio.sleep(delay)
            delay = min(delay * 2, 0.5)
    raise InstallError(f"CRD {name} did not become Established within {ESTABLISH_TIMEOUT:g}s")


def _established(crd: Mapping[str, Any]) -> bool:
    for condition in (crd.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Established" and condition.get("status") == "True":
            return True
    return False


async def apply_setup_files(kube: KubeClient, katalogs: KatalogSet) -> int:
    """Create the objects of every ``setup`` file that do not exist yet, before the CRDs.

    Orkestra's dev pre-steps: namespaces, Secrets or other CRDs a Katalog's
    children need, in declaration order. Returns how many were created.
    """
    return await _create_missing(kube, [p for crd in katalogs.crds.values() for p in crd.setup])


async def apply_cr_files(kube: KubeClient, katalogs: KatalogSet) -> int:
    """Create the objects of every ``crFiles`` entry that do not exist yet. Returns how many."""
    return await _create_missing(kube, [p for crd in katalogs.crds.values() for p in crd.cr_files])


async def _create_missing(kube: KubeClient, paths: list[Path]) -> int:
    created = 0
    for path in dict.fromkeys(paths):
        for obj in read_objects(path):
            metadata = obj.get("metadata") or {}
            ref = (str(obj["apiVersion"]), str(obj["kind"]))
            namespace = str(metadata.get("namespace") or "") or None
            try:
                await kube.get(ref, str(metadata.get("name")), namespace=namespace)
                continue
            except NotFound:
                pass
            try:
                await kube.create(obj, namespace=namespace)
                created += 1
            except AlreadyExists:
                pass
    return created
