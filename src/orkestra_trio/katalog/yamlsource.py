"""YAML reading that remembers where every key and value came from.

pyyaml's constructors throw positions away, so we compose the node graph
(with the C parser when it is built in) and build the plain Python values
ourselves, recording the 1-based line and column of every mapping key and
every value in a :class:`SourceMap` keyed by key path. Validation later works
on plain dicts and lists and asks the map where to point the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import yaml

# The C loader is several times faster; pyyaml builds without libyaml lack it.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Aliases let a tiny file expand into a huge tree ("billion laughs"); a
# Katalog never needs anywhere near this many nodes.
MAX_NODES = 200_000
# Katalogs, CRs and CRDs are kilobytes; far larger input is a mistake.
MAX_FILE_BYTES = 16 * 1024 * 1024
# Nesting is walked recursively (by libyaml's composer, which crashes the
# process on tens of thousands of levels, then here, and again when values are
# frozen and rendered); a Katalog is a dozen levels deep, a hostile file more.
MAX_DEPTH = 100

KeyPath = tuple[str | int, ...]


def format_path(path: Iterable[str | int]) -> str:
    """``("spec", "crds", "web", "cross", 0, "as")`` -> ``spec.crds.web.cross[0].as``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = part
    return out


@attrs.frozen
class Position:
    """A 1-based place in a file; style is the scalar style ('|', '>', '"', "'" or '')."""

    line: int
    column: int
    style: str = ""
    #: The file, when it is not the document's own (a node an ``include:`` brought in).
    file: str = ""


@attrs.define
class SourceMap:
    """Positions of the keys and values of one YAML document, by key path."""

    file: str
    keys: dict[KeyPath, Position] = attrs.field(factory=dict)
    values: dict[KeyPath, Position] = attrs.field(factory=dict)
    # The file's lines, for pointing inside block scalars (whose indentation
    # the parser strips).
    lines: list[str] = attrs.field(factory=list, repr=False)
    #: The lines of the other files whose nodes were grafted in, by file name.
    other_lines: dict[str, list[str]] = attrs.field(factory=dict, repr=False)

    def file_of(self, position: Position) -> str:
        """The file ``position`` is in: its own, or this document's."""
        return position.file or self.file

    def graft(self, at: KeyPath, other: SourceMap, root: KeyPath = ()) -> None:
        """Positions of ``other``'s node at ``root`` and below, recorded here at ``at``.

        The nodes keep their own file and line, so that a value an include
        brought in is reported where it is written.
        """
        depth = len(root)
        for mine, theirs in ((self.keys, other.keys), (self.values, other.values)):
            for path, position in theirs.items():
                if path[:depth] == root:
                    if not position.file:
                        position = attrs.evolve(position, file=other.file)
                    mine[(*at, *path[depth:])] = position
        self.other_lines[other.file] = other.lines
        self.other_lines.update(other.other_lines)

    def block_indent(self, position: Position) -> int:
        """Indentation of the first text line of the block scalar starting at ``position``."""
        lines = self.other_lines.get(position.file, self.lines) if position.file else self.lines
        for text in lines[position.line :]:
            if text.strip():
                return len(text) - len(text.lstrip(" "))
        return 0

    def value_at(self, path: KeyPath) -> Position:
        """Where the value at ``path`` starts, or the nearest ancestor's position."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key_at(self, path: KeyPath) -> Position:
        """Where the key of ``path`` is written (for list items: the item itself)."""
        found = self.keys.get(path)
        if found is not None:
            return found
        return self.value_at(path)


class YamlSourceError(Exception):
    """The file could not be read or is not valid YAML; carries the position."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.message = message


def read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path``; :class:`YamlSourceError` when it cannot be read.

    A problem with the file as a whole (missing, a directory, unreadable) is
    placed at 1:1 so that every error the CLI prints reads ``file:line:col:``;
    bytes that are not UTF-8 are placed where they are.
    """
    name = str(path)
    try:
        with Path(path).open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise YamlSourceError(name, 1, 1, "no such file") from None
    except IsADirectoryError:
        raise YamlSourceError(name, 1, 1, "is a directory, not a file") from None
    except OSError as exc:
        raise YamlSourceError(name, 1, 1, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        # /dev/zero, a log file or an image given by mistake: never read it all.
        raise YamlSourceError(name, 1, 1, f"file too large (more than {MAX_FILE_BYTES} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start)
        raise YamlSourceError(name, line, column, f"not UTF-8 text ({exc.reason})") from None


def _line_column(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    if isinstance(text, bytes):
        text = text[:offset].decode("utf-8", errors="replace")
        offset = len(text)
    before = text[:offset]
    return before.count("\n") + 1, offset - before.rfind("\n")


def load_yaml_file(path: str | Path) -> tuple[Any, SourceMap]:
    """Read and parse one YAML file; raise :class:`YamlSourceError` on any problem."""
    return parse_yaml(read_text(path), str(path))


def load_yaml_stream(path: str | Path) -> list[tuple[Any, SourceMap]]:
    """Read every document of a YAML stream (``---`` separated); empty documents are skipped."""
    name = str(path)
    text = read_text(path)
    _check_depth(text, name)
    loader = _Loader(text)
    documents: list[tuple[Any, SourceMap]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
                continue
            documents.append(_build(node, text, name))
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, name) from None
    finally:
        loader.dispose()
    return documents


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before anything recursive sees it.

    The event parser keeps an explicit stack, so scanning its events is safe
    however deep the text goes; composing nodes is not.
    """
    depth = 0
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                    message = f"nested deeper than {MAX_DEPTH} levels"
                    raise YamlSourceError(file, line, column, message)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    finally:
        loader.dispose()


def parse_yaml(text: str, file: str = "<string>") -> tuple[Any, SourceMap]:
    """Parse one YAML document from ``text``; return its value and its source map."""
    _check_depth(text, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    finally:
        loader.dispose()
    if node is None:
        raise YamlSourceError(file, 1, 1, "the file holds no YAML document")
    return _build(node, text, file)


def _build(node: yaml.Node, text: str, file: str) -> tuple[Any, SourceMap]:
    builder = _Builder(file)
    value = builder.build(node, ())
    builder.source_map.lines = text.splitlines()
    return value, builder.source_map


def _syntax_error(exc: yaml.YAMLError, text: str, file: str) -> YamlSourceError:
    """pyyaml's error as one line at its position (never its multi-line dump)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and problem.startswith("but "):
            # "expected a single document in the stream" / "but found another document"
            problem = f"{exc.context}, {problem}"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return YamlSourceError(file, line, column, f"invalid YAML: {problem}")
    if isinstance(exc, yaml.reader.ReaderError):
        # A character YAML forbids (NUL, most control characters).
        line, column = _line_column(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return YamlSourceError(
            file, line, column, f"invalid YAML: the character U+{code:04X} is not allowed"
        )
    return YamlSourceError(file, 1, 1, f"invalid YAML: {str(exc).splitlines()[0]}")


def _position(node: yaml.Node) -> Position:
    mark = node.start_mark
    style = getattr(node, "style", None) or ""
    return Position(mark.line + 1, mark.column + 1, style if isinstance(style, str) else "")


class _Builder:
    """Turns a composed node graph into dicts, lists and scalars, recording positions."""

    def __init__(self, file: str) -> None:
        self.source_map = SourceMap(file)
        self._constructor = yaml.constructor.SafeConstructor()
        self._count = 0
        # id(mapping node) -> ids of the key nodes that `<<` merges brought in.
        self._merged: dict[int, set[int]] = {}

    def _fail(self, node: yaml.Node, message: str) -> YamlSourceError:
        pos = _position(node)
        return YamlSourceError(self.source_map.file, pos.line, pos.column, message)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise self._fail(node, f"document too large (more than {MAX_NODES} nodes)")
        if len(path) > MAX_DEPTH:
            raise self._fail(node, f"nested deeper than {MAX_DEPTH} levels")
        self.source_map.values[path] = _position(node)
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise self._fail(node, f"invalid value: {exc.problem}") from None
        except Exception:
            # pyyaml's constructors fail on bad scalars in assorted ways (a bad
            # !!timestamp raises AttributeError); each is a mistake in the file.
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            raise self._fail(
                node, f"invalid value: {node.value!r} is not a valid !!{tag}"
            ) from None

    def _build_mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        merged = self._merged.get(id(node))
        if merged is None:
            own = {id(key) for key, _ in node.value}
            try:
                # Resolves `<<: *anchor` merge keys in place (merged nodes keep
                # their marks); an aliased mapping is flattened only once.
                self._constructor.flatten_mapping(node)
            except yaml.MarkedYAMLError as exc:
                raise self._fail(node, f"invalid merge key: {exc.problem}") from None
            merged = {id(key) for key, _ in node.value if id(key) not in own}
            self._merged[id(node)] = merged
        result: dict[str, Any] = {}
        from_merge: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._fail(key_node, "a mapping key must be a plain string")
            # The key's own text: YAML 1.1 would turn `on:` or `yes:` into True.
            key = str(key_node.value)
            if key in from_merge:
                # pyyaml orders merged entries so that the later one wins, and
                # an explicit key overrides whatever a merge brought in.
                from_merge.discard(key)
                del result[key]
            if id(key_node) in merged:
                from_merge.add(key)
            if key in result:
                first = self.source_map.keys[(*path, key)]
                raise self._fail(
                    key_node,
                    f"duplicate key {key!r} (first at line {first.line}, column {first.column})",
                )
            self.source_map.keys[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result
