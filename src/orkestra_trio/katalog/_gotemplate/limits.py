"""Per-render budgets: output size, loop iterations and string work.

Renders are synchronous and run on the Trio thread, so a template that loops
for long would stall every other box. Each render therefore gets a
:class:`RenderBudget`; the generated code charges it for every range
iteration and every function result, and the render loop charges it for every
chunk of output. Crossing a limit raises :class:`GoExecError`, which the
render turns into a clear :class:`TemplateRenderError`.
"""

from __future__ import annotations

from typing import Any

import attrs

from orkestra_trio.katalog._gotemplate.errors import GoExecError

MiB = 1024 * 1024


@attrs.frozen
class Limits:
    """Caps for one render.

    ``max_output_chars``: characters the template may produce (also the cap on
    any single string a function builds). ``max_iterations``: range iterations
    in total over all loops of the render. ``max_work_chars``: characters of
    strings passed to and returned by functions, in total; it bounds CPU spent
    on string functions inside loops whose results are never printed.
    ``max_loop_steps``: actions and function calls executed inside loops, in
    total (each iteration charges its body's static size), so a loop body of
    many actions cannot multiply the iteration cap into seconds of work; a
    ``{{template}}`` call charges the called body's size to the same count
    (recursion multiplies work as loops do). ``max_template_depth``: templates
    running inside one another (Go allows 100,000; a render must stay short).

    The defaults keep the worst render to a few milliseconds of the loop
    (``bench/template_render.py``: about 5 ms for the loop-step cap, 4 ms for
    the iteration cap, 2 ms for the string work), because a render cannot be
    interrupted and every box of the process waits while it runs. They were
    ten to twenty-five times higher until a sibling box rendering at the old
    caps was measured holding a calm box's reconcile for hundreds of
    milliseconds (``bench/isolation.py``, mode ``cpu``).
    """

    max_output_chars: int = MiB
    max_iterations: int = 2_000
    max_work_chars: int = 4 * MiB
    max_loop_steps: int = 4_000
    max_template_depth: int = 100


DEFAULT_LIMITS = Limits()


class RenderBudget:
    """The mutable counters of one render, handed to generated code as ``st``."""

    __slots__ = ("depth", "iterations", "limits", "parts", "root", "size", "steps", "work")

    def __init__(self, limits: Limits, root: Any = None) -> None:
        self.limits = limits
        #: The render's root context (the dot at the start), for functions that read it.
        self.root = root
        self.iterations = 0
        self.steps = 0
        self.work = 0
        #: Templates running inside one another right now.
        self.depth = 0
        #: The output so far, when written through :meth:`write`.
        self.parts: list[str] = []
        self.size = 0

    def write(self, chunk: str) -> None:
        """Add ``chunk`` to the output, refusing to pass the output cap.

        Called templates write here directly rather than yield through every
        caller: a chunk costs the same at any depth of ``{{template}}``.
        """
        self.size += len(chunk)
        if self.size > self.limits.max_output_chars:
            raise GoExecError(
                f"output exceeds the limit of {self.limits.max_output_chars} characters"
            )
        self.parts.append(chunk)

    def charge_iteration(self, body_steps: int) -> None:
        self.iterations += 1
        self.steps += body_steps
        if self.iterations > self.limits.max_iterations:
            raise GoExecError(
                f"range: more than {self.limits.max_iterations} loop iterations in one render"
            )
        if self.steps > self.limits.max_loop_steps:
            raise GoExecError(
                f"range: loop bodies ran more than {self.limits.max_loop_steps} actions "
                "in one render"
            )

    def enter_template(self, name: str, body_steps: int) -> None:
        """A ``{{template}}`` call starts; the caller lowers ``depth`` when it ends."""
        self.steps += body_steps
        self.depth += 1
        if self.depth > self.limits.max_template_depth:
            raise GoExecError(
                f"template {name!r}: exceeded maximum template depth "
                f"({self.limits.max_template_depth})"
            )
        if self.steps > self.limits.max_loop_steps:
            raise GoExecError(
                f"template {name!r}: loop and template bodies ran more than "
                f"{self.limits.max_loop_steps} actions in one render"
            )

    def charge_work(self, chars: int) -> None:
        self.work += chars
        if self.work > self.limits.max_work_chars:
            raise GoExecError(
                f"function results exceed {self.limits.max_work_chars} characters in one render"
            )

    def check_value_size(self, size: int, what: str) -> None:
        """Refuse, before building it, a string longer than the output cap."""
        if size > self.limits.max_output_chars:
            raise GoExecError(
                f"{what}: result of {size} characters exceeds the limit of "
                f"{self.limits.max_output_chars}"
            )
