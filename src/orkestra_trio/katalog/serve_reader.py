"""Reading a Katalog's ``gateway:`` block and a CRD entry's ``serve:`` block.

Every mistake is reported at its key's ``file:line:col``. What this runtime
does not do is refused there with the reason (docs/katalog.md, "The gateway"):
webhook intake, multi-cluster routing, response shaping,
per-target operatorBoxes.
"""

from __future__ import annotations

import re
from typing import Any

from orkestra_trio.katalog.condition_reader import ConditionReader
from orkestra_trio.katalog.durations import DurationError, parse_duration
from orkestra_trio.katalog.model import (
    NO_GATEWAY,
    FrozenMap,
    Gateway,
    GatewayToken,
    Serve,
    ServeField,
    ServeTarget,
    TokenGrant,
)
from orkestra_trio.katalog.reading import describe
from orkestra_trio.katalog.serve import FIELD_TYPES, OPERATIONS, SCHEMA_OPERATIONS
from orkestra_trio.katalog.yamlsource import KeyPath

_ISSUER = re.compile(
    r"https://[^\s/?#]+(/[^\s?#]*)?|http://(127\.0\.0\.1|localhost)(:\d+)?(/[^\s?#]*)?"
)
_ENV_ONLY = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
_TARGET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _refusal(what: str, why: str) -> str:
    return f"{what} is not supported by orkestra_trio: {why} (see docs/katalog.md)"


_GATEWAY_REFUSED = {
    "webhooks": _refusal(
        "gateway.webhooks", "webhook intake (GitHub, GitLab, Slack) is not served by this runtime"
    ),
    "clusters": _refusal(
        "gateway.clusters", "the gateway applies to the cluster the runtime runs on only"
    ),
}
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
#: OIDC kind -> its allow keys -> the claim each names (Orkestra's).
_OIDC_CLAIMS = {
    "githubOIDC": {
        "repository": "repository",
        "repositoryOwner": "repository_owner",
        "ref": "ref",
        "workflow": "workflow",
        "environment": "environment",
        "jobWorkflowRef": "job_workflow_ref",
    },
    "gitlabOIDC": {
        "namespacePath": "namespace_path",
        "refProtected": "ref_protected",
        "environment": "environment",
    },
    "vaultOIDC": {"entityName": "entity_name", "entityID": "entity_id", "namespace": "namespace"},
}
_OIDC_KINDS = ("githubOIDC", "gitlabOIDC", "vaultOIDC", "oidc")
_SERVE_REFUSED = {
    "clusters": _refusal("serve.clusters", "multi-cluster routing (gateway.clusters) is refused"),
    "config": _refusal(
        "serve.config", "response shaping (payload, exclude, poll): answers carry the CR as stored"
    ),
    "include": _refusal("serve.include", "write the fields inline"),
    "matchFields": _refusal("serve.matchFields", "full-CR mode uses the CRD's primary target"),
    "apply": _refusal("serve.apply", "apply overrides are not read"),
    "targetOverride": _refusal("serve.targetOverride", "the routing surface is not enforced"),
}
_TARGET_REFUSED = {
    "operatorBox": _refusal(
        "serve.target.<name>.operatorBox", "every CR of a CRD is reconciled by its one operatorBox"
    ),
    "include": _refusal("serve.target.<name>.include", "write tokens inline"),
    "config": _SERVE_REFUSED["config"],
    "clusters": _SERVE_REFUSED["clusters"],
    "modes": _refusal("serve.target.<name>.modes", "write serve.modes"),
    "apply": _SERVE_REFUSED["apply"],
    "targetOverride": _SERVE_REFUSED["targetOverride"],
}
_FIELD_KEYS = (
    "label",
    "hint",
    "placeholder",
    "category",
    "order",
    "when",
    "or",
    "required",
    "disabled",
    "path",
    "value",
    "values",
    "default",
    "override",
    "enum",
    "type",
)


def read_gateway(reader: ConditionReader, top: dict[str, Any]) -> Gateway:
    """The Katalog's ``gateway:`` (absent: :data:`NO_GATEWAY`)."""
    path: KeyPath = ("gateway",)
    block = reader.section(
        top,
        (),
        "gateway",
        allowed=("enabled", "standalone", "endpoint", "api", *_GATEWAY_REFUSED),
        refused=_GATEWAY_REFUSED,
    )
    if block is None:
        return NO_GATEWAY
    api = reader.section(block, path, "api", allowed=("enabled", "auth"))
    tokens: tuple[GatewayToken, ...] = ()
    api_enabled = False
    if api is not None:
        here = (*path, "api")
        api_enabled = reader.boolean(api, here, "enabled", False)
        auth = reader.section(api, here, "auth", allowed=("tokens",))
        if auth is not None:
            tokens = _tokens(reader, auth, (*here, "auth"))
        if api_enabled and not tokens:
            reader.report(
                here,
                "gateway.api needs at least one token (auth.tokens): every call is authenticated",
            )
    return Gateway(
        enabled=reader.boolean(block, path, "enabled", True),
        standalone=reader.boolean(block, path, "standalone", False),
        endpoint=reader.string(block, path, "endpoint") or "",
        api_enabled=api_enabled,
        tokens=tokens,
    )


def _tokens(
    reader: ConditionReader, auth: dict[str, Any], path: KeyPath
) -> tuple[GatewayToken, ...]:
    out: dict[str, GatewayToken] = {}
    for index, item in enumerate(reader.items(auth, path, "tokens")):
        here = (*path, "tokens", index)
        m = reader.mapping(
            item,
            here,
            allowed=("name", "token", "secretRef", *_OIDC_KINDS),
            required=("name",),
            what="a token entry (name, token, secretRef or an OIDC kind)",
        )
        if m is None:
            continue
        name = reader.string(m, here, "name", required=True)
        if name is None:
            continue
        if name in out:
            reader.report((*here, "name"), f"token {name!r} is declared twice")
            continue
        kinds = [k for k in ("token", "secretRef", *_OIDC_KINDS) if m.get(k) is not None]
        if len(kinds) != 1:
            reader.report(
                here, "give a token entry one of token: ${VAR}, secretRef or an OIDC kind"
            )
            continue
        if kinds[0] in _OIDC_KINDS:
            oidc = _oidc(reader, m, here, name, kinds[0])
            if oidc is not None:
                out[name] = oidc
            continue
        if m.get("token") is not None:
            raw = reader.string(m, here, "token", required=True)
            match = _ENV_ONLY.fullmatch(raw or "")
            if raw is not None and match is None:
                reader.report(
                    (*here, "token"),
                    "write token: ${VARIABLE} (the value comes from the environment; a literal "
                    "token in a Katalog is refused, as Orkestra does)",
                )
            if match is not None:
                out[name] = GatewayToken(name=name, env=match["name"])
            continue
        at = (*here, "secretRef")
        ref = reader.section(
            m,
            here,
            "secretRef",
            allowed=("name", "key", "namespace", "rotateAfter"),
            required=("name", "key"),
        )
        if ref is None:
            continue
        secret = reader.string(ref, at, "name", required=True)
        key = reader.string(ref, at, "key", required=True)
        namespace = reader.string(ref, at, "namespace") or ""
        rotate_after = _rotate_after(reader, ref, at)
        if secret is not None and key is not None:
            out[name] = GatewayToken(
                name=name,
                secret_name=secret,
                secret_key=key,
                secret_namespace=namespace,
                rotate_after=rotate_after,
            )
    return tuple(out.values())


def _rotate_after(reader: ConditionReader, ref: dict[str, Any], at: KeyPath) -> float | None:
    """``secretRef.rotateAfter`` in seconds (``90d``, ``720h``...); None when absent."""
    value = ref.get("rotateAfter")
    if value is None:
        return None
    try:
        seconds = parse_duration(value, long_units=True)
    except DurationError as exc:
        reader.report((*at, "rotateAfter"), str(exc))
        return None
    if seconds < 1:
        reader.report((*at, "rotateAfter"), "rotateAfter must be at least 1s")
        return None
    return seconds


def _oidc(
    reader: ConditionReader, m: dict[str, Any], path: KeyPath, name: str, kind: str
) -> GatewayToken | None:
    """An OIDC token entry: the issuer, audience and allowed claims it verifies."""
    here = (*path, kind)
    keys = {
        "githubOIDC": ("allow",),
        "gitlabOIDC": ("allow",),
        "vaultOIDC": ("url", "namespace", "audience", "allow"),
        "oidc": ("issuer", "audience", "allow"),
    }[kind]
    block = reader.section(m, path, kind, allowed=keys)
    if block is None:
        return None
    claims = _OIDC_CLAIMS.get(kind)
    allow: dict[str, str] = {}
    at = (*here, "allow")
    allowed = reader.section(
        block,
        here,
        "allow",
        allowed=None if claims is None else (*claims, *(("allow",) if kind == "vaultOIDC" else ())),
    )
    for key, value in (allowed or {}).items():
        if kind == "vaultOIDC" and key == "allow":
            extra = reader.mapping(value, (*at, "allow"), allowed=None)
            allow.update({str(k): _claim_text(v) for k, v in (extra or {}).items()})
            continue
        allow[claims[key] if claims is not None else str(key)] = _claim_text(value)
    if kind == "githubOIDC":
        issuer = GITHUB_ISSUER
    elif kind == "gitlabOIDC":
        issuer = GITLAB_ISSUER
    elif kind == "vaultOIDC":
        url = reader.string(block, here, "url", required=True)
        if url is None:
            reader.report(here, "vaultOIDC needs url: the Vault server")
            return None
        issuer = url.rstrip("/") + "/v1/identity/oidc"
    else:
        found = reader.string(block, here, "issuer", required=True)
        if found is None:
            reader.report(here, "oidc needs issuer: the provider's issuer URL")
            return None
        issuer = found.rstrip("/")
    if not _ISSUER.fullmatch(issuer):
        reader.report(
            here,
            f"issuer {issuer!r} must be an https URL (http only on 127.0.0.1 or localhost)",
        )
        return None
    if not allow and kind != "oidc":
        # A CI provider signs the tokens of every repository, project or entity it
        # serves: without allow claims, any of them would get in. Orkestra refuses it too.
        reader.report(
            here,
            f"{kind}.allow is empty: token {name!r} would accept every token the issuer "
            "signs; add allow claims (repository, namespacePath, entityName...)",
        )
    elif not allow:
        reader.warn(here, f"token {name!r} accepts any token its issuer signs: add allow claims")
    return GatewayToken(
        name=name,
        oidc_issuer=issuer,
        oidc_audience=reader.string(block, here, "audience") or "",
        oidc_allow=FrozenMap(allow),
    )


def _claim_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- serve ------------------------------------------------------------------------


def read_serve(
    reader: ConditionReader, crd: dict[str, Any], path: KeyPath, *, kind: str, namespaced: bool
) -> Serve | None:
    """A CRD entry's ``serve:`` (None when absent)."""
    here = (*path, "serve")
    block = reader.section(
        crd,
        path,
        "serve",
        allowed=(
            "enabled",
            "category",
            "description",
            "ignore",
            "fields",
            "labels",
            "annotations",
            "name",
            "namespace",
            "modes",
            "target",
            "tokens",
            "title",
            *_SERVE_REFUSED,
        ),
        refused=_SERVE_REFUSED,
    )
    if block is None:
        return None
    enabled = reader.boolean(block, here, "enabled", False)
    modes = reader.section(block, here, "modes", allowed=("target", "cr"))
    target_mode = reader.boolean(modes, (*here, "modes"), "target", True) if modes else True
    cr_mode = reader.boolean(modes, (*here, "modes"), "cr", True) if modes else True
    if not (target_mode or cr_mode):
        reader.report((*here, "modes"), "at least one mode (target or cr) must be enabled")
    fields = _fields(reader, block, here, "fields", spec=True)
    labels = _fields(reader, block, here, "labels", spec=False)
    annotations = _fields(reader, block, here, "annotations", spec=False)
    names = [f.name for f in (*fields, *labels, *annotations)]
    for name in {n for n in names if names.count(n) > 1}:
        reader.report(here, f"{name!r} is a field of more than one of fields, labels, annotations")
    orders = [f.order for f in (*fields, *labels, *annotations) if f.order > 0]
    for order in {o for o in orders if orders.count(o) > 1}:
        reader.report(here, f"two serve fields share order {order}: each order names one position")
    namespace = reader.text_at(block, here, "namespace")
    if enabled and namespaced and namespace is None:
        reader.report(
            here,
            "serve.namespace is required on a namespaced CRD: it decides where the gateway "
            "creates the CR (a template or a literal)",
        )
    if not namespaced and namespace is not None:
        reader.report((*here, "namespace"), "a cluster-scoped CRD has no namespace to resolve")
        namespace = None
    targets = _targets(reader, block, here, kind)
    if not target_mode and block.get("target") is not None:
        reader.report((*here, "target"), "serve.target needs modes.target: true")
    ignore = reader.items(block, here, "ignore")
    for index, item in enumerate(ignore):
        if not isinstance(item, str):
            reader.report((*here, "ignore", index), f"expected a field path, got {describe(item)}")
    return Serve(
        enabled=enabled,
        category=reader.string(block, here, "category") or "",
        description=reader.string(block, here, "description") or "",
        ignore=tuple(i for i in ignore if isinstance(i, str)),
        fields=fields,
        labels=labels,
        annotations=annotations,
        name=reader.text_at(block, here, "name"),
        namespace=namespace,
        target_mode=target_mode,
        cr_mode=cr_mode,
        targets=targets,
        tokens=_grants(reader, block, here) or FrozenMap(),
    )


def _fields(
    reader: ConditionReader, block: dict[str, Any], path: KeyPath, key: str, *, spec: bool
) -> tuple[ServeField, ...]:
    section = reader.section(block, path, key, allowed=None)
    out: list[ServeField] = []
    for name, value in (section or {}).items():
        here = (*path, key, name)
        m = reader.mapping(value if value is not None else {}, here, allowed=_FIELD_KEYS)
        if m is None:
            continue
        enum = reader.items(m, here, "enum")
        kind = reader.string(m, here, "type", choices=FIELD_TYPES) or ""
        if kind == "enum" and not enum:
            reader.report((*here, "type"), "type: enum needs an enum: list of values")
        if m.get("value") is not None and m.get("values") is not None:
            reader.report(here, "give value or values, not both")
        if not spec and (m.get("path") is not None or m.get("values") is not None):
            reader.report(here, f"a {key} entry writes metadata.{key}.{name}: no path or values")
        values: dict[str, Any] = {}
        for target_path, template in (
            reader.section(m, here, "values", allowed=None) or {}
        ).items():
            text = reader.text(template, (*here, "values", target_path))
            if text is not None:
                values[str(target_path)] = text
        disabled = m.get("disabled")
        out.append(
            ServeField(
                name=str(name),
                label=reader.string(m, here, "label") or "",
                hint=reader.string(m, here, "hint") or "",
                placeholder=reader.string(m, here, "placeholder") or "",
                category=reader.string(m, here, "category") or "",
                order=reader.integer(m, here, "order", 0, minimum=0),
                required=reader.boolean(m, here, "required", False),
                disabled=disabled if isinstance(disabled, str) else "",
                path=reader.string(m, here, "path") or "",
                value=reader.text_at(m, here, "value"),
                values=FrozenMap(values),
                default=m.get("default"),
                override=m.get("override"),
                enum=tuple(str(v) for v in enum),
                type=kind,
                when=reader.conditions(m, here, "when"),
                or_=reader.conditions(m, here, "or"),
            )
        )
    return tuple(out)


def _targets(
    reader: ConditionReader, block: dict[str, Any], path: KeyPath, kind: str
) -> tuple[ServeTarget, ...]:
    value = block.get("target")
    here = (*path, "target")
    if value is None:
        return (ServeTarget(name=kind.lower(), primary=True),)
    if isinstance(value, str):
        if not _TARGET_NAME.fullmatch(value):
            reader.report(here, f"invalid target name {value!r}: lowercase letters, digits, '-'")
        return (ServeTarget(name=value, primary=True),)
    section = reader.mapping(value, here, allowed=None, what="a target name or a map of targets")
    out: list[ServeTarget] = []
    for name, entry in (section or {}).items():
        at = (*here, name)
        m = reader.mapping(
            entry if entry is not None else {},
            at,
            allowed=("primary", "enabled", "tokens", *_TARGET_REFUSED),
            refused=_TARGET_REFUSED,
        )
        if m is None:
            continue
        out.append(
            ServeTarget(
                name=str(name),
                primary=reader.boolean(m, at, "primary", False),
                enabled=reader.boolean(m, at, "enabled", True),
                tokens=_grants(reader, m, at),
            )
        )
    if section is not None and sum(t.primary for t in out) != 1:
        reader.report(here, "exactly one serve target must have primary: true")
        return (
            (*out, ServeTarget(name=kind.lower(), primary=True))
            if not any(t.primary for t in out)
            else tuple(out)
        )
    return tuple(out)


def _grants(
    reader: ConditionReader, block: dict[str, Any], path: KeyPath
) -> FrozenMap[str, TokenGrant] | None:
    section = reader.section(block, path, "tokens", allowed=None)
    if section is None:
        return None
    out: dict[str, TokenGrant] = {}
    for name, value in section.items():
        here = (*path, "tokens", name)
        m = reader.mapping(value, here, allowed=("permissions", "namespaces"))
        if m is None:
            continue
        permissions = reader.section(
            m, here, "permissions", allowed=("global", "schema", "resources")
        )
        ops: dict[str, frozenset[str]] = {}
        for scope in ("global", "schema", "resources"):
            allowed = SCHEMA_OPERATIONS if scope == "schema" else OPERATIONS
            listed = reader.items(permissions or {}, (*here, "permissions"), scope)
            for index, op in enumerate(listed):
                if op not in allowed:
                    reader.report(
                        (*here, "permissions", scope, index),
                        f"expected one of {', '.join(allowed)}, got {describe(op)}",
                    )
            ops[scope] = frozenset(op for op in listed if op in allowed)
        namespaces = reader.items(m, here, "namespaces")
        out[str(name)] = TokenGrant(
            namespaces=tuple(str(n) for n in namespaces),
            global_ops=ops["global"],
            schema_ops=ops["schema"],
            resource_ops=ops["resources"],
        )
    return FrozenMap(out)
