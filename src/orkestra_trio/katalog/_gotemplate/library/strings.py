"""Text: strings, data (encodings, hashes, names), domains, validation, net, random, semver."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import secrets
import string
import uuid
from typing import Any
from urllib.parse import urlparse

from orkestra_trio.katalog import semver
from orkestra_trio.katalog._gotemplate.errors import GoExecError
from orkestra_trio.katalog._gotemplate.functions import template_function, to_json
from orkestra_trio.katalog._gotemplate.library._common import integer, items, text
from orkestra_trio.katalog._gotemplate.limits import RenderBudget
from orkestra_trio.katalog.saferegex import RegexRefused, compile_regex

# -- strings --------------------------------------------------------------------


@template_function("trimSpace")
def trim_space(value: Any) -> str:
    return text(value).strip()


@template_function("trimPrefix")
def trim_prefix(prefix: Any, value: Any) -> str:
    return text(value).removeprefix(text(prefix))


@template_function("trimSuffix")
def trim_suffix(suffix: Any, value: Any) -> str:
    return text(value).removesuffix(text(suffix))


@template_function("trimAll")
def trim_all(cutset: Any, value: Any) -> str:
    return text(value).strip(text(cutset))


@template_function("split")
def split(separator: Any, value: Any) -> list[str]:
    """``split "," "a,b"`` -> [a b] (Go's strings.Split; "" separator splits characters)."""
    sep, s = text(separator), text(value)
    return list(s) if sep == "" else s.split(sep)


@template_function("splitList")
def split_list(separator: Any, value: Any) -> list[str]:
    return split(separator, value)


@template_function("join", needs_budget=True)
def join(budget: RenderBudget, separator: Any, values: Any) -> str:
    parts = [text(v) for v in items(values)] if not isinstance(values, str) else [values]
    sep = text(separator)
    budget.check_value_size(sum(map(len, parts)) + len(sep) * max(0, len(parts) - 1), "join")
    return sep.join(parts)


@template_function("concat", needs_budget=True)
def concat(budget: RenderBudget, *values: Any) -> str:
    """Orkestra's concat: the values' text, joined."""
    parts = [text(v) for v in values]
    budget.check_value_size(sum(map(len, parts)), "concat")
    return "".join(parts)


@template_function("repeat", needs_budget=True)
def repeat(budget: RenderBudget, count: Any, value: Any) -> str:
    n, s = integer(count, "repeat"), text(value)
    if n < 0:
        raise GoExecError("repeat: negative count")
    budget.check_value_size(n * len(s), "repeat")
    return s * n


@template_function("truncate")
def truncate(length: Any, value: Any) -> str:
    """Orkestra's truncate: at most ``length`` characters, ending in "..." when cut."""
    n, s = integer(length, "truncate"), text(value)
    if n < 0 or len(s) <= n:
        return s
    return s[: max(0, n - 3)] + "..." if n > 3 else s[:n]


@template_function("trunc")
def trunc(length: Any, value: Any) -> str:
    """sprig's trunc: the first ``length`` characters (negative: the last)."""
    n, s = integer(length, "trunc"), text(value)
    return s[n:] if n < 0 else s[:n]


@template_function("camelToKebab")
def camel_to_kebab(value: Any) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text(value))
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", s).lower()


@template_function("kebabcase")
def kebabcase(value: Any) -> str:
    return camel_to_kebab(value).replace("_", "-").replace(" ", "-")


@template_function("snakecase")
def snakecase(value: Any) -> str:
    return kebabcase(value).replace("-", "_")


@template_function("title")
def title(value: Any) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in text(value).split(" "))


@template_function("upper")
def upper(value: Any) -> str:
    return text(value).upper()


@template_function("lower")
def lower(value: Any) -> str:
    return text(value).lower()


@template_function("nospace")
def nospace(value: Any) -> str:
    return "".join(text(value).split())


@template_function("indent", needs_budget=True)
def indent(budget: RenderBudget, spaces: Any, value: Any) -> str:
    pad = " " * integer(spaces, "indent")
    s = text(value)
    budget.check_value_size(len(s) + len(pad) * (s.count("\n") + 1), "indent")
    return pad + s.replace("\n", "\n" + pad)


@template_function("nindent", needs_budget=True)
def nindent(budget: RenderBudget, spaces: Any, value: Any) -> str:
    return "\n" + indent(budget, spaces, value)


@template_function("squote")
def squote(*values: Any) -> str:
    return " ".join(f"'{text(v)}'" for v in values if v is not None)


@template_function("substr")
def substr(start: Any, end: Any, value: Any) -> str:
    s = text(value)
    a, b = integer(start, "substr"), integer(end, "substr")
    if a < 0:
        return s[:b] if b >= 0 else s
    return s[a:b] if b >= 0 else s[a:]


@template_function("regexMatch")
def regex_match(pattern: Any, value: Any) -> bool:
    return _regex(pattern).search(text(value)) is not None


@template_function("regexFind")
def regex_find(pattern: Any, value: Any) -> str:
    found = _regex(pattern).search(text(value))
    return found.group(0) if found else ""


@template_function("regexReplaceAll", needs_budget=True)
def regex_replace_all(budget: RenderBudget, pattern: Any, value: Any, replacement: Any) -> str:
    # Go's $1 is Python's \1.
    repl = re.sub(r"\$\{?(\d+)\}?", r"\\\1", text(replacement))
    result = _regex(pattern).sub(repl, text(value))
    budget.check_value_size(len(result), "regexReplaceAll")
    return result


def _regex(pattern: Any) -> re.Pattern[str]:
    # Same safety rules as regex conditions: bounded, no catastrophic nesting.
    try:
        return compile_regex(text(pattern))
    except RegexRefused as exc:
        raise GoExecError(str(exc)) from None


# -- data -----------------------------------------------------------------------


@template_function("toBase64")
def to_base64(value: Any) -> str:
    return base64.b64encode(text(value).encode()).decode("ascii")


@template_function("b64enc")
def b64enc(value: Any) -> str:
    return to_base64(value)


@template_function("fromBase64")
def from_base64(value: Any) -> str:
    try:
        return base64.b64decode(text(value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise GoExecError(f"not base64 text: {exc}") from None


@template_function("b64dec")
def b64dec(value: Any) -> str:
    return from_base64(value)


@template_function("sha256sum")
def sha256sum(value: Any) -> str:
    """Orkestra's sha256sum: the first 8 hex characters (see sha256sumFull for all 64)."""
    return hashlib.sha256(text(value).encode()).hexdigest()[:8]


@template_function("sha256sumFull")
def sha256sum_full(value: Any) -> str:
    return hashlib.sha256(text(value).encode()).hexdigest()


@template_function("sha1sum")
def sha1sum(value: Any) -> str:
    return hashlib.sha1(text(value).encode(), usedforsecurity=False).hexdigest()


@template_function("adler32sum")
def adler32sum(value: Any) -> str:
    import zlib

    return str(zlib.adler32(text(value).encode()))


@template_function("toJSON")
def to_json_upper(value: Any) -> str:
    return to_json(value)


@template_function("fromJson")
def from_json(value: Any) -> Any:
    try:
        return json.loads(text(value))
    except json.JSONDecodeError as exc:
        raise GoExecError(f"not JSON: {exc}") from None


@template_function("toPrettyJson")
def to_pretty_json(value: Any) -> str:
    return json.dumps(json.loads(to_json(value)), indent=2, sort_keys=True, ensure_ascii=False)


def _dns_label(value: str, limit: int) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", value.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    return slug[:limit].rstrip("-")


@template_function("slugify")
def slugify(value: Any) -> str:
    """A DNS-label-safe name: lowercase, [a-z0-9-], no leading/trailing '-', at most 63."""
    return _dns_label(text(value), 63)


@template_function("truncateName")
def truncate_name(value: Any) -> str:
    """A name cut to 63 characters; when cut, a hash suffix keeps distinct names distinct."""
    s = text(value)
    if len(s) <= 63:
        return s
    digest = hashlib.sha256(s.encode()).hexdigest()[:8]
    return s[:54].rstrip("-.") + "-" + digest


@template_function("repoSlug")
def repo_slug(value: Any) -> str:
    """``https://github.com/org/repo.git`` or ``git@github.com:org/repo`` -> ``org/repo``."""
    s = text(value).strip().removesuffix("/").removesuffix(".git")
    if s.startswith("git@") and ":" in s:
        s = s.split(":", 1)[1]
    elif "://" in s:
        s = urlparse(s).path
    parts = [p for p in s.split("/") if p]
    return "/".join(parts[-2:])


@template_function("lookup")
def lookup(*args: Any) -> Any:
    """Helm's lookup asks the API server; a Katalog reads what it watches instead."""
    raise GoExecError(
        "lookup is not available: it would query the API server during a render; "
        "read observed objects from .children or .cross instead"
    )


# -- domain ---------------------------------------------------------------------


@template_function("domainHost")
def domain_host(value: Any) -> str:
    """The host of a URL or host[:port]: ``https://a.b.com:8443/x`` -> ``a.b.com``."""
    s = text(value).strip()
    if "://" not in s:
        s = "//" + s
    return urlparse(s).hostname or ""


@template_function("domainBare")
def domain_bare(value: Any) -> str:
    """The host without a leading ``www.``."""
    return domain_host(value).removeprefix("www.")


# -- kubevalidation & validation ------------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


@template_function("isDNS1123Subdomain")
def is_dns1123_subdomain(value: Any) -> bool:
    s = text(value)
    return len(s) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(s) is not None


@template_function("isDNS1123Label")
def is_dns1123_label(value: Any) -> bool:
    s = text(value)
    return len(s) <= 63 and _DNS1123_LABEL.fullmatch(s) is not None


def _qualified_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (prefix and is_dns1123_subdomain(prefix)):
        return False
    return 0 < len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name) is not None


@template_function("isValidLabelKey")
def is_valid_label_key(value: Any) -> bool:
    return _qualified_key(text(value))


@template_function("isValidAnnotationKey")
def is_valid_annotation_key(value: Any) -> bool:
    return _qualified_key(text(value))


@template_function("isValidLabelValue")
def is_valid_label_value(value: Any) -> bool:
    s = text(value)
    return s == "" or (len(s) <= 63 and _QUALIFIED_NAME.fullmatch(s) is not None)


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_IMAGE = re.compile(
    r"(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)


@template_function("isValidEmail")
def is_valid_email(value: Any) -> bool:
    return _EMAIL.fullmatch(text(value)) is not None


@template_function("isValidURL")
def is_valid_url(value: Any) -> bool:
    parsed = urlparse(text(value))
    return bool(parsed.scheme) and bool(parsed.netloc)


@template_function("isValidGitRepository")
def is_valid_git_repository(value: Any) -> bool:
    s = text(value)
    return bool(re.fullmatch(r"git@[\w.-]+:[\w./-]+", s)) or (
        is_valid_url(s) and urlparse(s).scheme in ("http", "https", "ssh", "git")
    )


@template_function("isValidImageRef")
def is_valid_image_ref(value: Any) -> bool:
    s = text(value)
    return 0 < len(s) <= 4096 and _IMAGE.fullmatch(s) is not None


@template_function("isValidJSON")
def is_valid_json(value: Any) -> bool:
    try:
        json.loads(text(value))
    except json.JSONDecodeError:
        return False
    return True


@template_function("isValidPort")
def is_valid_port(value: Any) -> bool:
    s = text(value).strip()
    return s.isdigit() and 1 <= int(s) <= 65535


# -- net ------------------------------------------------------------------------


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text(value).strip())
    except ValueError:
        return None


@template_function("ipValid")
def ip_valid(value: Any) -> bool:
    return _ip(value) is not None


@template_function("ipIsPrivate")
def ip_is_private(value: Any) -> bool:
    ip = _ip(value)
    return ip is not None and ip.is_private


@template_function("cidrContains")
def cidr_contains(cidr: Any, value: Any) -> bool:
    ip = _ip(value)
    try:
        network = ipaddress.ip_network(text(cidr).strip(), strict=False)
    except ValueError:
        return False
    return ip is not None and ip.version == network.version and ip in network


# -- random (use with once: true, or every reconcile writes a new value) ---------

_MAX_RANDOM = 4096


def _length(count: Any, function: str) -> int:
    n = integer(count, function)
    if not 0 <= n <= _MAX_RANDOM:
        raise GoExecError(f"{function}: length must be between 0 and {_MAX_RANDOM}")
    return n


@template_function("randomAlphanumeric")
def random_alphanumeric(count: Any) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(_length(count, "randomAlphanumeric")))


@template_function("randAlphaNum")
def rand_alpha_num(count: Any) -> str:
    return random_alphanumeric(count)


@template_function("randomHex")
def random_hex(count: Any) -> str:
    n = _length(count, "randomHex")
    return secrets.token_hex((n + 1) // 2)[:n]


@template_function("randomBase64")
def random_base64(count: Any) -> str:
    """``count`` random bytes, base64-encoded."""
    return base64.b64encode(secrets.token_bytes(_length(count, "randomBase64"))).decode()


@template_function("uuidv4")
def uuidv4() -> str:
    return str(uuid.uuid4())


# -- semver ---------------------------------------------------------------------


def _semver(value: Any, function: str) -> semver.Version:
    try:
        return semver.parse(text(value))
    except ValueError as exc:
        raise GoExecError(f"{function}: {exc}") from None


@template_function("semverValid")
def semver_valid(value: Any) -> bool:
    return semver.is_valid(text(value))


@template_function("semverMajor")
def semver_major(value: Any) -> int:
    return _semver(value, "semverMajor")[0]


@template_function("semverMinor")
def semver_minor(value: Any) -> int:
    return _semver(value, "semverMinor")[1]


@template_function("semverPatch")
def semver_patch(value: Any) -> int:
    return _semver(value, "semverPatch")[2]


@template_function("semverCompare")
def semver_compare(constraint: Any, version: Any) -> bool:
    """sprig's semverCompare: does ``version`` satisfy ``constraint`` (">= 1.2, < 2", "^1.4")?"""
    try:
        return semver.satisfies(text(constraint), _semver(version, "semverCompare"))
    except ValueError as exc:
        raise GoExecError(f"semverCompare: {exc}") from None


@template_function("semverConstraint")
def semver_constraint(constraint: Any, version: Any) -> bool:
    return semver_compare(constraint, version)


@template_function("semverBump")
def semver_bump(part: Any, version: Any) -> str:
    """``semverBump "minor" "1.4.2"`` -> ``1.5.0``."""
    major, minor, patch, _ = _semver(version, "semverBump")
    which = text(part)
    if which == "major":
        return f"{major + 1}.0.0"
    if which == "minor":
        return f"{major}.{minor + 1}.0"
    if which == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise GoExecError(f"semverBump: expected major, minor or patch, got {which!r}")
