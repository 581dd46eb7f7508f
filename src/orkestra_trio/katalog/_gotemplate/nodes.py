"""The parsed template: a tree the translator walks.

Expressions are already in call form: pipelines are folded (``x | f a`` is
``Call(f, [a, x])``) and every variable is resolved to a numbered slot, so the
translator never sees a name the user wrote.
"""

from __future__ import annotations

from typing import Any

import attrs

# -- expressions --------------------------------------------------------------


@attrs.frozen
class Literal:
    value: Any  # str, int, float, bool or None


@attrs.frozen
class DotRef:
    """The current dot."""


@attrs.frozen
class VarRef:
    slot: int  # 0 is ``$``, the root


@attrs.frozen
class Path:
    """``base.a.b``: map lookups on the value of ``base``."""

    base: Expr
    keys: tuple[str, ...]


@attrs.frozen
class Call:
    """A function call; ``name`` is a registered function or and/or/not."""

    name: str
    args: tuple[Expr, ...]
    line: int
    column: int


Expr = Literal | DotRef | VarRef | Path | Call

# -- statements ---------------------------------------------------------------


@attrs.frozen
class Text:
    text: str
    line: int


@attrs.frozen
class Output:
    """``{{ pipeline }}``: print the value."""

    expr: Expr
    line: int


@attrs.frozen
class Declare:
    """``{{ $x := pipeline }}`` (or ``=`` when ``assign``): set, print nothing."""

    slot: int
    expr: Expr
    assign: bool
    line: int


@attrs.frozen
class If:
    """``if``/``else if``/``else``. ``slot`` >= 0 when the test declares a variable."""

    test: Expr
    slot: int
    body: tuple[Node, ...]
    orelse: tuple[Node, ...]
    line: int
    # True when ``orelse`` came from ``{{ else if }}``: it holds a single If.
    chained: bool = False


@attrs.frozen
class With:
    test: Expr
    slot: int
    body: tuple[Node, ...]
    orelse: tuple[Node, ...]
    line: int


@attrs.frozen
class Range:
    """``range``; ``key_slot``/``value_slot`` are -1 when not declared."""

    expr: Expr
    key_slot: int
    value_slot: int
    body: tuple[Node, ...]
    orelse: tuple[Node, ...]
    line: int


@attrs.frozen
class LoopControl:
    kind: str  # "break" or "continue"
    line: int


@attrs.frozen
class TemplateCall:
    """``{{template "name" pipeline}}`` (and the call half of ``{{block}}``)."""

    name: str
    expr: Expr | None  # None: the template runs with a nil dot
    line: int
    column: int


Node = Text | Output | Declare | If | With | Range | LoopControl | TemplateCall


@attrs.frozen
class ParsedTemplate:
    body: tuple[Node, ...]
    # Slots assigned with ``=`` somewhere: they need a mutable cell, because an
    # assignment inside a loop must be visible after it.
    assigned_slots: frozenset[int]
    #: The associated templates by name (``define``/``block``), the main one
    #: included under :data:`MAIN_TEMPLATE` when some ``template`` calls it.
    definitions: dict[str, tuple[Node, ...]] = attrs.field(factory=dict)
    #: Range value variables: they hold a list or map *element* (see values.field_chain).
    wrapped_slots: frozenset[int] = frozenset()


#: The name Orkestra gives the template it parses from a Katalog string
#: (``template.New("f")`` in its resolver): ``{{template "f"}}`` runs the main
#: template and a ``{{define "f"}}`` collides with it, as there.
MAIN_TEMPLATE = "f"
