"""Rollback to the last known-good spec (``rollBackOnError``, ``rollback``): the decisions.

Orkestra's reading (pkg/types rollback and operatorbox docs), which this follows:

* after every successful reconcile the CR's spec is the *known-good* spec, kept on
  the CR in the ``previous-spec`` annotation (JSON, gzip, base64); templates read it
  as ``.previous.spec``. It is written only when it differs from the annotation's,
  and only by boxes that roll back: other boxes pay nothing.
* reconciles of a CR that fail ``trigger.consecutiveFailures`` times in a row (3 by
  default; all within ``trigger.withinDuration`` when given) put it in rollback: the
  ``rollback-at-generation`` annotation records the failing generation.
* while that annotation names the CR's generation, a reconcile applies the rollback
  children instead of the ordinary ones: ``rollBackOnError`` re-renders the box's
  own re-applied entries with ``.spec`` the known-good spec; an explicit
  ``onRollback`` renders its own entries, ``.previous.spec`` at hand. The CR's
  Ready condition is False with reason ``RolledBack``. The CR's spec is never
  rewritten: the user's change stays, and changing the spec (a new generation)
  leaves rollback.

The runtime (``runtime/pipeline.py``) counts the failures and writes the annotations;
the plan (``katalog/plan.py``) reads them from the CR, so ``render`` shows the same.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from orkestra_trio.katalog.model import EMPTY_MAP, FrozenMap, OperatorBox, Resources, Rollback

#: The known-good spec of a CR (JSON, gzip-compressed, base64), as Orkestra names it.
PREVIOUS_SPEC_ANNOTATION = "orkestra.orkspace.io/previous-spec"
#: The generation whose failures put the CR in rollback (Orkestra's name).
ROLLBACK_GENERATION_ANNOTATION = "orkestra.orkspace.io/rollback-at-generation"
#: The Ready condition's reason while a CR is rolled back (Orkestra's rollback phase).
REASON_ROLLED_BACK = "RolledBack"


def encode_spec(spec: Mapping[str, Any]) -> str:
    """``spec`` as the annotation holds it (keys sorted, no gzip timestamp: same spec, same text)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(text, mtime=0)).decode("ascii")


def decode_spec(text: str) -> dict[str, Any] | None:
    """The spec an annotation holds; None when it holds none that reads (then: no known-good)."""
    try:
        spec = json.loads(gzip.decompress(base64.b64decode(text, validate=True)))
    except (ValueError, binascii.Error, OSError, EOFError):
        return None
    return spec if isinstance(spec, dict) else None


def _annotations(cr: Mapping[str, Any]) -> Mapping[str, Any]:
    return (cr.get("metadata") or {}).get("annotations") or {}


def previous_spec(cr: Mapping[str, Any]) -> dict[str, Any] | None:
    """The CR's known-good spec (None: it never reconciled with rollback on)."""
    text = _annotations(cr).get(PREVIOUS_SPEC_ANNOTATION)
    return decode_spec(text) if isinstance(text, str) and text else None


def previous_context(cr: Mapping[str, Any]) -> dict[str, Any]:
    """``.previous`` in templates: the known-good ``spec`` ({} without one) and the CR's
    ``metadata`` (its name and namespace do not change with the spec)."""
    return {"spec": previous_spec(cr) or {}, "metadata": cr.get("metadata") or {}}


def rolled_back(cr: Mapping[str, Any]) -> bool:
    """Is the CR in rollback: does the annotation name its current generation?"""
    at = _annotations(cr).get(ROLLBACK_GENERATION_ANNOTATION)
    generation = (cr.get("metadata") or {}).get("generation")
    return at is not None and generation is not None and str(at) == str(generation)


def should_roll_back(rollback: Rollback, failures: Sequence[float], now: float) -> bool:
    """Do the CR's consecutive failures (their times, oldest first) meet the trigger?"""
    if len(failures) < rollback.failures:
        return False
    if rollback.within is None:
        return True
    return now - failures[-rollback.failures] <= rollback.within


def can_roll_back(cr: Mapping[str, Any]) -> bool:
    """Is there a known-good spec that differs from the failing one? (Rolling back to the
    spec that fails would only fail again: the failure is then not the spec's.)"""
    previous = previous_spec(cr)
    return previous is not None and previous != (cr.get("spec") or {})


def trigger_patch(cr: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that puts the CR in rollback at its current generation."""
    generation = str((cr.get("metadata") or {}).get("generation") or 0)
    return {"metadata": {"annotations": {ROLLBACK_GENERATION_ANNOTATION: generation}}}


def success_patch(cr: Mapping[str, Any]) -> dict[str, Any] | None:
    """After a successful ordinary reconcile: the merge patch that records the spec as
    known-good and ends a rollback left from an older generation (None: nothing to write)."""
    annotations: dict[str, Any] = {}
    spec = cr.get("spec") or {}
    if previous_spec(cr) != spec:
        annotations[PREVIOUS_SPEC_ANNOTATION] = encode_spec(spec)
    if ROLLBACK_GENERATION_ANNOTATION in _annotations(cr):
        annotations[ROLLBACK_GENERATION_ANNOTATION] = None
    return {"metadata": {"annotations": annotations}} if annotations else None


def rolled_back_message(cr: Mapping[str, Any]) -> str:
    """The Ready condition's message while the CR is rolled back."""
    generation = (cr.get("metadata") or {}).get("generation") or 0
    return (
        f"rolled back: reconciling generation {generation} kept failing, so the children "
        "were re-applied from the last known-good spec (.previous.spec); change the spec "
        "to leave rollback"
    )


def derived_resources(box: OperatorBox) -> tuple[Resources, Resources]:
    """(onCreate, onReconcile) entries that ``rollBackOnError`` re-applies: the onCreate
    entries with ``reconcile: true`` and the onReconcile ones, ``once`` Secrets left out."""

    def keep(resources: Resources, *, create: bool) -> Resources:
        kept = {
            group: tuple(e for e in entries if not e.once and (e.reconcile or not create))
            for group, entries in resources.items()
        }
        return FrozenMap({group: entries for group, entries in kept.items() if entries})

    return keep(box.on_create, create=True), keep(box.on_reconcile, create=False)


def rollback_box(box: OperatorBox) -> OperatorBox:
    """The box whose onCreate/onReconcile are what a rolled-back reconcile applies."""
    rollback = box.rollback
    assert rollback is not None
    if rollback.on_rollback is not None:
        return attrs.evolve(box, on_create=EMPTY_MAP, on_reconcile=rollback.on_rollback)
    on_create, on_reconcile = derived_resources(box)
    return attrs.evolve(box, on_create=on_create, on_reconcile=on_reconcile)
