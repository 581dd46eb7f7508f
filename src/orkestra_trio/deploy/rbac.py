"""Least-privilege RBAC for a Katalog set: which verbs on which resources the runtime uses.

A pure function of the loaded Katalogs. Every right below traces back to a
call the runtime makes (the module or function named beside it), so that a
rule missing from the output shows up as a ``forbidden`` in a box's health,
and a rule present is one the runtime would use:

* each CR kind of a box: ``get, list, watch`` (its informer, ``runtime.registry``),
  ``patch`` (the finalizer, ``runtime.pipeline``), ``patch`` on ``<plural>/status``
  (``runtime.status``) and ``update`` on ``<plural>/finalizers`` (children carry a
  controller ownerReference with ``blockOwnerDeletion``, which clusters with the
  OwnerReferencesPermissionEnforcement admission plugin check against it);
* each child kind: ``list, watch`` (the label-scoped child informer), ``get``
  (an AlreadyExists create reads the object back), ``create``; ``patch`` when
  some entry is reconciled (onReconcile, or onCreate with ``reconcile: true``);
  ``delete`` when some entry may be deleted (onReconcile's ``when`` turning
  false and pruning, onDelete children, and children that no ownerReference
  ties to the CR: another namespace, a cluster-scoped kind or owner);
* roles/clusterRoles children: ``escalate`` on roles/clusterroles, and
  roleBindings/clusterRoleBindings children: ``bind`` on the roles/clusterroles
  they name. Kubernetes lets a client write a role only with rights it holds
  itself, or with ``escalate``; and bind a role only with ``bind`` on it. Both
  are limited by ``resourceNames`` to the names the Katalog writes when those
  are literal (not templates); a templated name needs the verb unrestricted,
  which is what the Katalog asks for by declaring it;
* ``enrich``: ``get, list, watch`` on the kinds each target reads
  (``katalog.enrichment.READS``: pods, replicasets, endpointslices,
  persistentvolumeclaims, persistentvolumes, storageclasses, nodes, jobs, secrets);
* a CRD observed through a same-process ``cross:`` without a box of its own:
  ``get, list, watch``;
* Secrets a ``fromSecret`` entry copies, ConfigMaps a ``fromConfigMap`` one:
  ``get, list, watch`` (the box's
  source informers, ``runtime.sources``), in the ClusterRole, since a
  ``fromNamespace`` may name any namespace;
* Events: ``create, get, patch`` (``kube.events``: a repeat bumps the count)
  and ``list, watch`` (the per-box Event feed of ``web.view``);
* TokenReviews: ``create`` (``web.tokenreview``): in a pod the HTTP surface
  (ONCOP, /metrics, /ui) is authenticated with the callers' ServiceAccount
  tokens (``--oncop-tokenreview``), each checked with the cluster;
* Leases, in the runtime's own namespace only: ``get, create, update``
  (``kube.leases``), for leader election; with per-box election also ``list``
  (each replica lists its group's Leases to see the live replicas) and
  ``delete`` (a replica that stops deletes its membership Lease).

No wildcard is ever produced. What cannot be derived (a ``custom`` child whose
apiVersion or kind is a template; a custom kind whose plural is unknown) is a
:class:`DeriveError` naming the Katalog position, like ``validate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from orkestra_trio.katalog import (
    CLUSTER_SCOPED_GROUPS,
    RESOURCE_GROUPS,
    CrdEntry,
    KatalogSet,
    ResourceEntry,
    Text,
)
from orkestra_trio.katalog.copies import copy_kind
from orkestra_trio.katalog.enrichment import KINDS as ENRICH_KINDS
from orkestra_trio.katalog.enrichment import READS as ENRICH_READS
from orkestra_trio.katalog.serve import gateway_crds, gateways
from orkestra_trio.kube.mapper import BUILTINS, split_api_version

READ = ("get", "list", "watch")

EVENT_VERBS = ("create", "get", "list", "patch", "watch")
LEASE_VERBS = ("create", "get", "update")


class DeriveError(Exception):
    """Rights that cannot be derived; ``problems`` are ``file:line:col: message`` lines."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@attrs.frozen(order=True)
class Grant:
    """Some verbs on one resource (``plural`` or ``plural/subresource``) of one API group."""

    api_group: str
    resource: str
    verbs: frozenset[str]
    #: Only these objects (RBAC ``resourceNames``); empty: every object.
    resource_names: tuple[str, ...] = ()


@attrs.frozen
class Rights:
    """What the runtime needs: ``cluster`` for the ClusterRole, ``namespaced`` for the Role."""

    cluster: tuple[Grant, ...]
    namespaced: tuple[Grant, ...]

    def all(self) -> tuple[Grant, ...]:
        return self.cluster + self.namespaced


@attrs.frozen
class _Kind:
    api_group: str
    plural: str
    namespaced: bool


def derive_rights(katalogs: KatalogSet, *, per_box: bool = False) -> Rights:
    """The ClusterRole and Role grants for ``katalogs`` (see the module docstring).

    ``per_box``: the replicas run ``--leader-elect per-box``.
    """
    verbs: dict[tuple[str, str], set[str]] = {}
    problems: list[str] = []

    def grant(group: str, resource: str, *names: str) -> None:
        verbs.setdefault((group, resource), set()).update(names)

    # (verb, roles resource) -> role names; None once some name is a template.
    role_names: dict[tuple[str, str], set[str] | None] = {}

    boxed = {crd.key for crd in katalogs.crds.values() if crd.operator_box is not None}
    for crd in katalogs.crds.values():
        box = crd.operator_box
        if box is None:
            continue
        group, plural = crd.api_types.group, crd.api_types.plural
        grant(group, plural, *READ, "patch")
        if not crd.builtin:
            # A built-in kind's status belongs to its own controller: never written.
            grant(group, f"{plural}/status", "patch")
        phases = {"onCreate": box.on_create, "onReconcile": box.on_reconcile}
        phases["onDelete"] = box.on_delete
        has_children = any(
            entries for resources in phases.values() for entries in resources.values()
        )
        if has_children or box.ordered_delete is not None or box.finalizers:
            grant(group, f"{plural}/finalizers", "update")
        # Ordered onDelete groups only read and delete (foreground) what they name.
        for step in box.ordered_delete.groups if box.ordered_delete is not None else ():
            for group_name, entries in step.resources.items():
                for entry in entries:
                    kind = _child_kind(katalogs, group_name, entry, problems)
                    if kind is not None:
                        grant(kind.api_group, kind.plural, *READ, "delete")
        # observe.watch: the box lists and watches the kind (all objects, not only children).
        for watch in box.watches:
            watched = _known_kind(katalogs, watch.api_version, watch.kind)
            if watched is None:
                problems.append(
                    f"{watch.location}: observe.watch: {watch.api_version} {watch.kind} is "
                    "neither a CRD of these Katalogs nor a well-known built-in; its RBAC rule "
                    "cannot be derived"
                )
            else:
                grant(watched.api_group, watched.plural, *READ)
        # enrich: each target lists and watches the kinds it reads (runtime.enrich);
        # warnings read core Events, which every box may already list and watch.
        for target in crd.enrich:
            for read in ENRICH_READS[target]:
                known = _known_kind(katalogs, *ENRICH_KINDS[read])
                if read != "Event" and known is not None:
                    grant(known.api_group, known.plural, *READ)
        # observe.events: the box lists and watches events.k8s.io Events (filtered).
        if box.event_watches:
            grant("events.k8s.io", "events", *READ)
        # auth.secretRef: the box keeps each token's Secret in a one-object cache.
        if any(
            entry.source is not None and entry.source.token_secret is not None
            for entry in box.cross
        ):
            grant("", "secrets", *READ)
        for phase, resources in phases.items():
            for group_name, entries in resources.items():
                for entry in entries:
                    kind = _child_kind(katalogs, group_name, entry, problems)
                    if kind is None:
                        continue
                    grant(kind.api_group, kind.plural, *READ, "create")
                    copy = copy_kind(group_name, entry.fields)
                    if copy is not None:
                        grant("", copy.plural, *READ)  # the sources, wherever they are
                    if phase == "onReconcile" or entry.reconcile:
                        grant(kind.api_group, kind.plural, "patch")
                    if phase != "onCreate" or not _owned_by_reference(crd, kind, entry):
                        grant(kind.api_group, kind.plural, "delete")
                    _role_rights(group_name, entry, role_names)
        # A remote reconciler's children are of its managedResources kinds (it names no others).
        remote = box.remote
        for api_version, kind_name in remote.managed if remote is not None else ():
            managed = _known_kind(katalogs, api_version, kind_name)
            if managed is None:
                assert remote is not None
                problems.append(
                    f"{remote.location}: remote.managedResources: {api_version} {kind_name} "
                    "is neither a CRD of these Katalogs nor a well-known built-in; its RBAC rule "
                    "cannot be derived"
                )
            else:
                grant(managed.api_group, managed.plural, *READ, "create", "patch")
        for cross in box.cross:
            if cross.same_process and cross.crd and cross.crd not in boxed:
                observed = katalogs.crds[cross.crd].api_types
                grant(observed.group, observed.plural, *READ)
    # The gateway API applies, reads and deletes the served CRDs' CRs, reads each
    # CRD's schema for its form and raw schema, and reads the token Secrets
    # (secretRef), creating a missing one and giving a due one a new token (patch).
    for crd in gateway_crds(katalogs):
        grant(crd.api_types.group, crd.api_types.plural, *READ, "create", "patch", "delete")
    if gateways(katalogs):
        grant("apiextensions.k8s.io", "customresourcedefinitions", "get")
    if any(token.secret_name for gateway in gateways(katalogs) for token in gateway.tokens):
        grant("", "secrets", "get", "create", "patch")
    if problems:
        raise DeriveError(problems)
    grant("", "events", *EVENT_VERBS)
    grant("authentication.k8s.io", "tokenreviews", "create")
    grants = [Grant(g, r, frozenset(v)) for (g, r), v in verbs.items()]
    for (verb, resource), names in role_names.items():
        grants.append(Grant(RBAC_GROUP, resource, frozenset({verb}), tuple(sorted(names or ()))))
    cluster = tuple(sorted(grants))
    lease_verbs = {*LEASE_VERBS, "list", "delete"} if per_box else set(LEASE_VERBS)
    leases = Grant("coordination.k8s.io", "leases", frozenset(lease_verbs))
    return Rights(cluster=cluster, namespaced=(leases,))


RBAC_GROUP = "rbac.authorization.k8s.io"

#: Group of a role-writing child -> (verb it needs, on which roles resource).
_ROLE_VERBS = {
    "roles": ("escalate", "roles"),
    "clusterRoles": ("escalate", "clusterroles"),
    "roleBindings": ("bind", "roles"),
    "clusterRoleBindings": ("bind", "clusterroles"),
}


def _role_rights(
    group_name: str, entry: ResourceEntry, role_names: dict[tuple[str, str], set[str] | None]
) -> None:
    """Note the escalate/bind right a role or binding child needs, by name when literal."""
    if group_name not in _ROLE_VERBS:
        return
    verb, resource = _ROLE_VERBS[group_name]
    name: Any = entry.name
    if verb == "bind":
        ref = entry.fields.get("roleRef")
        if isinstance(ref, Mapping):
            name = ref.get("name")
            resource = "clusterroles" if str(ref.get("kind")) == "ClusterRole" else "roles"
        else:
            name = entry.fields.get("role")
    key = (verb, resource)
    if name is None or not _literal(name) or entry.for_each is not None:
        role_names[key] = None
        return
    names = role_names.setdefault(key, set())
    if names is not None:
        names.add(str(name))


def _owned_by_reference(crd: CrdEntry, kind: _Kind, entry: ResourceEntry) -> bool:
    """True when the child gets a controller ownerReference (the GC deletes it, not us).

    A namespaced CR can own only children in its own namespace; a
    cluster-scoped child or one placed elsewhere is tracked by label and
    deleted by the runtime when the CR goes.
    """
    if not kind.namespaced:
        return False
    return crd.namespaced and entry.namespace is None


def _child_kind(
    katalogs: KatalogSet, group_name: str, entry: ResourceEntry, problems: list[str]
) -> _Kind | None:
    if group_name != "custom":
        info = RESOURCE_GROUPS[group_name]
        api_group, _ = split_api_version(info.api_version)
        return _Kind(api_group, info.plural, group_name not in CLUSTER_SCOPED_GROUPS)
    api_version, kind = entry.fields.get("apiVersion"), entry.fields.get("kind")
    if not (_literal(api_version) and _literal(kind)):
        problems.append(
            f"{entry.location}: custom: apiVersion and kind must be literal (not templates) "
            "for manifests to derive the RBAC rule of this child"
        )
        return None
    found = _known_kind(katalogs, str(api_version), str(kind))
    if found is None:
        problems.append(
            f"{entry.location}: custom: {api_version} {kind} is neither a CRD of these "
            "Katalogs nor a well-known built-in: its resource name (plural) is unknown, so "
            "its RBAC rule cannot be derived; add its CRD to a Katalog (crds: without "
            "operatorBox) to name it"
        )
    return found


def _known_kind(katalogs: KatalogSet, api_version: str, kind: str) -> _Kind | None:
    for crd in katalogs.crds.values():
        types = crd.api_types
        if types.api_version == api_version and types.kind == kind:
            return _Kind(types.group, types.plural, crd.namespaced)
    group, version = split_api_version(api_version)
    for info in BUILTINS:
        if info.group == group and info.version == version and info.kind == kind:
            return _Kind(info.group, info.plural, info.namespaced)
    return None


def _literal(value: Any) -> bool:
    if isinstance(value, Text):
        return not value.is_template and bool(value.source)
    return isinstance(value, str) and bool(value)


def policy_rules(grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """RBAC ``rules``: grants with the same group and verbs share one rule, sorted."""
    merged: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for item in grants:
        key = (item.api_group, tuple(sorted(item.verbs)), item.resource_names)
        merged.setdefault(key, []).append(item.resource)
    rules: list[dict[str, Any]] = []
    for (group, verb_list, names), resources in sorted(merged.items()):
        rule: dict[str, Any] = {"apiGroups": [group], "resources": sorted(resources)}
        if names:
            rule["resourceNames"] = list(names)
        rule["verbs"] = list(verb_list)
        rules.append(rule)
    return rules


def grants_of(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples a list of RBAC rules allows (no wildcards expected)."""
    out: set[tuple[str, str, str]] = set()
    for rule in rules:
        for group in rule.get("apiGroups") or ():
            for resource in rule.get("resources") or ():
                for verb in rule.get("verbs") or ():
                    out.add((str(group), str(resource), str(verb)))
    return out
