"""The Katalog language: loading, validating and the frozen model of operators.

``load_katalog(path)`` / ``load_katalogs(paths)`` turn Katalog files into the
model below or raise :class:`KatalogError` listing every problem at
``file:line:col``. Templates live in :mod:`orkestra_trio.katalog.template`,
conditions in :mod:`orkestra_trio.katalog.conditions`.
"""

from orkestra_trio.katalog.durations import DurationError, format_duration, parse_duration
from orkestra_trio.katalog.errors import KatalogError, KatalogIssue
from orkestra_trio.katalog.loader import load_katalog, load_katalogs, read_katalog
from orkestra_trio.katalog.model import (
    CLUSTER_SCOPED_GROUPS,
    RESOURCE_GROUPS,
    ApiTypes,
    Autoscale,
    AutoscaleCondition,
    AutoscaleOverride,
    CrdEntry,
    CrossEntry,
    CrossSource,
    Dependency,
    Endpoints,
    ForEach,
    FrozenMap,
    Katalog,
    KatalogSet,
    Location,
    OperatorBox,
    QueueSettings,
    Reconciler,
    Requeue,
    ResourceEntry,
    ResourceGroup,
    Selector,
    StatusField,
    StatusSpec,
    Text,
)

__all__ = [
    "CLUSTER_SCOPED_GROUPS",
    "RESOURCE_GROUPS",
    "ApiTypes",
    "Autoscale",
    "AutoscaleCondition",
    "AutoscaleOverride",
    "CrdEntry",
    "CrossEntry",
    "CrossSource",
    "Dependency",
    "DurationError",
    "Endpoints",
    "ForEach",
    "FrozenMap",
    "Katalog",
    "KatalogError",
    "KatalogIssue",
    "KatalogSet",
    "Location",
    "OperatorBox",
    "QueueSettings",
    "Reconciler",
    "Requeue",
    "ResourceEntry",
    "ResourceGroup",
    "Selector",
    "StatusField",
    "StatusSpec",
    "Text",
    "format_duration",
    "load_katalog",
    "load_katalogs",
    "parse_duration",
    "read_katalog",
]
