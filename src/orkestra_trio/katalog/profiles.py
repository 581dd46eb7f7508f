"""Profiles: named presets a Katalog refers to instead of repeating a block.

Orkestra Katalogs write ``resources: {profile: small}``, ``probes: {readiness:
{profile: web}}``, ``rollingUpdate: {profile: safe}``, ``reconciler: {profile:
high-throughput}`` or a ``networkPolicies`` entry with ``profile: deny-all``.
The Katalog's top-level ``profiles:`` defines its own, by category; the
built-ins below are always there (a Katalog's own profile of the same name
wins). Profiles are resolved when the Katalog loads: the model never holds a
``profile`` key, only the block it stands for, with the entry's own keys
laid over it.

The built-ins' names are Orkestra's; their values are ours (Orkestra's
documentation names them without listing every field), and docs/katalog.md
lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Categories of ``profiles:`` (ORKESTRA-LANGUAGE.md 1.10).
CATEGORIES = (
    "reconciler",
    "resources",
    "probes",
    "rollingUpdate",
    "containerSecurity",
    "podSecurity",
    "networkPolicies",
    "resourceQuotas",
    "limitRanges",
    "pdb",
    "hpa",
)

_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}

BUILTIN: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "reconciler": {
        "high-throughput": {"workers": 10, "resync": "5m", "queue": {"maxDepth": 1000}},
        "conservative": {"workers": 1, "resync": "10m", "queue": {"failureThreshold": 10}},
        "development": {"workers": 1, "resync": "30s"},
    },
    "resources": {
        "small": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "medium": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "large": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
        "xlarge": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "4", "memory": "4Gi"},
        },
    },
    "probes": {
        "http": {"type": "http", "path": "/healthz"},
        "web": {"type": "http", "path": "/"},
        "tcp": {"type": "tcp"},
    },
    "rollingUpdate": {
        "safe": {"maxSurge": 1, "maxUnavailable": 0},
        "fast": {"maxSurge": "100%", "maxUnavailable": "50%"},
        "blue-green": {"maxSurge": "100%", "maxUnavailable": 0},
    },
    "containerSecurity": {
        "baseline": {"allowPrivilegeEscalation": False},
        "restricted": _RESTRICTED_CONTAINER,
        "hardened": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
    },
    "podSecurity": {
        "baseline": {},
        "restricted": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "hardened": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    },
    "networkPolicies": {
        "deny-all": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-same-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
        "allow-dns-egress": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "ports": [
                        {"protocol": "UDP", "port": 53},
                        {"protocol": "TCP", "port": 53},
                    ]
                }
            ],
        },
    },
    "resourceQuotas": {
        "small": {"hard": {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}},
        "medium": {"hard": {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "50"}},
        "large": {"hard": {"requests.cpu": "32", "requests.memory": "64Gi", "pods": "200"}},
        "xlarge": {"hard": {"requests.cpu": "128", "requests.memory": "256Gi", "pods": "1000"}},
    },
    "limitRanges": {
        "default": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "256Mi"},
                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                }
            ]
        },
    },
    "pdb": {
        "ha": {"minAvailable": 1},
        "strict": {"maxUnavailable": 0},
    },
    "hpa": {
        "cpu": {"minReplicas": 1, "maxReplicas": 10, "cpu": 80},
    },
}

#: Entry keys whose value may be ``{profile: name, ...}``, and their category.
FIELD_CATEGORIES: Mapping[str, str] = {
    "resources": "resources",
    "rollingUpdate": "rollingUpdate",
    "securityContext": "containerSecurity",
    "podSecurity": "podSecurity",
}

#: Resource groups whose entries take ``profile:`` themselves (the category's name).
GROUP_CATEGORIES: frozenset[str] = frozenset(
    {"networkPolicies", "resourceQuotas", "limitRanges", "pdb", "hpa"}
)
