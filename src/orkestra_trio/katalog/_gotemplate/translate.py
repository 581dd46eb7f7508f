"""The parsed tree to jinja2 source.

The emitted source is built only from fixed jinja2 syntax and names this
module invents: ``d0`` (the root), ``d1``... (dots of with/range), ``v1``...
(variables by slot), ``c1``... (constants, passed in as render variables, so no
user string is ever written into the source), ``st`` (the render budget),
``tp`` (the associated templates, for ``{{template}}``) and filters of our own
(``go_*``, ``fn_<registered name>``). Each associated template (``define``,
``block``) becomes a jinja2 source of its own whose root ``d0`` is its argument. Filters, not calls:
the sandbox checks every call and attribute access, but filters are trusted
functions of the environment and cost one plain Python call.

Each Go action starts on the jinja2 line of its own source line (comments pad
the gaps), so a render error's jinja2 line is the template line to report.
"""

from __future__ import annotations

from typing import Any

from orkestra_trio.katalog._gotemplate.nodes import (
    Call,
    Declare,
    DotRef,
    Expr,
    If,
    Literal,
    LoopControl,
    Node,
    Output,
    ParsedTemplate,
    Path,
    Range,
    TemplateCall,
    Text,
    VarRef,
    With,
)

ROOT = "d0"
BUDGET = "st"
TEMPLATES = "tp"


class Translation:
    """jinja2 sources (main and called templates), the constants they name, the functions."""

    def __init__(
        self,
        source: str,
        constants: dict[str, Any],
        functions: frozenset[str],
        definitions: dict[str, tuple[str, int]] | None = None,
    ) -> None:
        self.source = source
        self.constants = constants
        self.functions = functions
        #: Called templates by name: (jinja2 source, steps one call charges).
        self.definitions = definitions or {}


def _raw_text_is_safe(text: str) -> bool:
    # jinja2 reads "{{", "{%" and "{#" in plain text as its own syntax and
    # rewrites "\r\n"; such text goes through a constant instead.
    return "{" not in text and "\r" not in text


class _Translator:
    def __init__(self, parsed: ParsedTemplate) -> None:
        self.parts: list[str] = []
        self.line = 1
        self.constants: dict[str, Any] = {}
        self._constant_names: dict[tuple[type, Any], str] = {}
        self.functions: set[str] = set()
        self.assigned = parsed.assigned_slots
        # Range value variables hold elements (Go interface values); once
        # assigned with = they may hold anything, and count as plain values.
        self.wrapped = parsed.wrapped_slots - parsed.assigned_slots
        self.slot_names: dict[int, str] = {0: ROOT}
        self.dot = ROOT
        self.dot_wrapped = False
        self._counter = 0
        #: Template names called by what was translated so far.
        self.called: set[str] = set()

    def body(self, nodes: tuple[Node, ...]) -> str:
        """One template's jinja2 source, its lines matching the Katalog text's."""
        self.parts = []
        self.line = 1
        self.slot_names = {0: ROOT}
        self.dot = ROOT
        self.dot_wrapped = False
        self.nodes(nodes)
        return "".join(self.parts)

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def constant(self, value: Any) -> str:
        key = (type(value), value)
        name = self._constant_names.get(key)
        if name is None:
            name = f"c{len(self._constant_names) + 1}"
            self._constant_names[key] = name
            self.constants[name] = value
        return name

    # -- layout --------------------------------------------------------------

    def sync(self, line: int) -> None:
        """Pad with a jinja2 comment so the next tag sits on template line ``line``."""
        if line > self.line:
            self.parts.append("{#" + "\n" * (line - self.line) + "#}")
            self.line = line

    def tag(self, text: str) -> None:
        self.parts.append(text)

    # -- statements ----------------------------------------------------------

    def nodes(self, nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            self.node(node)

    def node(self, node: Node) -> None:
        if isinstance(node, Text):
            self.sync(node.line)
            if _raw_text_is_safe(node.text):
                self.parts.append(node.text)
                self.line += node.text.count("\n")
            else:
                self.tag("{{ " + self.constant(node.text) + " }}")
            return
        self.sync(node.line)
        if isinstance(node, Output):
            if isinstance(node.expr, Path):
                base = self.operand(node.expr.base)
                keys = self.constant(node.expr.keys)
                fused = "go_woutpath" if self.base_wrapped(node.expr.base) else "go_outpath"
                self.tag(f"{{{{ {base}|{fused}({keys}) }}}}")
            else:
                self.tag(f"{{{{ {self.operand(node.expr)}|go_out }}}}")
        elif isinstance(node, Declare):
            self.declare(node)
        elif isinstance(node, If):
            self.if_chain(node)
        elif isinstance(node, With):
            self.with_(node)
        elif isinstance(node, Range):
            self.range_(node)
        elif isinstance(node, LoopControl):
            self.tag("{% break %}" if node.kind == "break" else "{% continue %}")
        elif isinstance(node, TemplateCall):
            self.template_call(node)

    def template_call(self, node: TemplateCall) -> None:
        """The called template writes its output into the render's, then prints ""."""
        self.called.add(node.name)
        arg = self.constant(None) if node.expr is None else self.operand(node.expr)
        name = self.constant(node.name)
        self.tag(f"{{{{ {TEMPLATES}|go_template({BUDGET}, {name}, {arg}) }}}}")

    def bind(self, slot: int, value_name: str) -> None:
        """Make variable ``slot`` hold the value already named ``value_name``."""
        if slot in self.assigned:
            name = f"v{slot}"
            self.tag(f"{{% set {name} = {value_name}|go_cell %}}")
            self.slot_names[slot] = name
        else:
            self.slot_names[slot] = value_name

    def declare(self, node: Declare) -> None:
        value = self.expr(node.expr)
        if node.assign:
            cell = self.slot_names[node.slot]
            self.tag(f"{{{{ {cell}|go_set({value}) }}}}")
        elif node.slot in self.assigned:
            name = f"v{node.slot}"
            self.tag(f"{{% set {name} = ({value})|go_cell %}}")
            self.slot_names[node.slot] = name
        else:
            name = f"v{node.slot}"
            self.tag(f"{{% set {name} = {value} %}}")
            self.slot_names[node.slot] = name

    def test(self, expr: Expr, slot: int) -> str:
        """The condition of an if/with; a declared variable is set first."""
        if slot < 0:
            return self.expr(expr)
        name = self.fresh("w")
        self.tag(f"{{% set {name} = {self.expr(expr)} %}}")
        self.bind(slot, name)
        return name

    def if_chain(self, node: If) -> None:
        self.tag(f"{{% if {self.test(node.test, node.slot)} %}}")
        while True:
            self.nodes(node.body)
            if node.chained and node.orelse and isinstance(node.orelse[0], If):
                nested = node.orelse[0]
                if nested.slot < 0:
                    self.sync(nested.line)
                    self.tag(f"{{% elif {self.expr(nested.test)} %}}")
                    node = nested
                    continue
            if node.orelse:
                self.tag("{% else %}")
                self.nodes(node.orelse)
            break
        self.tag("{% endif %}")

    def with_(self, node: With) -> None:
        name = self.fresh("w")
        self.tag(f"{{% set {name} = {self.expr(node.test)} %}}")
        if node.slot >= 0:
            self.bind(node.slot, name)
        self.tag(f"{{% if {name} %}}")
        outer, outer_wrapped = self.dot, self.dot_wrapped
        self.dot, self.dot_wrapped = name, False
        self.nodes(node.body)
        self.dot, self.dot_wrapped = outer, outer_wrapped
        if node.orelse:
            self.tag("{% else %}")
            self.nodes(node.orelse)
        self.tag("{% endif %}")

    def range_(self, node: Range) -> None:
        key, value = self.fresh("k"), self.fresh("d")
        source = self.operand(node.expr)
        steps = self.constant(body_steps(node.body))
        self.tag(f"{{% for {key}, {value} in {source}|go_range({BUDGET}, {steps}) %}}")
        if node.key_slot >= 0:
            self.bind(node.key_slot, key)
        if node.value_slot >= 0:
            self.bind(node.value_slot, value)
        outer, outer_wrapped = self.dot, self.dot_wrapped
        self.dot, self.dot_wrapped = value, True
        self.nodes(node.body)
        self.dot, self.dot_wrapped = outer, outer_wrapped
        if node.orelse:
            self.tag("{% else %}")
            self.nodes(node.orelse)
        self.tag("{% endfor %}")

    # -- expressions ---------------------------------------------------------

    def operand(self, expr: Expr) -> str:
        """``expr`` as something a filter can be applied to (a name or parenthesised)."""
        text = self.expr(expr)
        return text if text.isidentifier() else f"({text})"

    def expr(self, expr: Expr) -> str:
        if isinstance(expr, Literal):
            return self.constant(expr.value)
        if isinstance(expr, DotRef):
            return self.dot
        if isinstance(expr, VarRef):
            name = self.slot_names[expr.slot]
            return f"{name}|go_get" if expr.slot in self.assigned else name
        if isinstance(expr, Path):
            walk = "go_wpath" if self.base_wrapped(expr.base) else "go_path"
            return f"{self.operand(expr.base)}|{walk}({self.constant(expr.keys)})"
        return self.call(expr)

    def base_wrapped(self, base: Expr) -> bool:
        """Does ``base`` hold a Go interface value (a list or map element)? See values.field_chain."""
        if isinstance(base, DotRef):
            return self.dot_wrapped
        return isinstance(base, VarRef) and base.slot in self.wrapped

    def call(self, call: Call) -> str:
        args = [self.operand(arg) for arg in call.args]
        if call.name == "and":
            # Python's and/or return an operand and short-circuit, as Go's do
            # since 1.18; Python truthiness of plain data equals Go's.
            return "(" + " and ".join(args) + ")"
        if call.name == "or":
            return "(" + " or ".join(args) + ")"
        if call.name == "not":
            return f"(not {args[0]})"
        self.functions.add(call.name)
        return f"{BUDGET}|fn_{call.name}({', '.join(args)})"


def _calls(expr: Expr) -> int:
    if isinstance(expr, Call):
        return 1 + sum(_calls(arg) for arg in expr.args)
    if isinstance(expr, Path):
        return _calls(expr.base)
    return 0


def body_steps(nodes: tuple[Node, ...]) -> int:
    """Static size of a loop body: its actions and calls (nested loops charge their own)."""
    steps = 0
    for node in nodes:
        if isinstance(node, Output | Declare):
            steps += 1 + _calls(node.expr)
        elif isinstance(node, TemplateCall):
            steps += 1 + (0 if node.expr is None else _calls(node.expr))
        elif isinstance(node, If | With):
            steps += 1 + _calls(node.test) + body_steps(node.body) + body_steps(node.orelse)
        elif isinstance(node, Range):
            steps += 1 + _calls(node.expr) + body_steps(node.orelse)
    # An empty body still costs its iteration.
    return max(steps, 1)


def translate(parsed: ParsedTemplate) -> Translation:
    translator = _Translator(parsed)
    main = translator.body(parsed.body)
    # Only the templates some call reaches are compiled, each once.
    definitions: dict[str, tuple[str, int]] = {}
    pending = sorted(translator.called)
    while pending:
        name = pending.pop()
        if name in definitions:
            continue
        body = parsed.definitions[name]
        definitions[name] = (translator.body(body), body_steps(body))
        pending.extend(sorted(translator.called - definitions.keys()))
    return Translation(main, translator.constants, frozenset(translator.functions), definitions)
