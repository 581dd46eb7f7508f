"""What one reconcile of one CR produces, computed offline and without I/O.

The runtime's reconcile pipeline and the ``render`` command call the same three
functions, so what ``render`` prints is what the runtime would apply:

* :func:`build_context` — the template context of a CR (KATALOG.md's
  ``.metadata .spec .status .cross .children .metrics .health``);
* :func:`render_children` — the children of one phase (onCreate, onReconcile
  or onDelete), in the fixed apply order, each either *present* (with its full
  manifest) or *absent* (its ``when``/``or`` failed: a reconcile deletes it if
  the CR owns it);
* :func:`render_status` — the CR's next ``status``.

Every failure for a CR (a template render error, a shorthand value that cannot
become a manifest, a status value of the wrong type) is raised as one
:class:`RenderError` naming the Katalog ``file:line:col`` and the CR, which the
runtime records as that CR's reconcile failure.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import attrs

from orkestra_trio.katalog.conditions import conditions_hold
from orkestra_trio.katalog.copies import (
    COPY_KINDS,
    SOURCE_OBJECTS,
    CopyError,
    CopyKind,
    SourceRef,
    copied,
    copy_kind,
    source_ref,
)
from orkestra_trio.katalog.manifests import (
    ManifestError,
    build_manifest,
    child_name,
    owner_from_cr,
    parse_int,
    plain_copy,
)
from orkestra_trio.katalog.model import (
    CLUSTER_SCOPED_GROUPS,
    NOWHERE,
    RESOURCE_GROUPS,
    CrdEntry,
    Location,
    OperatorBox,
    ResourceEntry,
    StatusField,
    Text,
)
from orkestra_trio.katalog.secrets import (
    GENERATED_AT_ANNOTATION,
    GENERATED_FIELDS,
    TLS_SPEC_ANNOTATION,
    TLS_TYPE,
    Generation,
    SecretSpecError,
    TlsRequest,
)
from orkestra_trio.katalog.secrets import decide as decide_generation
from orkestra_trio.katalog.security import DELETION_PROTECTION_LABEL, LABEL_ON
from orkestra_trio.katalog.sentinels import FIRED_KEY
from orkestra_trio.katalog.serve import request_context
from orkestra_trio.katalog.statusfields import decide
from orkestra_trio.katalog.template import TemplateRenderError, lookup_path
from orkestra_trio.katalog.workload_scale import SCALED_AT_ANNOTATION, scaled_replicas

PHASES = ("onCreate", "onReconcile", "onDelete")

READY = "Ready"
REASON_SUCCEEDED = "ReconcileSucceeded"
REASON_ERROR = "ReconcileError"

#: The context key of the children read back by (kind, namespace, name); not a Go
#: identifier, so no template reads it.
CHILD_OBJECTS = "orkestra:children"

# kind -> resource group, to sort objects read back from the cluster.
_GROUP_OF_KIND = {info.kind: group for group, info in RESOURCE_GROUPS.items() if info.kind}


class RenderError(Exception):
    """Rendering failed for one CR; ``where`` is the Katalog's file:line:col, ``cr`` the CR."""

    def __init__(self, message: str, *, where: str, cr: str) -> None:
        self.message = message
        self.where = where
        self.cr = cr
        super().__init__(f"{where}: {cr}: {message}" if where else f"{cr}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: the default pickling would call cls(text) and fail.
        return (partial(RenderError, where=self.where, cr=self.cr), (self.message,))


@attrs.frozen
class RenderedChild:
    """One child of a CR as one reconcile sees it.

    ``present`` False means the entry's conditions do not hold: the child
    should not exist, and ``manifest`` is None. ``reconcile`` is True when the
    child is applied every cycle (onReconcile entries, and onCreate entries
    marked ``reconcile: true``); onCreate children are otherwise created only
    when absent.
    """

    phase: str
    group: str
    name: str
    namespace: str
    present: bool
    manifest: dict[str, Any] | None
    reconcile: bool
    location: Location = attrs.field(eq=False, repr=False)
    #: onDelete children: the deletion waits until this child finished.
    wait: bool = False
    #: Seconds to pause after creating or changing this child (the entry's ``sleep``).
    sleep: float = 0.0
    #: The entry came from an imported Motif: a child of the CRD's own with the
    #: same identity wins over it.
    motif: bool = False
    #: False: drift is corrected by a server-side apply without force (``forceConflict``).
    force_conflict: bool = True
    #: A Secret's ``tls``: the certificate the runtime makes and puts in its data
    #: before applying it (None: nothing to make).
    generate: TlsRequest | None = None
    #: A generated Secret (``tls``, ``rotateAfter``): seconds until it is due again.
    renew_in: float | None = None

    @property
    def api_version(self) -> str:
        if self.manifest is not None:
            return str(self.manifest.get("apiVersion", ""))
        return RESOURCE_GROUPS[self.group].api_version

    @property
    def kind(self) -> str:
        if self.manifest is not None:
            return str(self.manifest.get("kind", ""))
        return RESOURCE_GROUPS[self.group].kind


# --- the template context ------------------------------------------------------


def build_context(
    cr: Mapping[str, Any],
    *,
    cross: Mapping[str, Any] | None = None,
    children: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    metrics: Mapping[str, Any] | None = None,
    health: Mapping[str, Any] | None = None,
    external: Mapping[str, Any] | None = None,
    sentinels: Iterable[str] = (),
    events: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context of ``cr``.

    ``cross`` maps each ``as`` name to its observed answer (see
    :func:`cross_answer`). ``children`` is either already grouped
    (``{group: {name: object}}``, or ``{group: [objects]}``) or a flat
    iterable of objects read back from the cluster; templates see
    ``.children.<group>.<name>``. The context shares objects with its inputs:
    templates only read it.
    """
    metadata = cr.get("metadata") or {}
    context = {
        "apiVersion": cr.get("apiVersion", ""),
        "kind": cr.get("kind", ""),
        "metadata": metadata,
        "spec": cr.get("spec") or {},
        "status": cr.get("status") or {},
        "cross": dict(cross or {}),
        "children": group_children(children),
        "metrics": dict(metrics or {}),
        "health": dict(health or {}),
        # External calls' answers by name (katalog/external.py), made before planning.
        "external": dict(external or {}),
        # observe.events: the newest matching Event of the CR by watch name.
        "events": dict(events or {}),
        # The gateway's record of the intent that applied the CR (katalog/serve.py).
        "request": request_context(cr),
    }
    fired = frozenset(sentinels)
    if fired:  # the sentinels that fired since the last reconcile (their functions read it)
        context[FIRED_KEY] = fired
    if children is not None and not isinstance(children, Mapping):
        # Children read back, by (kind, namespace, name): what a generated Secret kept.
        context[CHILD_OBJECTS] = {
            (str(obj.get("kind") or ""), *_object_key(obj)): obj for obj in children
        }
    return context


def normalized(crd: CrdEntry, cr: Mapping[str, Any]) -> Mapping[str, Any]:
    """The CR with the CRD's ``normalize.spec`` applied: an in-memory copy, never written.

    Each rule renders over the CR as it came and sets ``.spec.<path>``; the
    text becomes a number or a boolean when it reads as one (``auto``), and an
    empty result leaves the field as it was.
    """
    if not crd.normalize:
        return cr
    context = build_context(cr)
    spec = plain_copy(cr.get("spec") or {})
    for path, template in crd.normalize.items():
        text = _guard(describe_cr(context), NOWHERE, partial(template.render, context))
        if text.strip():
            _set_path(spec, path.removeprefix("spec."), convert_status_value(text, "auto"))
    return {**cr, "spec": spec}


def cr_labels(crd: CrdEntry, context: Mapping[str, Any]) -> dict[str, str]:
    """The labels the runtime puts on the CR: the CRD entry's ``labels`` (rendered), and
    the deletion-protection label when its Katalog's ``security.deletionProtection`` is on."""
    cr = describe_cr(context)
    labels = {
        key: _guard(cr, NOWHERE, partial(value.render, context))
        for key, value in crd.labels.items()
    }
    if crd.deletion_protected:
        labels[DELETION_PROTECTION_LABEL] = LABEL_ON
    return labels


def group_children(
    children: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """Children as templates see them: ``{group: {name: object}}``.

    Objects whose kind is not a built-in group go under ``custom``. Children
    read back from the cluster (a flat iterable) are also reachable the way
    Orkestra's templates write them, ``.children.deployment``: the child of
    that kind, by its kind in lowercase.
    """
    grouped: dict[str, dict[str, Any]] = {group: {} for group in RESOURCE_GROUPS}
    if children is None:
        return grouped
    if isinstance(children, Mapping):
        for group, members in children.items():
            bucket = grouped.setdefault(str(group), {})
            if isinstance(members, Mapping):
                bucket.update(members)
            else:
                for obj in members:
                    bucket[_object_name(obj)] = obj
        return grouped
    singles: dict[str, Any] = {}
    for obj in sorted(children, key=_object_name):
        kind = str(obj.get("kind", ""))
        grouped[_GROUP_OF_KIND.get(kind, "custom")][_object_name(obj)] = obj
        # Orkestra's templates read `.children.<kind in lowercase>`: the child of
        # that kind (the first by name when there are several).
        singles.setdefault(kind.lower(), obj)
    for alias, obj in singles.items():
        grouped.setdefault(alias, obj)
    return grouped


def cross_answer(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """The shape templates see under ``.cross.<as>`` (ONCOP.md).

    ``obj`` is either an answer already in that shape (it has ``found``), or a
    plain Kubernetes object, or None for "not found".
    """
    if obj is None:
        return {
            "found": "false",
            "name": "",
            "namespace": "",
            "labels": {},
            "annotations": {},
            "spec": {},
            "status": {},
        }
    if "found" in obj:
        answer = dict(obj)
        found = answer["found"]
        if isinstance(found, bool):
            answer["found"] = "true" if found else "false"
        for key in ("labels", "annotations", "spec", "status"):
            answer.setdefault(key, {})
        return answer
    # ONCOP answers come over HTTP from other processes: take only what has
    # the right shape rather than fail on a malformed one.
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    answer = {
        "found": "true",
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "generation": metadata.get("generation", 0),
        "labels": metadata.get("labels") or {},
        "annotations": metadata.get("annotations") or {},
        "spec": obj.get("spec") or {},
        "status": obj.get("status") or {},
    }
    return answer


# --- children ------------------------------------------------------------------


def render_children(
    box: OperatorBox,
    context: Mapping[str, Any],
    *,
    phase: str = "onReconcile",
    now: datetime.datetime | None = None,
) -> list[RenderedChild]:
    """The children of ``phase`` for the CR of ``context``, in the fixed apply order.

    ``forEach`` entries yield one child per list item, with the item bound as
    ``.<as>`` in the context. Two present children of one group with the same
    namespace and name are an error: they would overwrite each other.
    ``now`` is the clock of workload ``autoscale`` cooldowns (the wall clock if
    not given; the runtime passes its Trio-driven one).
    """
    now = now or datetime.datetime.now(datetime.UTC)
    resources = _phase_resources(box, phase)
    cr = describe_cr(context)
    children: list[RenderedChild] = []
    scopes: dict[int, Mapping[str, Any]] = {}
    for group in RESOURCE_GROUPS:  # the table's order is the apply order
        seen: dict[tuple[str, str], ResourceEntry] = {}
        for entry in resources.get(group, ()):
            scope = _scope(entry.inputs, context, scopes)
            for child in _render_entry(entry, scope, phase, cr, now):
                if child.present:
                    key = (child.namespace, child.name)
                    other = seen.get(key)
                    # The CRD's own child and a Motif's: the own one wins (below).
                    if other is not None and (other.inputs is None) == (entry.inputs is None):
                        raise RenderError(
                            f"two {group} children named {child.name!r} "
                            f"(the other is declared at {other.location}){_unnamed_hint(entry)}",
                            where=str(entry.location),
                            cr=cr,
                        )
                    if other is None or entry.inputs is None:
                        seen[key] = entry
                children.append(child)
    return _own_children_win(children)


def _unnamed_hint(entry: ResourceEntry) -> str:
    """Why an unnamed ``forEach`` entry collides with itself, and the way out."""
    if entry.for_each is None or _entry_identity(entry)[0] is not None:
        return ""
    return (
        f": a forEach entry without a name gives every item's child the kind's default "
        f'name; name it after the item, e.g. "{{{{ .metadata.name }}}}-{{{{ .{entry.for_each.as_} }}}}"'
    )


def _own_children_win(children: list[RenderedChild]) -> list[RenderedChild]:
    """Without the Motifs' children that one of the CRD's own children is (by identity).

    The load drops a Motif's entry whose name is written as the CRD's; this
    catches names that only render alike (an unnamed entry and
    ``"{{ .metadata.name }}-deployment"`` for deployments), so that the CRD's own child always wins.
    """
    own = {(c.group, c.namespace, c.name) for c in children if not c.motif}
    return [c for c in children if not c.motif or (c.group, c.namespace, c.name) not in own]


def render_reconcile_children(
    box: OperatorBox, context: Mapping[str, Any], *, now: datetime.datetime | None = None
) -> list[RenderedChild]:
    """onCreate and onReconcile children together, in the fixed apply order.

    This is what one ordinary (not deleting) reconcile works through.
    """
    order = {group: index for index, group in enumerate(RESOURCE_GROUPS)}
    children = render_children(box, context, phase="onCreate", now=now)
    children += render_children(box, context, phase="onReconcile", now=now)
    # sorted() is stable: within a group, onCreate entries stay first.
    return sorted(_own_children_win(children), key=lambda child: order[child.group])


def _phase_resources(box: OperatorBox, phase: str) -> Mapping[str, Sequence[ResourceEntry]]:
    if phase == "onCreate":
        return box.on_create
    if phase == "onReconcile":
        return box.on_reconcile
    if phase == "onDelete":
        return box.on_delete
    raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")


def _render_entry(
    entry: ResourceEntry,
    context: Mapping[str, Any],
    phase: str,
    cr: str,
    now: datetime.datetime,
) -> list[RenderedChild]:
    for_each = entry.for_each
    if for_each is None:
        return _with_copies(entry, _render_one(entry, context, phase, cr, now), context, cr)
    items = lookup_path(context, for_each.field)
    if items is None or items == "":
        return []
    if not isinstance(items, list | tuple):
        raise RenderError(
            f"forEach field {for_each.field!r} is not a list (it is {type(items).__name__})",
            where=str(entry.location),
            cr=cr,
        )
    children: list[RenderedChild] = []
    for item in items:
        scope = {**context, for_each.as_: item}
        children += _with_copies(entry, _render_one(entry, scope, phase, cr, now), scope, cr)
    return children


def _scope(
    inputs: Mapping[str, Text] | None,
    context: Mapping[str, Any],
    cache: dict[int, Mapping[str, Any]],
) -> Mapping[str, Any]:
    """:func:`with_inputs`, once per import: its entries and fields share one inputs map."""
    if inputs is None:
        return context
    if id(inputs) not in cache:
        cache[id(inputs)] = with_inputs(inputs, context)
    return cache[id(inputs)]


def with_inputs(inputs: Mapping[str, Text] | None, context: Mapping[str, Any]) -> Mapping[str, Any]:
    """``context`` with ``.inputs`` for a Motif's entry or field (each input rendered over it).

    The CRD's own entries (``inputs`` None) see the context unchanged.
    """
    if inputs is None:
        return context
    cr = describe_cr(context)
    values = {
        name: _guard(cr, NOWHERE, partial(text.render, context)) for name, text in inputs.items()
    }
    return {**context, "inputs": values}


def _with_copies(
    entry: ResourceEntry, child: RenderedChild, context: Mapping[str, Any], cr: str
) -> list[RenderedChild]:
    """A Secret's ``toNamespaces`` copies: the same Secret in each namespace listed (its
    metadata made for that namespace, its content the original's)."""
    targets = entry.fields.get("toNamespaces")
    if targets is None or not child.present or child.manifest is None:
        return [child]

    def copies() -> list[RenderedChild]:
        out = [child]
        for namespace in render_value(targets, context):
            namespace = str(namespace).strip()
            if not namespace or namespace == child.namespace:
                continue
            rendered = {
                key: render_value(value, context)
                for key, value in entry.fields.items()
                if key != "toNamespaces"
            }
            rendered.update(
                name=child.name,
                namespace=namespace,
                labels=render_value(entry.labels, context),
                annotations=render_value(entry.annotations, context),
            )
            manifest = build_manifest(entry.group, rendered, owner_from_cr(context))
            out.append(
                attrs.evolve(child, namespace=namespace, manifest=_same_secret(manifest, child))
            )
        return out

    return _guard(cr, entry.location, copies)


def _render_one(
    entry: ResourceEntry,
    context: Mapping[str, Any],
    phase: str,
    cr: str,
    now: datetime.datetime,
) -> RenderedChild:
    def render() -> RenderedChild:
        metadata = context.get("metadata") or {}
        own_name, own_namespace = _entry_identity(entry)
        named = own_name.render(context) if own_name is not None else ""
        name = named
        if not name:  # the kind's default; only a custom child's reads its (rendered) kind
            custom = entry.group == "custom"
            kind = render_value(entry.fields.get("kind"), context) if custom else None
            name = child_name(entry.group, {"kind": kind}, str(metadata.get("name") or ""))
        namespace = own_namespace.render(context) if own_namespace is not None else ""
        namespace = namespace or str(metadata.get("namespace") or "")
        # A cluster-scoped child has no namespace: its identity (what the plan
        # compares with the observed children) must not carry the CR's.
        identity_namespace = "" if entry.group in CLUSTER_SCOPED_GROUPS else namespace
        # once: a generated Secret is created and then never rewritten.
        reconcile = (phase != "onCreate" or entry.reconcile) and not entry.once
        if not (
            conditions_hold(entry.block_when, entry.block_or, context)
            and conditions_hold(entry.when, entry.or_, context)
        ):
            return RenderedChild(
                phase,
                entry.group,
                name,
                identity_namespace,
                False,
                None,
                reconcile,
                entry.location,
                wait=entry.wait,
                sleep=entry.sleep,
                motif=entry.inputs is not None,
            )
        rendered: dict[str, Any] = {
            key: render_value(value, context) for key, value in entry.fields.items()
        }
        # As written (possibly ""): build_manifest names the child the same way, and an
        # unnamed entry's references default to their kinds' default names.
        rendered["name"] = named
        rendered["namespace"] = namespace
        rendered["labels"] = render_value(entry.labels, context)
        rendered["annotations"] = render_value(entry.annotations, context)
        if entry.autoscale is not None:
            _autoscale(entry, name, rendered, context, now)
        generation = None
        if entry.group == "secrets" and GENERATED_FIELDS & entry.fields.keys():
            cached = (context.get(CHILD_OBJECTS) or {}).get(("Secret", namespace, name))
            generation = _generation(rendered, cached, now)
            rendered["annotations"] = {**rendered["annotations"], **generation.annotations}
            if "tls" in rendered and not rendered.get("type"):
                rendered["type"] = TLS_TYPE
        manifest = build_manifest(entry.group, rendered, owner_from_cr(context))
        copy = copy_kind(entry.group, rendered)
        if copy is not None:
            manifest = _copied(copy, manifest, rendered, context)
        if generation is not None and generation.kept_data:
            manifest["data"] = {**(manifest.get("data") or {}), **generation.kept_data}
        return RenderedChild(
            phase,
            entry.group,
            name,
            identity_namespace,
            True,
            manifest,
            # A due generated Secret is written, whatever the phase or once.
            reconcile or (generation is not None and generation.due),
            entry.location,
            wait=entry.wait,
            sleep=entry.sleep,
            motif=entry.inputs is not None,
            force_conflict=entry.force_conflict,
            generate=generation.request if generation is not None else None,
            renew_in=generation.renew_in if generation is not None else None,
        )

    return _guard(cr, entry.location, render)


def _autoscale(
    entry: ResourceEntry,
    name: str,
    rendered: dict[str, Any],
    context: Mapping[str, Any],
    now: datetime.datetime,
) -> None:
    """The entry's own autoscale decides ``replicas`` (see :mod:`.workload_scale`)."""
    assert entry.autoscale is not None
    children = context.get("children") or {}
    current = (children.get(entry.group) or {}).get(name)
    replicas, changed = scaled_replicas(
        entry.autoscale,
        declared=rendered.get("replicas"),
        current=current if isinstance(current, Mapping) else None,
        context=context,
        now=now,
    )
    rendered["replicas"] = str(replicas)
    if changed:
        rendered["annotations"] = {
            **rendered["annotations"],
            SCALED_AT_ANNOTATION: now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _same_secret(copy: dict[str, Any], original: RenderedChild) -> dict[str, Any]:
    """A ``toNamespaces`` copy with the original's data, type and generation stamps.

    Rendered once: a generated password (``once``), a copied source or a kept
    certificate is the same in every namespace, and a certificate to make is
    the original's request (the runtime makes it once for all of them).
    """
    source = original.manifest or {}
    for key in ("type", "data", "stringData", "binaryData"):
        if key in source:
            copy[key] = plain_copy(source[key])
    stamps = {
        key: value
        for key, value in ((source.get("metadata") or {}).get("annotations") or {}).items()
        if key in (GENERATED_AT_ANNOTATION, TLS_SPEC_ANNOTATION)
    }
    if stamps:
        metadata = copy.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **stamps}
    return copy


def _copied(
    copy: CopyKind,
    manifest: Mapping[str, Any],
    rendered: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """A copying entry's manifest with the source's content (read from the context)."""
    namespace = str((context.get("metadata") or {}).get("namespace") or "")
    try:
        return copied(copy, manifest, rendered, context.get(SOURCE_OBJECTS) or {}, namespace)
    except CopyError as exc:
        raise ManifestError(exc.field, str(exc)) from None


def source_refs(box: OperatorBox, context: Mapping[str, Any]) -> list[SourceRef]:
    """The objects a reconcile of the CR of ``context`` copies (``fromSecret``,
    ``fromConfigMap`` entries).

    The runtime reads them from its cache for the plan. An entry whose names
    do not render is skipped here: rendering it reports the error.
    """
    refs: list[SourceRef] = []
    namespace = str((context.get("metadata") or {}).get("namespace") or "")
    for resources in (box.on_create, box.on_reconcile):
        for group, copy in COPY_KINDS.items():
            for entry in resources.get(group, ()):
                if copy.key not in entry.fields:
                    continue
                for ref in _entry_refs(entry, copy, context, namespace):
                    if ref not in refs:
                        refs.append(ref)
    return refs


def _entry_refs(
    entry: ResourceEntry, copy: CopyKind, context: Mapping[str, Any], namespace: str
) -> list[SourceRef]:
    """The sources one copying entry reads, per ``forEach`` item."""
    try:
        scope = with_inputs(entry.inputs, context)
    except RenderError:
        return []
    scopes = [scope]
    if entry.for_each is not None:
        items = lookup_path(scope, entry.for_each.field)
        items = items if isinstance(items, list | tuple) else []
        scopes = [{**scope, entry.for_each.as_: item} for item in items]
    refs: list[SourceRef] = []
    for each in scopes:
        try:
            rendered = {
                key: render_value(entry.fields.get(key), each)
                for key in (copy.key, "fromNamespace")
            }
            refs.append(source_ref(copy, rendered, namespace))
        except (TemplateRenderError, CopyError, RenderError):
            continue
    return refs


def _generation(
    rendered: Mapping[str, Any], cached: Mapping[str, Any] | None, now: datetime.datetime
) -> Generation:
    try:
        return decide_generation(rendered, cached, now)
    except SecretSpecError as exc:
        raise ManifestError(exc.field, str(exc)) from None


def _entry_identity(entry: ResourceEntry) -> tuple[Text | None, Text | None]:
    """The name and namespace templates of an entry.

    A ``custom`` entry may name its child the Kubernetes way, in
    ``metadata.name``/``metadata.namespace`` (as Orkestra's examples do); the
    entry's own ``name``/``namespace`` win when both are given.
    """
    name, namespace = entry.name, entry.namespace
    metadata = entry.fields.get("metadata") if entry.group == "custom" else None
    if isinstance(metadata, Mapping):
        if name is None and isinstance(metadata.get("name"), Text):
            name = metadata["name"]
        if namespace is None and isinstance(metadata.get("namespace"), Text):
            namespace = metadata["namespace"]
    return name, namespace


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """A frozen Katalog value with every template rendered, as plain dicts and lists."""
    # Most values are Text or plain scalars: test those (cheap) before the ABCs.
    if isinstance(value, Text):
        return value.render(context)
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            str(render_value(key, context)): render_value(item, context)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [render_value(item, context) for item in value]
    return value


# --- status --------------------------------------------------------------------


def render_status(
    box: OperatorBox,
    context: Mapping[str, Any],
    *,
    generation: int,
    error: str | None = None,
    now: str | None = None,
    observed_generation: bool = True,
    reason: str = REASON_ERROR,
) -> dict[str, Any]:
    """The CR's whole next ``status``, built over its current one (``.status``).

    Always: ``observedGeneration`` and, unless ``status.conditions`` is false,
    the ``Ready`` condition (True/ReconcileSucceeded, or False/ReconcileError
    with ``error`` as message and ``reason`` as reason; its ``lastTransitionTime`` moves only when its
    status flips). Without ``error``, the declared fields follow in order:
    written while their ``when``/``or`` hold, removed while they do not if
    ``clearOnFalse``, left alone otherwise; of several fields of one path the
    last that holds is written (:mod:`.statusfields`). With ``error`` the
    declared fields are not evaluated and keep their last values.

    Raises :class:`RenderError` when a field fails to render or convert; the
    caller then records the failure and calls again with ``error`` set.
    """
    status: dict[str, Any] = plain_copy(context.get("status") or {})
    if observed_generation:  # else (ignoreObservedGeneration) left as it is
        status["observedGeneration"] = generation
    if box.status.conditions:
        status["conditions"] = _with_ready_condition(
            status.get("conditions"), generation=generation, error=error, now=now, reason=reason
        )
    if error is not None:
        return status
    cr = describe_cr(context)
    fields = box.status.fields
    cache: dict[int, Mapping[str, Any]] = {}
    scopes = [_scope(field.inputs, context, cache) for field in fields]
    holds = [_field_holds(field, scope, cr) for field, scope in zip(fields, scopes, strict=True)]
    for field, scope, action in zip(fields, scopes, decide(fields, holds), strict=True):
        if action == "write":
            _write_status_field(status, field, scope, cr)
        elif action == "clear":
            _remove_path(status, field.path)
    return status


def _field_holds(field: StatusField, context: Mapping[str, Any], cr: str) -> bool:
    return _guard(cr, field.location, lambda: conditions_hold(field.when, field.or_, context))


def _write_status_field(
    status: dict[str, Any], field: StatusField, context: Mapping[str, Any], cr: str
) -> None:
    where = str(field.location)
    text = _guard(cr, field.location, lambda: field.value.render(context))
    try:
        value = convert_status_value(text, field.type)
    except ValueError as exc:
        raise RenderError(f"status field {field.path!r}: {exc}", where=where, cr=cr) from None
    if value is None:
        _remove_path(status, field.path)
    else:
        _set_path(status, field.path, value)


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def convert_status_value(text: str, type_: str) -> Any:
    """Rendered text as a status field of ``type_`` (None: remove the field).

    string keeps the text; int, float and bool parse it (int accepts "75.0",
    not "75.5"); auto tries int, float, then true/false, else keeps the text.
    Empty text of a non-string type is None. Raises ValueError when the text
    does not convert.
    """
    if type_ == "string":
        return text
    stripped = text.strip()
    if stripped == "":
        return None
    if type_ == "int":
        number = parse_int(stripped)
        if number is None:
            raise ValueError(f"cannot convert {text!r} to int")
        return number
    if type_ == "float":
        try:
            result = float(stripped)
        except ValueError:
            raise ValueError(f"cannot convert {text!r} to float") from None
        if not math.isfinite(result):
            raise ValueError(f"cannot convert {text!r} to a finite float")
        return result
    if type_ == "bool":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"cannot convert {text!r} to bool (true/false, 1/0, yes/no)")
    if type_ == "auto":
        number = parse_int(stripped)
        if number is not None:
            return number
        try:
            result = float(stripped)
            if math.isfinite(result):
                return result
        except ValueError:
            pass
        if stripped.lower() in ("true", "false"):
            return stripped.lower() == "true"
        return text
    raise ValueError(f"unknown status field type {type_!r}")


def _with_ready_condition(
    conditions: Any,
    *,
    generation: int,
    error: str | None,
    now: str | None,
    reason: str = REASON_ERROR,
) -> list[Any]:
    """The conditions list with Ready set; other conditions are kept as they are."""
    existing = (
        [c for c in conditions if isinstance(c, Mapping)] if isinstance(conditions, list) else []
    )
    previous = next((c for c in existing if c.get("type") == READY), None)
    status = "False" if error is not None else "True"
    transition = now or utc_timestamp()
    if (
        previous is not None
        and previous.get("status") == status
        and previous.get("lastTransitionTime")
    ):
        transition = str(previous["lastTransitionTime"])
    ready = {
        "type": READY,
        "status": status,
        "reason": reason if error is not None else REASON_SUCCEEDED,
        "message": error if error is not None else "",
        "observedGeneration": generation,
        "lastTransitionTime": transition,
    }
    result: list[Any] = []
    placed = False
    for condition in existing:
        if condition.get("type") == READY:
            if not placed:
                result.append(ready)
                placed = True
        else:
            result.append(plain_copy(condition))
    if not placed:
        result.append(ready)
    return result


def utc_timestamp() -> str:
    """The wall clock as status timestamps spell it (RFC 3339, seconds, UTC)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    set_keys(target, tuple(path.split(".")), value)


def set_keys(target: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    """Set ``target[k1][k2]...`` to ``value``, making (or replacing) mappings on the way."""
    node = target
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _remove_path(target: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    node: Any = target
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


# --- shared helpers --------------------------------------------------------------


def describe_cr(context: Mapping[str, Any]) -> str:
    """``Website default/my-site``: how errors name the CR."""
    metadata = context.get("metadata") or {}
    name = str(metadata.get("name") or "?")
    namespace = metadata.get("namespace")
    kind = str(context.get("kind") or "CR")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


_T = TypeVar("_T")


def _guard(cr: str, location: Location, compute: Callable[[], _T]) -> _T:
    """Run ``compute()``, turning template and manifest failures into RenderError."""
    try:
        return compute()
    except TemplateRenderError as exc:
        # The template's name is the Katalog file:line:col of the value it came from.
        where = exc.template_name
        if exc.line > 1:
            where += f" (template line {exc.line})"
        raise RenderError(exc.message, where=where, cr=cr) from None
    except ManifestError as exc:
        raise RenderError(str(exc), where=str(location), cr=cr) from None


def _object_name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("name") or "")


def _object_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


__all__ = [
    "PHASES",
    "RenderError",
    "RenderedChild",
    "build_context",
    "convert_status_value",
    "cross_answer",
    "describe_cr",
    "group_children",
    "render_children",
    "render_reconcile_children",
    "render_status",
    "render_value",
]
