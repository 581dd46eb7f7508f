"""The two ways a template fails: at compile time and at render time.

They live here, below everything else, so the lexer, the parser and the
functions can raise them without importing the public module.
"""

from __future__ import annotations

import functools
from typing import Any


class TemplateSyntaxError(Exception):
    """A template that cannot be compiled.

    ``line`` and ``column`` are 1-based and count within the template source
    itself; the Katalog loader adds the file position of the YAML scalar.
    """

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {message}")


class TemplateRenderError(Exception):
    """A template that compiled but failed while rendering (or hit a limit).

    The text names the template (the loader sets its name to ``file:line:col``) so
    the reconcile failure it becomes points back at the Katalog.
    """

    def __init__(self, message: str, *, template_name: str = "<template>", line: int = 0) -> None:
        self.message = message
        self.template_name = template_name
        self.line = line
        where = template_name if line <= 1 else f"{template_name} (template line {line})"
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: the default pickling would call cls(text) and fail.
        rebuild = functools.partial(
            TemplateRenderError, template_name=self.template_name, line=self.line
        )
        return (rebuild, (self.message,))


class GoExecError(Exception):
    """Raised by functions and value helpers during a render.

    The render loop turns it into a :class:`TemplateRenderError` carrying the
    template's name and line; its text is the bare reason ("division by zero").
    """
