"""Which names each kind accepts, with kube's own wording of the refusal.

kube-apiserver checks ``metadata.name`` with one of three rules, chosen per
resource in its validation package: most kinds take a DNS-1123 subdomain
(``my.config-1``), namespaces a DNS-1123 label (no dots, 63 characters), and
Services a DNS-1035 label (a label that starts with a letter, because the name
becomes an environment-variable prefix and a DNS name). CronJobs add a length
cap of 52 characters (the Job names they generate append 11). Users meet these
rules on their first typo, so the messages follow kube's text.
"""

from __future__ import annotations

import re

import attrs

SUBDOMAIN = "subdomain"
LABEL = "label"
DNS1035 = "dns1035"

_PATTERNS = {
    SUBDOMAIN: (
        re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"),
        253,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ),
    LABEL: (
        re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"),
        63,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
        "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ),
    DNS1035: (
        re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?"),
        63,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
        "with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ),
}

# (group, plural) -> rule, where it is not a DNS-1123 subdomain.
_RULES: dict[tuple[str, str], str] = {
    ("", "namespaces"): LABEL,
    ("", "services"): DNS1035,
}

# (group, plural) -> a length cap below the rule's own.
_MAX_LENGTH: dict[tuple[str, str], int] = {
    ("batch", "cronjobs"): 52,
}


@attrs.frozen
class NameRule:
    rule: str
    max_length: int


def rule_for(group: str, plural: str) -> NameRule:
    """The name rule of resource ``group/plural`` (custom resources: subdomain)."""
    rule = _RULES.get((group, plural), SUBDOMAIN)
    limit = _PATTERNS[rule][1]
    return NameRule(rule, min(limit, _MAX_LENGTH.get((group, plural), limit)))


def name_problems(group: str, plural: str, name: str) -> list[str]:
    """kube's messages for why ``name`` is refused (empty: accepted)."""
    rule = rule_for(group, plural)
    pattern, _, explanation = _PATTERNS[rule.rule]
    problems: list[str] = []
    if len(name) > rule.max_length:
        problems.append(f"must be no more than {rule.max_length} characters")
    if not pattern.fullmatch(name):
        problems.append(explanation)
    return problems
