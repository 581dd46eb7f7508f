"""Sentinels as zero-argument functions: ``{{ if generationChanged }}``.

Each reads the set of sentinels that fired, which the plan puts in the render's
root context under :data:`~orkestra_trio.katalog.sentinels.FIRED_KEY`. The
loader refuses a template that uses one not declared in ``preReconcile.sentinels``.
"""

from collections.abc import Callable, Mapping

from orkestra_trio.katalog._gotemplate.functions import template_function
from orkestra_trio.katalog._gotemplate.limits import RenderBudget
from orkestra_trio.katalog.sentinels import FIRED_KEY, SENTINELS


def _reader(name: str) -> Callable[[RenderBudget], bool]:
    def fired(budget: RenderBudget) -> bool:
        root = budget.root
        return isinstance(root, Mapping) and name in (root.get(FIRED_KEY) or ())

    fired.__name__ = name
    return fired


for _name in SENTINELS:
    template_function(_name, needs_budget=True)(_reader(_name))
