"""Position-aware reading of a parsed YAML document: the loader's toolbox.

A Katalog is checked while it is read: every helper here takes the value, its
key path and the :class:`~orkestra_trio.katalog.yamlsource.SourceMap`, and
either returns the value in the shape asked for or reports an issue at the
value's ``file:line:col`` and returns a default, so that reading goes on and
the user sees every problem of a file in one run. Nothing here knows what a
Katalog is; :mod:`.condition_reader` and :mod:`.loader` build on it.
"""

from __future__ import annotations

import base64
import datetime
import math
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from orkestra_trio.katalog import template as templates
from orkestra_trio.katalog.durations import DurationError, parse_duration
from orkestra_trio.katalog.errors import KatalogIssue, did_you_mean
from orkestra_trio.katalog.model import (
    EMPTY_MAP,
    FrozenMap,
    FrozenValue,
    Location,
    Text,
)
from orkestra_trio.katalog.sentinels import SENTINELS
from orkestra_trio.katalog.template import CompiledTemplate
from orkestra_trio.katalog.yamlsource import (
    KeyPath,
    Position,
    SourceMap,
    YamlSourceError,
    format_path,
    load_yaml_file,
)


@attrs.frozen
class Shape:
    """A pattern a string must match, and how to tell the user what it should look like."""

    pattern: re.Pattern[str]
    hint: str


# A dot path into the template context or under .status: ``spec.sites``.
DOT_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")


def describe(value: Any) -> str:
    """How a value is named in "expected X, got Y" messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def go_text(value: Any) -> str:
    """A YAML scalar as Go would print it: true/false, 3 (not 3.0), "" for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


_SENTINEL_NAMES = frozenset(SENTINELS)


class DocumentReader:
    """Reads one parsed document, collecting issues instead of raising them.

    ``issues`` grows as values are read; a value is trustworthy only when
    reading it added no issue. Subclasses add what a document holds.
    """

    #: The sentinels the box being read declares (``preReconcile.sentinels``): the
    #: only ones its templates may call.
    declared_sentinels: frozenset[str] = frozenset()

    def __init__(self, source_map: SourceMap, path: Path) -> None:
        self.map = source_map
        self.file = source_map.file
        self.base_dir = path.parent
        #: Files the document names (include:) must lie inside this directory.
        self.root_dir = path.parent
        #: The other files the document was read from (include:, Motifs), in order.
        self.read_files: list[Path] = []
        self.issues: list[KatalogIssue] = []
        #: What does not stop the document from loading, but its author should know.
        self.warnings: list[KatalogIssue] = []
        #: User notes (name -> expression) every template of the document may call.
        self.notes: dict[str, str] = {}

    def set_notes(self, notes: Mapping[str, str]) -> None:
        self.notes = dict(notes)

    # -- reporting ---------------------------------------------------------

    def report(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        self.issues.append(
            KatalogIssue(self.map.file_of(pos), pos.line, pos.column, format_path(path), message)
        )

    def warn(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        self.warnings.append(
            KatalogIssue(self.map.file_of(pos), pos.line, pos.column, format_path(path), message)
        )

    def location(self, path: KeyPath, *, at_key: bool = False) -> Location:
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        return Location(self.map.file_of(pos), pos.line, pos.column, format_path(path))

    def where(self, pos: Position) -> str:
        """``file:line:col``: how a compiled template names itself in render errors."""
        return f"{self.map.file_of(pos)}:{pos.line}:{pos.column}"

    # -- shapes ------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: KeyPath,
        *,
        allowed: Collection[str] | None,
        required: Sequence[str] = (),
        what: str = "a mapping",
        refused: Mapping[str, str] = EMPTY_MAP,
    ) -> dict[str, Any] | None:
        """``value`` as a mapping whose keys are checked, or None after reporting.

        ``refused`` names keys that are known (Orkestra's) but not accepted
        here, each with the message that says why or what to write instead.
        """
        if not isinstance(value, dict):
            self.report(path, f"expected {what}, got {describe(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key in refused:
                    self.report((*path, key), refused[key], at_key=True)
                elif key not in allowed:
                    hint = did_you_mean(key, allowed) or (
                        f" (valid keys: {', '.join(sorted(allowed))})" if allowed else ""
                    )
                    self.report((*path, key), f"unknown key {key!r}{hint}", at_key=True)
        for key in required:
            if value.get(key) is None:
                self.report(path, f"missing required key {key!r}")
        return value

    def section(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        *,
        allowed: Collection[str] | None,
        required: Sequence[str] = (),
        refused: Mapping[str, str] = EMPTY_MAP,
        include: bool = False,
    ) -> dict[str, Any] | None:
        """The mapping under ``parent[key]``; None (silently) when absent or null.

        ``include``: the section may name files to lay in (``include: [a.yaml]``,
        see :meth:`with_includes`); ``parent[key]`` is replaced by the result,
        so that whatever reads the section later sees the included keys.
        """
        value = parent.get(key)
        if value is None:
            return None
        if include and isinstance(value, dict) and "include" in value:
            value = parent[key] = self.with_includes(value, (*path, key))
        return self.mapping(
            value, (*path, key), allowed=allowed, required=required, refused=refused
        )

    # -- include: -----------------------------------------------------------

    def with_includes(self, section: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        """``section`` with the files its ``include:`` names laid in, in order.

        Any section reader may call this. Merge rule: a list the section and a
        file both have is the section's items, then the file's; mappings merge
        key by key; otherwise the section's own value wins (then the earlier
        file's). Each included node keeps its file and line, so a mistake in
        an included file is reported there. Paths are relative to the
        including file and must stay inside the Katalog's directory.
        """
        merged = {key: value for key, value in section.items() if key != "include"}
        here = (*path, "include")
        names = section["include"]
        if isinstance(names, str):
            listed: list[tuple[Any, KeyPath]] = [(names, here)]
        elif isinstance(names, list):
            listed = [(name, (*here, index)) for index, name in enumerate(names)]
        else:
            self.report(here, f"expected a file name or a list of them, got {describe(names)}")
            return merged
        for name, at in listed:
            loaded = self.included_file(name, at)
            if loaded is None:
                continue
            document, source_map = loaded
            if not isinstance(document, dict):
                self.issues.append(
                    KatalogIssue(
                        source_map.file,
                        1,
                        1,
                        "",
                        f"an included file holds a mapping of "
                        f"{format_path(path)}'s keys, got {describe(document)}",
                    )
                )
                continue
            if "include" in document:
                position = source_map.key_at(("include",))
                self.issues.append(
                    KatalogIssue(
                        source_map.file,
                        position.line,
                        position.column,
                        "include",
                        "an included file cannot include others (name them all in "
                        f"{format_path(here)})",
                    )
                )
                document = {k: v for k, v in document.items() if k != "include"}
            self.lay_in(merged, document, path, source_map, ())
        return merged

    def included_file(self, name: Any, at: KeyPath) -> tuple[Any, SourceMap] | None:
        """The parsed file ``name`` (relative to this document), or None after reporting."""
        if not isinstance(name, str) or not name.strip() or "\0" in name:
            self.report(at, f"expected a file name, got {describe(name)}")
            return None
        if Path(name).is_absolute():
            self.report(at, f"{name}: an included file is named relative to the including file")
            return None
        target = self.base_dir / name
        try:
            inside = target.resolve().is_relative_to(self.root_dir.resolve())
        except OSError as exc:  # a symlink loop, a name too long
            self.report(at, f"cannot use {name[:60]!r} as a file: {exc.strerror or exc}")
            return None
        if not inside:
            self.report(
                at,
                f"{name}: an included file must lie inside the Katalog's directory "
                f"({self.root_dir})",
            )
            return None
        self.read_files.append(target)
        try:
            return load_yaml_file(target)
        except YamlSourceError as exc:
            if exc.message == "no such file":
                self.report(at, f"file not found: {name} (looked for {target})")
                return None
            self.issues.append(KatalogIssue(exc.file, exc.line, exc.column, "", exc.message))
            return None

    def lay_in(
        self,
        target: dict[str, Any],
        incoming: dict[str, Any],
        at: KeyPath,
        source: SourceMap,
        root: KeyPath,
        *,
        override: bool = False,
    ) -> None:
        """Merge ``incoming`` (``source``'s nodes under ``root``) into ``target`` at ``at``.

        Mappings merge key by key. Otherwise ``target``'s value wins and lists
        are joined (an include), or with ``override`` the incoming value
        replaces it, lists included (a Komposer's override).
        """
        for key, value in incoming.items():
            mine = target.get(key)
            if isinstance(mine, dict) and isinstance(value, dict):
                target[key] = dict(mine)
                self.lay_in(target[key], value, (*at, key), source, (*root, key), override=override)
            elif key not in target or override:
                target[key] = value
                self.map.graft((*at, key), source, (*root, key))
            elif isinstance(mine, list) and isinstance(value, list):
                offset = len(mine)
                target[key] = [*mine, *value]
                for index in range(len(value)):
                    self.map.graft((*at, key, offset + index), source, (*root, key, index))

    def items(self, parent: dict[str, Any], path: KeyPath, key: str) -> list[Any]:
        """The list under ``parent[key]``; [] when absent, reported when not a list."""
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.report((*path, key), f"expected a list, got {describe(value)}")
            return []
        return value

    # -- scalars -----------------------------------------------------------

    def string(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        *,
        required: bool = False,
        choices: Sequence[str] | None = None,
        shape: Shape | None = None,
    ) -> str | None:
        value = parent.get(key)
        here = (*path, key)
        if value is None:
            return None  # a required key's absence is reported by mapping()
        if not isinstance(value, str):
            self.report(here, f"expected a string, got {describe(value)}")
            return None
        if required and not value.strip():
            self.report(here, "must not be empty")
            return None
        if choices is not None and value not in choices:
            self.report(
                here,
                f"must be one of {', '.join(choices)}, got {value!r}{did_you_mean(value, choices)}",
            )
            return None
        if shape is not None and not shape.pattern.fullmatch(value):
            self.report(here, f"invalid value {value!r}: {shape.hint}")
            return None
        return value

    def boolean(self, parent: dict[str, Any], path: KeyPath, key: str, default: bool) -> bool:
        value = parent.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.report((*path, key), f"expected true or false, got {describe(value)}")
            return default
        return value

    def integer(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = parent.get(key)
        here = (*path, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(here, f"expected a whole number, got {describe(value)}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            if maximum is None:
                self.report(here, f"must be at least {minimum}, got {value}")
            else:
                self.report(here, f"must be between {minimum} and {maximum}, got {value}")
            return default
        return value

    def duration(
        self,
        parent: dict[str, Any],
        path: KeyPath,
        key: str,
        default: float | None,
        *,
        long_units: bool = False,
    ) -> float | None:
        value = parent.get(key)
        if value is None:
            return default
        try:
            return parse_duration(value, long_units=long_units)
        except DurationError as exc:
            self.report((*path, key), str(exc))
            return default

    # -- templates ---------------------------------------------------------

    def compile(
        self, source: str, path: KeyPath, *, at_key: bool = False
    ) -> CompiledTemplate | None:
        """Compile ``source`` if it holds a template; report syntax errors at their file line."""
        if not templates.is_template(source):
            return None
        pos = self.map.key_at(path) if at_key else self.map.value_at(path)
        try:
            template: CompiledTemplate = templates.compile_template(
                source, name=self.where(pos), notes=self.notes
            )
        except templates.TemplateSyntaxError as exc:
            line, column, message = exc.line or 1, exc.column or 1, exc.message
            if pos.style in ("|", ">"):
                # A block scalar's text starts on the line after its indicator.
                file_line = pos.line + line
                file_column = self.map.block_indent(pos) + column
            elif line == 1:
                quote = 1 if pos.style in ('"', "'") else 0
                file_line, file_column = pos.line, pos.column + quote + column - 1
            else:
                file_line, file_column = pos.line + line - 1, column
            self.issues.append(
                KatalogIssue(
                    self.map.file_of(pos),
                    file_line,
                    file_column,
                    format_path(path),
                    f"template syntax error (template line {line}, column {column}): {message}",
                )
            )
            return None
        undeclared = sorted(
            (getattr(template, "functions", frozenset()) & _SENTINEL_NAMES)
            - self.declared_sentinels
        )
        for name in undeclared:
            self.report(
                path,
                f"sentinel {name} is used in a template but not declared in preReconcile.sentinels",
                at_key=at_key,
            )
        return template

    def text(self, value: Any, path: KeyPath) -> Text | None:
        """A scalar as :class:`Text` (compiled when it is a template); None after reporting."""
        if isinstance(value, dict | list):
            self.report(path, f"expected a string, got {describe(value)}")
            return None
        source = go_text(value)
        pos = self.map.value_at(path)
        return Text(source, self.compile(source, path), self.where(pos))

    def text_at(
        self, parent: dict[str, Any], path: KeyPath, key: str, *, required: bool = False
    ) -> Text | None:
        value = parent.get(key)
        if value is None:
            return None
        text = self.text(value, (*path, key))
        if text is not None and required and not text.source.strip():
            self.report((*path, key), "must not be empty")
        return text

    def text_map(self, parent: dict[str, Any], path: KeyPath, key: str) -> FrozenMap[str, Text]:
        """A string -> template mapping such as labels or annotations."""
        section = self.section(parent, path, key, allowed=None)
        if section is None:
            return EMPTY_MAP
        out: dict[str, Text] = {}
        for name, value in section.items():
            if templates.is_template(name):
                self.report((*path, key, name), f"a {key} key cannot be a template", at_key=True)
                continue
            text = self.text(value, (*path, key, name))
            if text is not None:
                out[name] = text
        return FrozenMap(out)

    def key(self, key: str, path: KeyPath) -> str | Text:
        """A free-form mapping key: a :class:`Text` when it is a template (``{{ .x }}.conf``)."""
        if not templates.is_template(key):
            return key
        pos = self.map.key_at(path)
        return Text(key, self.compile(key, path, at_key=True), self.where(pos))

    def freeze(self, value: Any, path: KeyPath) -> FrozenValue:
        """A free-form value made deeply immutable, every string a compiled :class:`Text`."""
        if isinstance(value, dict):
            return FrozenMap(
                {self.key(k, (*path, k)): self.freeze(v, (*path, k)) for k, v in value.items()}
            )
        if isinstance(value, list):
            return tuple(self.freeze(v, (*path, i)) for i, v in enumerate(value))
        if isinstance(value, str | datetime.date | bytes):
            return self.text(value, path)
        return value
