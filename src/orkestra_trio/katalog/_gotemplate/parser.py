"""Tokens to the tree of :mod:`nodes`, with Go's grammar and scoping rules.

The parser is the security boundary of the template engine: it accepts only
the Go template grammar, resolves every variable to a numbered slot, checks
every function name against the registry and every literal's syntax. The
translator downstream emits nothing but identifiers of its own making, so text
the user wrote can never become jinja2 or Python code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs

from orkestra_trio.katalog._gotemplate.errors import TemplateSyntaxError
from orkestra_trio.katalog._gotemplate.gofmt import go_quote
from orkestra_trio.katalog._gotemplate.lexer import Kind, Token, tokenize
from orkestra_trio.katalog._gotemplate.nodes import (
    MAIN_TEMPLATE,
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

# Nesting caps. The generated jinja2 becomes nested Python blocks and calls;
# CPython refuses more than 20 nested loops and ~100 indentation levels, and a
# deep expression would hit the recursion limit. Real templates stay far below.
MAX_BLOCK_DEPTH = 30
MAX_RANGE_DEPTH = 10
MAX_EXPR_DEPTH = 40
MAX_ELSE_CHAIN = 100
# Blocks and definitions restart the counts above (each becomes a jinja2
# template of its own), so the parser's own recursion is capped separately.
MAX_TOTAL_NESTING = 100

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_GO_OCTAL = re.compile(r"[+-]?0[0-7_]+")

# Functions with special evaluation (short-circuit) and their arities.
BUILTIN_OPERATORS: dict[str, tuple[int, int | None]] = {
    "and": (1, None),
    "or": (1, None),
    "not": (1, 1),
}

_KEYWORDS = {
    "if",
    "else",
    "end",
    "range",
    "with",
    "break",
    "continue",
    "define",
    "template",
    "block",
}


@attrs.frozen
class _FunctionName:
    """An identifier in command position: a call, once its arguments are known."""

    name: str
    token: Token


ArityLookup = Callable[[str], "tuple[int, int | None] | None"]


def parse_number(text: str) -> int | float:
    """A Go number literal's value; ValueError when it is not one."""
    if _GO_OCTAL.fullmatch(text):
        value: int | float = int(text.replace("_", ""), 8)
    else:
        try:
            value = int(text, 0)
        except ValueError:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text) from None
            return value
    # Go's int is 64 bits; a bigger literal is a float constant there too.
    if not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    return value


class _Parser:
    def __init__(
        self, tokens: list[Token], arity: ArityLookup, notes: Mapping[str, str] | None = None
    ) -> None:
        self.tokens = tokens
        self.pos = 0
        self.arity = arity
        #: User notes: a name stands for its expression, parsed where it is used.
        self.notes: Mapping[str, str] = notes or {}
        self.scopes: list[dict[str, int]] = [{"$": 0}]
        self.next_slot = 1
        self.assigned: set[int] = set()
        self.block_depth = 0
        self.range_depth = 0
        self.expr_depth = 0
        self.chain_length = 0
        self.nesting = 0
        #: Inside a ``define`` or ``block`` body (where ``define`` is not allowed).
        self.in_definition = False
        #: Associated templates by name, and the token that defined each.
        self.definitions: dict[str, tuple[Node, ...]] = {}
        self.defined_at: dict[str, Token] = {}
        #: ``template``/``block`` calls, checked against the definitions at the end.
        self.calls: list[tuple[str, Token]] = []
        self.wrapped: set[int] = set()
        #: Variable names by slot, to write an operand back as text (for ``call``).
        self.slot_source: dict[int, str] = {0: "$"}

    # -- token helpers -------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not Kind.EOF:
            self.pos += 1
        return token

    @staticmethod
    def error(message: str, token: Token) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, token.line, token.column)

    def expect(self, kind: Kind, context: str) -> Token:
        token = self.next()
        if token.kind is not kind:
            raise self.error(f"unexpected {describe(token)} in {context}", token)
        return token

    # -- scopes --------------------------------------------------------------

    def declare(self, name: str) -> int:
        slot = self.next_slot
        self.next_slot += 1
        self.scopes[-1][name] = slot
        self.slot_source[slot] = name
        return slot

    def resolve(self, name: str, token: Token) -> int:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise self.error(f"undefined variable {name!r}", token)

    def parse_scoped(self) -> tuple[tuple[Node, ...], Token]:
        self.scopes.append({})
        try:
            return self.parse_list()
        finally:
            self.scopes.pop()

    # -- statements ----------------------------------------------------------

    def parse(self) -> ParsedTemplate:
        body, terminator = self.parse_list()
        if terminator.kind is not Kind.EOF:
            raise self.error(f"unexpected {{{{{terminator.value}}}}}", terminator)
        # The main template joins its definitions under Orkestra's name for it,
        # by the same rule as a define (so an empty one yields to a define "f").
        self.add_definition(MAIN_TEMPLATE, body, self.defined_at.get(MAIN_TEMPLATE, terminator))
        # Go reports a missing template when the action runs; every template of
        # a Katalog string is known here, so a typo is caught at load instead.
        for name, token in self.calls:
            if name not in self.definitions:
                raise self.error(f"template {go_string(name)} not defined", token)
        return ParsedTemplate(
            self.definitions[MAIN_TEMPLATE],
            frozenset(self.assigned),
            definitions=dict(self.definitions),
            wrapped_slots=frozenset(self.wrapped),
        )

    # -- associated templates (define, template, block) -----------------------

    def add_definition(self, name: str, body: tuple[Node, ...], token: Token) -> None:
        """Go's rule: an empty body never replaces a definition, two non-empty ones clash."""
        existing = self.definitions.get(name)
        if existing is None or is_empty_body(existing):
            self.definitions[name] = body
            self.defined_at[name] = token
        elif not is_empty_body(body):
            raise self.error(f"template: multiple definition of template {go_string(name)}", token)

    def template_name(self, context: str) -> tuple[str, Token]:
        token = self.next()
        if token.kind is not Kind.STRING:
            raise self.error(f"unexpected {describe(token)} in {context}", token)
        return token.value, token

    def parse_body(self, keyword: Token, context: str) -> tuple[Node, ...]:
        """The body of a define/block up to its {{end}}: a template of its own, with only ``$``."""
        saved = (self.scopes, self.block_depth, self.range_depth, self.in_definition)
        self.scopes = [{"$": 0}]
        self.block_depth = self.range_depth = 0
        self.in_definition = True
        self.nesting += 1
        if self.nesting > MAX_TOTAL_NESTING:
            raise self.error(f"templates nested deeper than {MAX_TOTAL_NESTING}", keyword)
        try:
            body, terminator = self.parse_list()
        finally:
            self.nesting -= 1
            self.scopes, self.block_depth, self.range_depth, self.in_definition = saved
        self.expect_end(keyword, terminator, context)
        return body

    def parse_define(self, keyword: Token) -> None:
        name, token = self.template_name("define clause")
        self.expect(Kind.RIGHT, "define clause")
        self.add_definition(name, self.parse_body(keyword, "define clause"), token)

    def parse_template_call(self, keyword: Token) -> list[Node]:
        """``{{template "name"}}`` or ``{{template "name" pipeline}}``."""
        name, token = self.template_name("template clause")
        self.calls.append((name, token))
        if self.peek().kind is Kind.RIGHT:
            self.next()
            return [TemplateCall(name, None, keyword.line, keyword.column)]
        nodes, arg = self.call_pipeline("template clause", keyword)
        return [*nodes, TemplateCall(name, arg, keyword.line, keyword.column)]

    def parse_block(self, keyword: Token) -> list[Node]:
        """``{{block "name" pipeline}}body{{end}}``: define it, then call it here."""
        name, token = self.template_name("block clause")
        self.calls.append((name, token))
        nodes, arg = self.call_pipeline("block clause", keyword)
        self.add_definition(name, self.parse_body(keyword, "block clause"), token)
        return [*nodes, TemplateCall(name, arg, keyword.line, keyword.column)]

    def call_pipeline(self, context: str, keyword: Token) -> tuple[list[Node], Expr]:
        """A template/block pipeline; a ``$x :=`` in it declares in the enclosing scope."""
        names = self.parse_declaration(context, allow_pair=False)
        expr = self.parse_pipeline(context, Kind.RIGHT)
        self.next()
        if names is None:
            return [], expr
        (name, token), *_ = names.targets
        if names.assign:
            if name == "$":
                raise self.error("cannot assign to $", token)
            slot = self.resolve(name, token)
            self.assigned.add(slot)
            declare = Declare(slot, expr, True, keyword.line)
        else:
            slot = self.declare(name)
            declare = Declare(slot, expr, False, keyword.line)
        return [declare], VarRef(slot)

    def parse_list(self) -> tuple[tuple[Node, ...], Token]:
        """Nodes up to ``{{end}}``, ``{{else ...`` or EOF, returned as the terminator.

        For ``end`` the closing delimiter is consumed; for ``else`` the parser
        stops right after the keyword so the caller can read ``if``/``with``.
        """
        nodes: list[Node] = []
        while True:
            token = self.next()
            if token.kind is Kind.EOF:
                return tuple(nodes), token
            if token.kind is Kind.TEXT:
                nodes.append(Text(token.value, token.line))
                continue
            # token is LEFT
            keyword = self.peek()
            if keyword.kind is Kind.IDENTIFIER and keyword.value in _KEYWORDS:
                self.next()
                name = keyword.value
                if name == "end":
                    self.expect(Kind.RIGHT, "{{end}}")
                    return tuple(nodes), keyword
                if name == "else":
                    return tuple(nodes), keyword
                if name == "define":
                    # Go allows a definition only at the top level of the text.
                    if self.block_depth or self.in_definition:
                        raise self.error("unexpected {{define}} inside a block", keyword)
                    self.parse_define(keyword)
                    continue
                if name == "template":
                    nodes.extend(self.parse_template_call(keyword))
                    continue
                if name == "block":
                    nodes.extend(self.parse_block(keyword))
                    continue
                nodes.append(self.parse_keyword(keyword))
                continue
            nodes.append(self.parse_action(token))

    def parse_keyword(self, keyword: Token) -> Node:
        name = keyword.value
        if name in ("break", "continue"):
            if self.range_depth == 0:
                raise self.error(f"{{{{{name}}}}} outside {{{{range}}}}", keyword)
            self.expect(Kind.RIGHT, f"{{{{{name}}}}}")
            return LoopControl(name, keyword.line)
        self.block_depth += 1
        if self.block_depth > MAX_BLOCK_DEPTH:
            raise self.error(f"blocks nested deeper than {MAX_BLOCK_DEPTH}", keyword)
        try:
            if name in ("if", "with"):
                return self.parse_branch(keyword)
            return self.parse_range(keyword)
        finally:
            self.block_depth -= 1

    def expect_end(self, opener: Token, terminator: Token, clause: str = "") -> None:
        """``terminator`` must be the {{end}} of ``opener`` (a define/block ``clause`` takes no else)."""
        if terminator.kind is Kind.EOF:
            raise self.error(
                f"unexpected end of template: {{{{{opener.value}}}}} at line {opener.line} "
                "has no {{end}}",
                terminator,
            )
        if terminator.value != "end":
            if clause:
                raise self.error(f"unexpected {{{{{terminator.value}}}}} in {clause}", terminator)
            raise self.error(f"expected {{{{end}}}}, found {{{{{terminator.value}}}}}", terminator)

    def parse_branch(self, keyword: Token) -> If | With:
        """``if`` or ``with``, with ``else``, ``else if`` / ``else with`` chains."""
        name = keyword.value
        self.scopes.append({})
        try:
            slot, test = self.parse_control_pipeline(name)
            body, terminator = self.parse_scoped()
            orelse: tuple[Node, ...] = ()
            chained = False
            if terminator.value == "else":
                follow = self.peek()
                if follow.kind is Kind.IDENTIFIER and follow.value == name:
                    # "{{else if}}": a nested branch that shares our {{end}}.
                    self.next()
                    self.chain_length += 1
                    if self.chain_length > MAX_ELSE_CHAIN:
                        raise self.error(f"more than {MAX_ELSE_CHAIN} {{{{else {name}}}}}", follow)
                    try:
                        orelse, chained = (self.parse_branch(follow),), True
                    finally:
                        self.chain_length -= 1
                else:
                    self.expect(Kind.RIGHT, "{{else}}")
                    orelse, terminator = self.parse_scoped()
                    self.expect_end(keyword, terminator)
            else:
                self.expect_end(keyword, terminator)
            if name == "if":
                return If(test, slot, body, orelse, keyword.line, chained=chained)
            return With(test, slot, body, orelse, keyword.line)
        finally:
            self.scopes.pop()

    def parse_control_pipeline(self, context: str) -> tuple[int, Expr]:
        """``if``/``with`` pipeline, optionally ``$x := ...``; the slot is -1 without one."""
        names = self.parse_declaration(context, allow_pair=False)
        expr = self.parse_pipeline(context, Kind.RIGHT)
        self.next()  # the closing }}
        slot = -1
        if names is not None:
            (name, token), *_ = names.targets
            if names.assign:
                raise self.error(f"cannot assign with = in {{{{{context}}}}}", token)
            slot = self.declare(name)
        return slot, expr

    def parse_range(self, keyword: Token) -> Range:
        self.scopes.append({})
        try:
            names = self.parse_declaration("range", allow_pair=True)
            expr = self.parse_pipeline("range", Kind.RIGHT)
            self.next()
            key_slot = value_slot = -1
            if names is not None:
                if names.assign:
                    raise self.error("cannot assign with = in {{range}}", names.targets[0][1])
                if len(names.targets) == 2:
                    key_slot = self.declare(names.targets[0][0])
                    value_slot = self.declare(names.targets[1][0])
                else:
                    value_slot = self.declare(names.targets[0][0])
                self.wrapped.add(value_slot)
            self.range_depth += 1
            if self.range_depth > MAX_RANGE_DEPTH:
                raise self.error(f"range loops nested deeper than {MAX_RANGE_DEPTH}", keyword)
            try:
                body, terminator = self.parse_scoped()
            finally:
                self.range_depth -= 1
            orelse: tuple[Node, ...] = ()
            if terminator.kind is Kind.IDENTIFIER and terminator.value == "else":
                self.expect(Kind.RIGHT, "{{else}}")
                # Go would let the loop variables leak into else, where they
                # hold nothing; refusing them catches the mistake early.
                saved = self.scopes.pop()
                self.scopes.append({})
                try:
                    orelse, terminator = self.parse_scoped()
                finally:
                    self.scopes.pop()
                    self.scopes.append(saved)
            self.expect_end(keyword, terminator)
            return Range(expr, key_slot, value_slot, body, orelse, keyword.line)
        finally:
            self.scopes.pop()

    def parse_action(self, left: Token) -> Node:
        names = self.parse_declaration("command", allow_pair=False)
        expr = self.parse_pipeline("command", Kind.RIGHT)
        self.next()
        if names is None:
            if isinstance(expr, Literal) and expr.value is None:
                raise self.error("nil is not a command", left)
            return Output(expr, left.line)
        (name, token), *_ = names.targets
        if names.assign:
            if name == "$":
                raise self.error("cannot assign to $", token)
            slot = self.resolve(name, token)
            self.assigned.add(slot)
            return Declare(slot, expr, True, left.line)
        return Declare(self.declare(name), expr, False, left.line)

    # -- pipelines -----------------------------------------------------------

    def parse_declaration(self, context: str, *, allow_pair: bool) -> _Declaration | None:
        first = self.peek()
        if first.kind is not Kind.VARIABLE:
            return None
        second = self.peek(1)
        if second.kind in (Kind.DECLARE, Kind.ASSIGN):
            self.pos += 2
            return _Declaration([(first.value, first)], second.kind is Kind.ASSIGN)
        if second.kind is Kind.COMMA:
            if not allow_pair:
                raise self.error(f"too many declarations in {context}", second)
            third, fourth = self.peek(2), self.peek(3)
            if third.kind is not Kind.VARIABLE or fourth.kind not in (Kind.DECLARE, Kind.ASSIGN):
                raise self.error("expected $key, $value := in range", third)
            self.pos += 4
            return _Declaration(
                [(first.value, first), (third.value, third)], fourth.kind is Kind.ASSIGN
            )
        return None

    def parse_pipeline(self, context: str, closer: Kind) -> Expr:
        """Commands separated by ``|`` up to ``closer`` (left unconsumed), folded into calls."""
        start = self.peek()
        if start.kind is closer:
            raise self.error(f"missing value for {context}", start)
        result: Expr | None = None
        while True:
            command_start = self.peek()
            operands = self.parse_command(closer)
            if not operands:
                raise self.error(f"missing command in {context}", command_start)
            head = operands[0]
            if isinstance(head, _FunctionName):
                args = [self.as_expr(op) for op in operands[1:]]
                if result is not None:
                    args.append(result)
                result = self.make_call(head, args)
            else:
                if result is not None:
                    raise self.error(
                        "a pipeline stage after | must be a function call", command_start
                    )
                if len(operands) > 1:
                    raise self.error("only a function can take arguments", command_start)
                result = head
            token = self.peek()
            if token.kind is Kind.PIPE:
                self.next()
                continue
            if token.kind is closer:
                return result
            raise self.error(f"unexpected {describe(token)} in {context}", token)

    def parse_command(self, closer: Kind) -> list[Expr | _FunctionName]:
        operands: list[Expr | _FunctionName] = []
        while True:
            token = self.peek()
            if token.kind in (closer, Kind.PIPE):
                return operands
            if operands and not token.spaced and token.kind is not Kind.LPAREN:
                raise self.error(f"missing space before {describe(token)}", token)
            operands.append(self.parse_operand())

    def parse_operand(self) -> Expr | _FunctionName:
        token = self.next()
        term: Expr | _FunctionName
        if token.kind is Kind.DOT:
            term = DotRef()
        elif token.kind is Kind.FIELD:
            term = Path(DotRef(), (token.value,))
        elif token.kind is Kind.VARIABLE:
            term = VarRef(self.resolve(token.value, token))
        elif token.kind is Kind.STRING:
            term = Literal(token.value)
        elif token.kind is Kind.CHAR:
            term = Literal(ord(token.value))
        elif token.kind is Kind.NUMBER:
            try:
                term = Literal(parse_number(token.value))
            except ValueError:
                raise self.error(f"bad number syntax: {token.value!r}", token) from None
        elif token.kind is Kind.IDENTIFIER:
            term = self.identifier(token)
        elif token.kind is Kind.LPAREN:
            self.expr_depth += 1
            if self.expr_depth > MAX_EXPR_DEPTH:
                raise self.error(f"parentheses nested deeper than {MAX_EXPR_DEPTH}", token)
            try:
                term = self.parse_pipeline("parenthesized pipeline", Kind.RPAREN)
            finally:
                self.expr_depth -= 1
            self.next()
        else:
            raise self.error(f"unexpected {describe(token)} in operand", token)
        return self.parse_chain(term, token)

    def identifier(self, token: Token) -> Expr | _FunctionName:
        name = token.value
        if name == "true":
            return Literal(True)
        if name == "false":
            return Literal(False)
        if name == "nil":
            return Literal(None)
        if name in _KEYWORDS:
            raise self.error(f"unexpected keyword {name!r} in operand", token)
        if name in self.notes:
            return self.note(name, token)
        if name not in BUILTIN_OPERATORS and self.arity(name) is None:
            raise self.error(f"function {name!r} not defined", token)
        return _FunctionName(name, token)

    def note(self, name: str, token: Token) -> Expr:
        """A user note used as an operand: its expression, as if written in parentheses.

        A note may use other notes but not itself (directly or not): the
        expanding parser leaves its own name out of the notes it passes on.
        """
        others = {k: v for k, v in self.notes.items() if k != name}
        try:
            tokens = tokenize("{{" + self.notes[name] + "}}")
            sub = _Parser(tokens[1:], self.arity, others)
            expr = sub.parse_pipeline(f"note {name}", Kind.RIGHT)
            if sub.peek().kind is not Kind.RIGHT:
                raise sub.error(f"unexpected {describe(sub.peek())}", sub.peek())
        except TemplateSyntaxError as exc:
            raise self.error(f"in note {name!r}: {exc.message}", token) from None
        return expr

    def parse_chain(self, term: Expr | _FunctionName, start: Token) -> Expr | _FunctionName:
        keys: list[str] = []
        while self.peek().kind is Kind.FIELD and not self.peek().spaced:
            keys.append(self.next().value)
        if not keys:
            return term
        if isinstance(term, Literal):
            raise self.error("unexpected field access on a literal", start)
        base = self.as_expr(term)
        # "(.a.b).c" is not ".a.b.c": the parenthesized value is dug out of its
        # interface first, so a nil there is zero, not an error (see values.py).
        if isinstance(base, Path) and start.kind is not Kind.LPAREN:
            return Path(base.base, base.keys + tuple(keys))
        return Path(base, tuple(keys))

    def as_expr(self, operand: Expr | _FunctionName) -> Expr:
        """An operand used as a value: a bare function name is a call without arguments."""
        if isinstance(operand, _FunctionName):
            return self.make_call(operand, [])
        return operand

    def make_call(self, function: _FunctionName, args: list[Expr]) -> Call:
        if function.name == "call":
            # Go's error for a non-function names the callee as written.
            if not args:
                raise self.error(
                    "wrong number of arguments for call: want at least 1, got 0", function.token
                )
            args = [Literal(self.source_text(args[0])), *args]
        arity = BUILTIN_OPERATORS.get(function.name) or self.arity(function.name)
        assert arity is not None  # checked when the identifier was read
        low, high = arity
        if len(args) < low or (high is not None and len(args) > high):
            if high is None:
                want = f"at least {low}"
            elif low == high:
                want = str(low)
            else:
                want = f"{low} to {high}"
            raise self.error(
                f"wrong number of arguments for {function.name}: want {want}, got {len(args)}",
                function.token,
            )
        return Call(function.name, tuple(args), function.token.line, function.token.column)

    def source_text(self, expr: Expr) -> str:
        """An operand written back as Go's parse tree prints it (``.a.b``, ``$x``, ``"s"``)."""
        if isinstance(expr, DotRef):
            return "."
        if isinstance(expr, VarRef):
            return self.slot_source.get(expr.slot, "$")
        if isinstance(expr, Literal):
            value = expr.value
            if isinstance(value, str):
                return go_quote(value)
            if value is None:
                return "nil"
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)
        if isinstance(expr, Path):
            base = expr.base
            if isinstance(base, DotRef):
                prefix = ""
            elif isinstance(base, VarRef):
                prefix = self.source_text(base)
            else:
                prefix = "(" + self.source_text(base).removeprefix("(").removesuffix(")") + ")"
            return prefix + "".join(f".{key}" for key in expr.keys)
        words = [expr.name, *(self.source_text(arg) for arg in expr.args)]
        return "(" + " ".join(words) + ")" if expr.args else expr.name


@attrs.frozen
class _Declaration:
    targets: list[tuple[str, Token]]
    assign: bool


def is_empty_body(body: tuple[Node, ...]) -> bool:
    """Go's parse.IsEmptyTree: nothing but white space (comments are gone already)."""
    return all(isinstance(node, Text) and not node.text.strip() for node in body)


def go_string(text: str) -> str:
    """A name as Go's %q shows it in messages."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def describe(token: Token) -> str:
    if token.kind is Kind.EOF:
        return "end of template"
    if token.kind is Kind.RIGHT:
        return "}}"
    if token.kind in (Kind.IDENTIFIER, Kind.NUMBER, Kind.VARIABLE):
        return f"{token.value!r}"
    if token.kind is Kind.FIELD:
        return f"'.{token.value}'"
    if token.kind is Kind.STRING:
        return "string"
    return f"{token.kind.value!r}"


def parse(
    source: str, arity: ArityLookup, notes: Mapping[str, str] | None = None
) -> ParsedTemplate:
    """Parse ``source``; ``arity(name)`` gives a function's (min, max) or None if unknown.

    ``notes`` maps user note names to the expressions they stand for.
    """
    return _Parser(tokenize(source), arity, notes).parse()
