"""Conditions: ``when`` (all must hold) and ``or`` (at least one holds).

STUB written by the lead to fix the interface; the templates helper owns and
completes this module.
"""

from __future__ import annotations

from typing import Any

import attrs

# Every operator a condition may use. Anything else is a load error.
OPERATORS: frozenset[str] = frozenset(
    {
        "equals",
        "notEquals",
        "contains",
        "notContains",
        "prefix",
        "suffix",
        "regex",
        "exists",
        "notExists",
        "greaterThan",
        "greaterThanOrEqual",
        "lessThan",
        "lessThanOrEqual",
        "between",
        "in",
        "notIn",
    }
)


@attrs.frozen
class Condition:
    """One condition of a ``when``/``or`` list, as loaded from the Katalog.

    ``field`` is a dot path into the template context (``spec.replicas``,
    ``cross.loader.metrics.queueDepth``) or a template (``{{ phase .cross.db }}``).
    ``value`` is the operand as written (a string; "" for exists/notExists).
    ``source`` is the raw ``source:`` mapping of an autoscale condition, if any.
    """

    field: str
    operator: str
    value: str = ""
    negate: bool = False
    source: Any = None
