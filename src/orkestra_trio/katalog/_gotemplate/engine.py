"""The sandboxed jinja2 environment and the bounded render loop.

One :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` serves every
template. Its default filters, tests and globals are removed: generated code
uses only the ``go_*`` helpers below and one ``fn_<name>`` filter per
registered function, each wrapped to charge the render budget. The sandbox is
a second wall: the translator never emits attribute access or calls, but if a
bug ever let one through, the sandbox would still refuse unsafe access.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orkestra_trio.katalog._gotemplate import library  # noqa: F401 (registers the catalogue)
from orkestra_trio.katalog._gotemplate.errors import (
    GoExecError,
    TemplateRenderError,
    TemplateSyntaxError,
)
from orkestra_trio.katalog._gotemplate.functions import REGISTRY, TemplateFunction, arity
from orkestra_trio.katalog._gotemplate.limits import DEFAULT_LIMITS, Limits, RenderBudget
from orkestra_trio.katalog._gotemplate.parser import parse
from orkestra_trio.katalog._gotemplate.translate import BUDGET, ROOT, TEMPLATES, translate
from orkestra_trio.katalog._gotemplate.values import (
    field_chain,
    field_step,
    format_value,
    go_type_name,
    is_list,
    is_mapping,
    sorted_map_items,
    wrapped_field_chain,
)

# -- helpers the generated code calls as filters ------------------------------


def _output_path(value: Any, keys: tuple[str, ...]) -> str:
    """``{{ .a.b }}``, fused: the common action costs one Python call."""
    if type(value) is dict:
        # After a map step every value is a map element: the wrapped rules.
        base = value
        try:
            for key in keys:
                value = value.get(key) if type(value) is dict else field_step(value, key)
        except GoExecError:
            wrapped_field_chain(base, keys)  # raises it again, saying where it stopped
            raise
    else:
        value = field_chain(value, keys)
    if type(value) is str:
        return value
    return format_value(value)


def _output_wrapped_path(value: Any, keys: tuple[str, ...]) -> str:
    """``{{ .a.b }}`` where the dot is a list or map element (inside ``range``)."""
    base = value
    try:
        for key in keys:
            value = value.get(key) if type(value) is dict else field_step(value, key)
    except GoExecError:
        wrapped_field_chain(base, keys)  # raises it again, saying where it stopped
        raise
    if type(value) is str:
        return value
    return format_value(value)


def _range(value: Any, budget: RenderBudget, body_steps: int) -> Iterator[tuple[Any, Any]]:
    """(key, element) pairs as Go's range visits them, charging each iteration."""
    if value is None:
        return
    if is_mapping(value):
        pairs: Any = sorted_map_items(value)
    elif is_list(value):
        pairs = enumerate(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        pairs = ((i, i) for i in range(value))  # Go 1.22: range over an int
    else:
        raise GoExecError(f"range can't iterate over {go_type_name(value)}")
    for pair in pairs:
        budget.charge_iteration(body_steps)
        yield pair


class _Cell:
    """A variable assigned with ``=``: jinja2 scopes cannot carry it out of a loop."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _cell_get(cell: _Cell) -> Any:
    return cell.value


def _cell_set(cell: _Cell, value: Any) -> str:
    cell.value = value
    return ""


class _Called:
    """An associated template, compiled: what ``{{template "name" .}}`` runs."""

    __slots__ = ("constants", "jinja", "steps")

    def __init__(self, jinja: jinja2.Template, steps: int, constants: dict[str, Any]) -> None:
        self.jinja = jinja
        self.steps = steps
        self.constants = constants


def _run_template(
    templates: Mapping[str, _Called], budget: RenderBudget, name: str, dot: Any
) -> str:
    """Run template ``name`` with ``dot`` (also its ``$``), budgeted; it writes the output."""
    called = templates[name]
    budget.enter_template(name, called.steps)
    variables = dict(called.constants)
    variables[ROOT] = dot
    variables[BUDGET] = budget
    variables[TEMPLATES] = templates
    jinja = called.jinja
    write = budget.write
    for chunk in jinja.root_render_func(jinja.new_context(variables, shared=True)):
        write(chunk)
    budget.depth -= 1
    return ""


def _wrap(function: TemplateFunction) -> Callable[..., Any]:
    """The filter for a registered function: charges the budget, names errors."""
    func, name, needs_budget = function.func, function.name, function.needs_budget

    def call(budget: RenderBudget, *args: Any) -> Any:
        work = 1
        for arg in args:
            if type(arg) is str:
                work += len(arg)
        budget.charge_work(work)
        try:
            result = func(budget, *args) if needs_budget else func(*args)
        except GoExecError as exc:
            message = str(exc)
            prefix = f"{name}: "
            raise GoExecError(message if message.startswith(prefix) else prefix + message) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise GoExecError(f"{name}: {exc}") from None
        if type(result) is str:
            budget.charge_work(len(result))
        return result

    return call


def _make_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.loopcontrols"],
        auto_reload=False,
        cache_size=0,
    )
    env.filters.clear()
    env.tests.clear()
    env.globals.clear()
    env.filters.update(
        {
            "go_out": format_value,
            "go_path": field_chain,
            "go_wpath": wrapped_field_chain,
            "go_outpath": _output_path,
            "go_woutpath": _output_wrapped_path,
            "go_template": _run_template,
            "go_range": _range,
            "go_cell": _Cell,
            "go_get": _cell_get,
            "go_set": _cell_set,
        }
    )
    return env


_ENV = _make_environment()


def _filter_for(name: str) -> None:
    """Install ``fn_<name>`` (functions may be registered after import)."""
    key = f"fn_{name}"
    if key not in _ENV.filters:
        _ENV.filters[key] = _wrap(REGISTRY[name])


# -- the compiled template ----------------------------------------------------

#: A field of the dot as translated (``{{ .metadata.name }}``), ``c<n>`` naming its keys.
_ROOT_FIELD = re.compile(r"\{\{ " + ROOT + r"\|go_outpath\((c\d+)\) \}\}")

#: A template that is text and fields of the dot only: literal pieces and key paths.
Interpolation = tuple[str | tuple[str, ...], ...]


def _interpolation(jinja_source: str, constants: Mapping[str, Any]) -> Interpolation | None:
    """The pieces of a template made only of text and fields of the dot, else None.

    Most Katalog values are such (``"{{ .metadata.name }}-page"``): they render by
    joining the pieces, as the generated code would, without a jinja context each.
    """
    pieces: list[str | tuple[str, ...]] = []
    position = 0
    for match in _ROOT_FIELD.finditer(jinja_source):
        pieces.append(jinja_source[position : match.start()])
        keys = constants.get(match.group(1))
        if not (isinstance(keys, tuple) and all(type(key) is str for key in keys)):
            return None
        pieces.append(keys)
        position = match.end()
    pieces.append(jinja_source[position:])
    literals = [piece for piece in pieces if isinstance(piece, str)]
    if len(literals) == len(pieces) or any(_JINJA_TEXT.search(text) for text in literals):
        return None  # no field, or text jinja would not copy as it is: the generated code
    return tuple(piece for piece in pieces if piece != "")


#: Characters that make jinja's handling of template text more than a copy.
_JINJA_TEXT = re.compile(r"[{}\r]")


class Template:
    """A compiled template: render it as often as you like, from any task."""

    __slots__ = (
        "_constants",
        "_globals",
        "_interpolation",
        "_jinja",
        "_notes",
        "_templates",
        "functions",
        "jinja_source",
        "name",
        "source",
    )

    def __init__(self, source: str, name: str, notes: Mapping[str, str] | None = None) -> None:
        self.source = source
        self.name = name
        self._notes = dict(notes or {})
        try:
            translation = translate(parse(source, arity, notes))
        except RecursionError:
            raise TemplateSyntaxError("template nested too deeply") from None
        for function in translation.functions:
            _filter_for(function)
        #: The functions the template calls (the loader checks sentinels are declared).
        self.functions = frozenset(translation.functions)
        self.jinja_source = translation.source
        try:
            self._jinja = _ENV.from_string(translation.source)
        except (RecursionError, SyntaxError, MemoryError, jinja2.TemplateSyntaxError) as exc:
            # Only pathological nesting gets here; the parser caps the usual ways.
            raise TemplateSyntaxError(f"template too complex to compile ({exc})") from None
        self._constants = translation.constants
        self._globals = self._jinja.root_render_func.__globals__
        self._interpolation = _interpolation(translation.source, translation.constants)
        #: The associated templates some ``{{template}}`` reaches, compiled, by name.
        self._templates: dict[str, _Called] = {}
        for called_name, (source, steps) in translation.definitions.items():
            try:
                jinja = _ENV.from_string(source)
            except (RecursionError, SyntaxError, MemoryError, jinja2.TemplateSyntaxError) as exc:
                raise TemplateSyntaxError(f"template too complex to compile ({exc})") from None
            self._templates[called_name] = _Called(jinja, steps, self._constants)

    def __repr__(self) -> str:
        return f"<Template {self.name}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its source: a box that plans in a process of its own
        # (runtime/planner.py) sends its CRD entry there, and compiles it again.
        return (Template, (self.source, self.name, self._notes))

    def render(self, context: Mapping[str, Any], *, limits: Limits = DEFAULT_LIMITS) -> str:
        """Render with ``context`` as the dot; TemplateRenderError on any failure."""
        if self._interpolation is not None:
            try:
                text = "".join(
                    piece if isinstance(piece, str) else _output_path(context, piece)
                    for piece in self._interpolation
                )
            except Exception:
                pass  # the generated code below reports it as it reports any failure
            else:
                if len(text) <= limits.max_output_chars:
                    return text
        budget = RenderBudget(limits, context)
        variables = dict(self._constants)
        variables[ROOT] = context
        variables[BUDGET] = budget
        variables[TEMPLATES] = self._templates
        jinja_template = self._jinja
        cap = limits.max_output_chars
        parts = budget.parts
        size = 0
        try:
            chunks = jinja_template.root_render_func(
                jinja_template.new_context(variables, shared=True)
            )
            if self._templates:
                # Called templates write into the budget's output: so do we.
                write = budget.write
                for chunk in chunks:
                    write(chunk)
            else:
                for chunk in chunks:
                    size += len(chunk)
                    if size > cap:
                        raise GoExecError(f"output exceeds the limit of {cap} characters")
                    parts.append(chunk)
        except GoExecError as exc:
            raise TemplateRenderError(
                str(exc), template_name=self.name, line=self._line_of(exc.__traceback__)
            ) from None
        except RecursionError:
            raise TemplateRenderError("nesting too deep", template_name=self.name) from None
        except Exception as exc:
            # Anything else is a bug in a helper or an unusual value; still a
            # render error of this template, never a crash of the caller.
            raise TemplateRenderError(
                f"{type(exc).__name__}: {exc}",
                template_name=self.name,
                line=self._line_of(exc.__traceback__),
            ) from None
        return "".join(parts)

    def _line_of(self, traceback: TracebackType | None) -> int:
        """The template line of the innermost generated-code frame in ``traceback``.

        Every compiled template keeps the Katalog text's line numbers, so a
        frame of a called template gives the line inside its ``define``.
        """
        line = 0
        while traceback is not None:
            frame_globals = traceback.tb_frame.f_globals
            if frame_globals is self._globals:
                line = self._jinja.get_corresponding_lineno(traceback.tb_lineno)
            else:
                for called in self._templates.values():
                    if frame_globals is called.jinja.root_render_func.__globals__:
                        line = called.jinja.get_corresponding_lineno(traceback.tb_lineno)
                        break
            traceback = traceback.tb_next
        return line
