"""Go text/template, compiled once to sandboxed jinja2: the Katalog's template engine.

Katalogs are written for Orkestra, whose templates are Go's text/template
(``{{ .metadata.name }}``, ``{{ .spec.x | default "y" }}``, ``{{ phase .cross.db }}``).
We parse that syntax ourselves, translate it to jinja2 source that contains no
user text, compile it in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`
and cache the result. Rendering follows Go's semantics (missing keys print
"", ``true``/``false``, ``3`` not ``3.0``) and runs under per-render limits on
output size, loop iterations and string work, because a render is synchronous
on the Trio thread and must never stall the other boxes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Protocol

from orkestra_trio.katalog._gotemplate.engine import Template
from orkestra_trio.katalog._gotemplate.errors import TemplateRenderError, TemplateSyntaxError
from orkestra_trio.katalog._gotemplate.functions import REGISTRY, template_function
from orkestra_trio.katalog._gotemplate.limits import DEFAULT_LIMITS, Limits
from orkestra_trio.katalog._gotemplate.values import format_value, lookup_path, number_from_text

__all__ = [
    "DEFAULT_LIMITS",
    "REGISTRY",
    "CompiledTemplate",
    "Limits",
    "Template",
    "TemplateRenderError",
    "TemplateSyntaxError",
    "compile_template",
    "format_value",
    "is_template",
    "lookup_path",
    "number_from_text",
    "template_function",
]


class CompiledTemplate(Protocol):
    """What the model keeps of a compiled template: something that renders a context."""

    def render(self, context: Mapping[str, Any]) -> str: ...


# Enough for every template of a large Katalog set; bounded so that templates
# compiled from changing text (never done today) could not grow memory forever.
_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile_cached(source: str, name: str, notes: tuple[tuple[str, str], ...]) -> Template:
    return Template(source, name, dict(notes))


def compile_template(
    source: str, *, name: str = "<template>", notes: Mapping[str, str] | None = None
) -> Template:
    """Compile Go template ``source``; the same source and name give the same object.

    ``notes``: the Katalog's user notes (name -> expression), usable by name.
    Raises :class:`TemplateSyntaxError` with ``message``, ``line`` and
    ``column`` (1-based, within ``source``).
    """
    # Only a template that may call a note depends on them (a note may call others).
    named = notes and any(name in source for name in notes)
    used = tuple(sorted(notes.items())) if notes and named else ()
    return _compile_cached(source, name, used)


def is_template(text: str) -> bool:
    """Does ``text`` contain template actions (as opposed to plain text)?"""
    return "{{" in text
