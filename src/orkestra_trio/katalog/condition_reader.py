"""Reading the parts several Katalog entities share: conditions and cross sources.

``when``/``or`` lists appear on boxes, resource entries, status fields,
``requeue`` and autoscale conditions; a ``source:`` (ONCOP host or raw
endpoint) appears on cross entries and on autoscale conditions. Both are read
here, once, with the load-time checks the language promises: unknown
operators, one operator per condition, numeric operands, regex safety, and
endpoints whose scheme and host are written literally.
"""

from __future__ import annotations

import re
from typing import Any

from orkestra_trio.katalog import orkestra_keys
from orkestra_trio.katalog.conditions import (
    ALIASES,
    CLOCK_OPERATORS,
    DEFAULT_CRON_DURATION,
    OPERATORS,
    VALUE_TYPES,
    Condition,
    check_condition,
)
from orkestra_trio.katalog.errors import did_you_mean
from orkestra_trio.katalog.model import CROSS_TYPES, CrossSource, Text
from orkestra_trio.katalog.notification_reader import NotificationReader
from orkestra_trio.katalog.reading import DOT_PATH, Shape, describe, go_text
from orkestra_trio.katalog.template import number_from_text
from orkestra_trio.katalog.yamlsource import KeyPath

_SOURCE_KEYS = (
    "host",
    "endpoint",
    "type",
    "protocol",  # Orkestra's newest name for type
    "cacheFor",
    "token",
    "tokenFrom",
    "staleFor",
    "auth",  # Orkestra's: {token: ...}
)
# ``token: $NAME`` or ``${NAME}``: Orkestra's reference to an environment variable.
_ENV_REFERENCE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_ENV_NAME = Shape(re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "an environment variable name")
# Scheme and host of an endpoint: everything up to the first /, ? or # after "//".
_URL_AUTHORITY = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)")
_NUMERIC_OPERATORS = frozenset({"greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"})
# Every key that names an operator in the short form: the operators and their aliases.
_OPERATOR_KEYS = OPERATORS | ALIASES.keys()
# Keys of the long form: {field, operator: equals, value: x, valueType: int}.
_LONG_FORM = frozenset({"operator", "value", "valueType"})
_PRESENCE_OPERATORS = frozenset({"exists", "notExists"})


class ConditionReader(NotificationReader):
    """A :class:`NotificationReader` that also reads conditions and cross sources."""

    # -- conditions --------------------------------------------------------

    def conditions(
        self, parent: dict[str, Any], path: KeyPath, key: str, *, allow_source: bool = False
    ) -> tuple[Condition, ...]:
        out: list[Condition] = []
        for index, item in enumerate(self.items(parent, path, key)):
            condition = self.condition(item, (*path, key, index), allow_source=allow_source)
            if condition is not None:
                out.append(condition)
        return tuple(out)

    def condition(self, value: Any, path: KeyPath, *, allow_source: bool) -> Condition | None:
        if not isinstance(value, dict):
            self.report(
                path,
                f"expected a condition mapping (field: ..., equals: ...), got {describe(value)}",
            )
            return None
        operator = self.condition_operator(value, path, allow_source=allow_source)
        if operator is None:
            return None
        # The long form names the operator in `operator` and its operand in `value`.
        operand_key = "value" if "operator" in value else operator
        if operand_key != "value":
            operand_key = next(k for k in value if ALIASES.get(k, k) == operator)
        field = self.string(value, path, "field") or ""
        field_template = None
        broken = False
        if field:
            if "{{" in field:
                field_template = self.compile(field, (*path, "field"))
                broken = field_template is None
            elif not DOT_PATH.fullmatch(field):
                self.report(
                    (*path, "field"),
                    f"invalid field {field!r}: a dot path like spec.replicas or a template",
                )
        operand = self.operand(operator, value.get(operand_key), (*path, operand_key))
        value_template = None
        if operand is not None and "{{" in operand:
            # A templated operand is rendered per CR; only its syntax is known now.
            value_template = self.compile(operand, (*path, operand_key))
            broken = broken or value_template is None
        negate = self.boolean(value, path, "negate", False)
        value_type = self.string(value, path, "valueType", choices=VALUE_TYPES) or "string"
        source = None
        if allow_source and value.get("source") is not None:
            source = self.cross_source(value["source"], (*path, "source"))
        duration = DEFAULT_CRON_DURATION
        if operator == "cron":
            duration = self.duration(value, path, "duration", DEFAULT_CRON_DURATION) or 0.0
            if duration <= 0:
                self.report((*path, "duration"), "a cron window must last longer than 0s")
                return None
        elif "duration" in value:
            self.report((*path, "duration"), "duration belongs to the cron operator", at_key=True)
            return None
        notify = None
        if value.get("notify") is not None:
            notify = self.notify(
                value["notify"], (*path, "notify"), self.where(self.map.value_at(path))
            )
        if operand is None or broken:
            return None
        # Compiled once here, named after their file:line:col.
        condition = Condition(
            field=field,
            operator=operator,
            value=operand,
            negate=negate,
            source=source,
            field_template=field_template,
            value_template=value_template,
            value_type=value_type,
            duration=duration,
            notify=notify,
        )
        # The evaluator's own load-time check: regex safety, between bounds.
        problem = check_condition(condition)
        if problem is not None:
            self.report((*path, operand_key), problem)
            return None
        return condition

    def condition_operator(
        self, value: dict[str, Any], path: KeyPath, *, allow_source: bool
    ) -> str | None:
        """The one operator a condition mapping uses; None after reporting.

        Also reports every key that is neither an operator nor a plain key, and
        a missing ``field``, so one pass over the keys finds every mistake.
        """
        # notify: the teams alerted while the condition holds (NotificationReader).
        plain_keys = {"field", "negate", "notify", "duration", *_LONG_FORM}
        if allow_source:
            plain_keys.add("source")
        operators: list[str] = []
        long_form = value.get("operator")
        if long_form is not None:
            name = ALIASES.get(str(long_form), str(long_form))
            if name in OPERATORS:
                operators.append(name)
            else:
                hint = did_you_mean(str(long_form), _OPERATOR_KEYS) or (
                    f" (operators: {', '.join(sorted(OPERATORS))})"
                )
                self.report((*path, "operator"), f"unknown condition operator {long_form!r}{hint}")
                return None
        elif "value" in value or "valueType" in value:
            self.report(path, "value and valueType belong to the long form: add operator: ...")
        for key in value:
            if key in plain_keys:
                continue
            if key in _OPERATOR_KEYS:
                operators.append(ALIASES.get(key, key))
                continue
            if key == "source":
                self.report(
                    (*path, key), "source is allowed on autoscale conditions only", at_key=True
                )
                continue
            if key in orkestra_keys.CONDITION_OPERATORS:
                self.report((*path, key), orkestra_keys.CONDITION_OPERATORS[key], at_key=True)
                return None
            hint = did_you_mean(key, _OPERATOR_KEYS | plain_keys)
            if not hint:
                hint = f" (operators: {', '.join(sorted(OPERATORS))})"
            self.report((*path, key), f"unknown condition operator {key!r}{hint}", at_key=True)
        if value.get("field") is None and not (set(operators) & CLOCK_OPERATORS):
            self.report(path, "missing required key 'field'")
        if len(operators) > 1:
            self.report(
                path, f"a condition takes exactly one operator, found {', '.join(operators)}"
            )
        if not operators:
            if all(k in plain_keys for k in value):
                self.report(
                    path, f"a condition needs an operator, one of {', '.join(sorted(OPERATORS))}"
                )
            return None
        return operators[0]

    def clock_operand(self, operator: str, value: Any, path: KeyPath) -> str | None:
        """dayOfWeek/time/cron operands, normalised to the text the evaluator reads.

        cron: the expression as written (``duration`` is read beside it).

        dayOfWeek: ``weekday``, ``weekend``, ``"mon,fri"``, ``{weekday: true}``,
        ``{in: [mon, fri]}``, ``{notIn: sat}`` -> ``weekday``, ``weekend``,
        ``in:mon,fri``, ``notIn:sat``. time: ``{after: "09:00", before: "18:00"}``
        or ``"09:00-18:00"`` -> ``09:00,18:00``.
        """
        if operator == "cron":
            if isinstance(value, dict | list) or value is None:
                self.report(
                    path, f"cron takes an expression like '0 9 * * 1-5', got {describe(value)}"
                )
                return None
            return go_text(value)
        if operator == "time":
            if isinstance(value, str) and "-" in value:
                after, _, before = value.partition("-")
                return f"{after.strip()},{before.strip()}"
            m = self.mapping(value, path, allowed=("after", "before"))
            if m is None:
                return None
            return f"{go_text(m.get('after'))},{go_text(m.get('before'))}"
        if isinstance(value, str):
            if value in ("weekday", "weekend"):
                return value
            return "in:" + value
        m = self.mapping(value, path, allowed=("weekday", "weekend", "in", "notIn"))
        if m is None or len(m) != 1:
            if m is not None:
                self.report(path, "dayOfWeek takes exactly one of weekday, weekend, in, notIn")
            return None
        [(mode, days)] = m.items()
        if mode in ("weekday", "weekend"):
            if days is not True:
                self.report((*path, mode), f"write {mode}: true")
                return None
            return str(mode)
        if isinstance(days, list):
            days = ",".join(go_text(d) for d in days)
        return f"{mode}:{go_text(days)}"

    def operand(self, operator: str, value: Any, path: KeyPath) -> str | None:
        """The operator's value as the string the evaluator compares; None after reporting."""
        if operator in CLOCK_OPERATORS:
            return self.clock_operand(operator, value, path)
        if operator in _PRESENCE_OPERATORS:
            if value is False:
                opposite = "notExists" if operator == "exists" else "exists"
                self.report(path, f"{operator}: false is ambiguous; write {opposite}: true")
                return None
            return ""
        if operator in ("in", "notIn") and isinstance(value, list):
            if any(isinstance(v, dict | list) for v in value):
                self.report(path, "expected a list of plain values")
                return None
            return ",".join(go_text(v) for v in value)
        if operator in ("between", "notBetween") and isinstance(value, list):
            value = ",".join(go_text(v) for v in value)
        if isinstance(value, dict | list):
            self.report(path, f"expected a plain value, got {describe(value)}")
            return None
        operand = go_text(value)
        # The same test the evaluator applies to the operand (conditions._as_number).
        numeric = number_from_text(operand) is not None
        if "{{" not in operand and operator in _NUMERIC_OPERATORS and not numeric:
            self.report(path, f"{operator} compares numbers; {operand!r} is not a number")
            return None
        return operand

    def cross_source(self, value: Any, path: KeyPath) -> CrossSource | None:
        m = self.mapping(
            value,
            path,
            allowed=_SOURCE_KEYS,
            refused=orkestra_keys.CROSS_SOURCE,
        )
        if m is None:
            return None
        has_host, has_endpoint = m.get("host") is not None, m.get("endpoint") is not None
        if has_host == has_endpoint:
            self.report(path, "a source needs exactly one of host (ONCOP) or endpoint (raw JSON)")
        host = self.host(m, path) if has_host else None
        endpoint = self.endpoint(m, path) if has_endpoint else None
        cache_for = self.duration(m, path, "cacheFor", 30.0)
        cache_for = 30.0 if cache_for is None else cache_for
        stale_for = self.duration(m, path, "staleFor", None)
        token, token_env = self.token(m, path, secret_ref=True)
        token_secret = self.token_secret(m, path)
        if token_secret is not None and (token is not None or token_env is not None):
            self.report((*path, "auth"), "give auth.secretRef or a token, not both")
        if m.get("type") is not None and m.get("protocol") is not None:
            self.report((*path, "protocol"), "protocol and type are the same key; keep one")
        return CrossSource(
            host=host,
            endpoint=endpoint,
            type=self.string(m, path, "type", choices=CROSS_TYPES)
            or self.string(m, path, "protocol", choices=CROSS_TYPES)
            or "cr",
            cache_for=cache_for,
            token=token,
            token_from_env=token_env,
            token_secret=token_secret,
            stale_for=2 * cache_for if stale_for is None else stale_for,
        )

    def token_secret(self, m: dict[str, Any], path: KeyPath) -> tuple[str, str, str] | None:
        """``auth: {secretRef: {name, namespace, key}}``: the token is that Secret key."""
        auth = m.get("auth")
        if not isinstance(auth, dict) or auth.get("secretRef") is None:
            return None
        here = (*path, "auth")
        ref = self.section(
            auth,
            here,
            "secretRef",
            allowed=("name", "namespace", "key"),
            required=("name", "namespace", "key"),
        )
        if ref is None:
            return None
        at = (*here, "secretRef")
        parts = [
            self.string(ref, at, field, required=True) for field in ("namespace", "name", "key")
        ]
        namespace, name, key = parts
        if namespace is None or name is None or key is None:
            return None
        if "{{" in namespace + name:
            self.report(
                at, "secretRef names a fixed Secret: its name and namespace are not templates"
            )
            return None
        return namespace, name, key

    def token(
        self, m: dict[str, Any], path: KeyPath, *, secret_ref: bool = False
    ) -> tuple[str | None, str | None]:
        """The bearer token of a source: (literal token, environment variable naming it).

        ``token: abc``; ``token: $NAME`` (or ``${NAME}``: the variable, Orkestra's
        reference); ``tokenFrom: {env: NAME}``; or Orkestra's ``auth: {token: ...}``.
        """
        parent, here = m, path
        auth = self.section(m, path, "auth", allowed=("token", "secretRef"))
        if auth is not None:
            parent, here = auth, (*path, "auth")
            if auth.get("secretRef") is not None and not secret_ref:
                self.report(
                    (*here, "secretRef"),
                    "auth.secretRef is read for cross sources only: here, expose the Secret to "
                    "the runtime as an environment variable and write auth: {token: $VARIABLE}",
                )
            if m.get("token") is not None:
                self.report((*path, "auth"), "give token or auth.token, not both")
        token = self.string(parent, here, "token", required=True)
        token_from = self.section(m, path, "tokenFrom", allowed=("env",), required=("env",))
        if token_from is not None:
            if token is not None:
                self.report((*path, "tokenFrom"), "give token or tokenFrom, not both")
            env = self.string(
                token_from, (*path, "tokenFrom"), "env", required=True, shape=_ENV_NAME
            )
            return None, env
        reference = _ENV_REFERENCE.fullmatch(token) if token is not None else None
        if reference is not None:
            return None, reference["braced"] or reference["bare"]
        return token, None

    def host(self, m: dict[str, Any], path: KeyPath) -> str | None:
        host = self.string(m, path, "host", required=True)
        if host is None:
            return None
        here = (*path, "host")
        if "{{" in host:
            self.report(here, "host cannot be a template (it is fixed at load time)")
            return None
        match = _URL_AUTHORITY.match(host)
        if match is None or match["scheme"] not in ("http", "https") or not match["authority"]:
            self.report(here, f"expected http://host:port or https://host:port, got {host!r}")
            return None
        if host[match.end() :] not in ("", "/"):
            self.report(
                here,
                f"host is scheme://host:port only (ONCOP builds the path), got {host!r}",
            )
            return None
        return host.rstrip("/")

    def endpoint(self, m: dict[str, Any], path: KeyPath, key: str = "endpoint") -> Text | None:
        """A URL whose scheme and host are literal (``source.endpoint``, an external call's url)."""
        here = (*path, key)
        raw = self.string(m, path, key, required=True)
        if raw is None:
            return None
        match = _URL_AUTHORITY.match(raw)
        if match is None or "{{" in match.group(0):
            self.report(
                here,
                f"the scheme and host of {'an endpoint' if key == 'endpoint' else 'a ' + key} "
                "cannot be templated: "
                "write them literally (https://host/...); only the path and query may be templates",
            )
            return None
        if match["scheme"] not in ("http", "https") or not match["authority"]:
            self.report(here, f"expected an http:// or https:// URL, got {raw!r}")
            return None
        rest = raw[match.end() :]
        if rest and rest[0] not in "/?#":  # pragma: no cover - the pattern stops only there
            self.report(here, "the host must be followed by '/' or '?' before any template")
            return None
        return self.text(raw, here)
