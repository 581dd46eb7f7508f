"""Orkestra's template function catalogue, domain by domain (ORKESTRA-LANGUAGE.md 1.5).

Each module registers its functions with :func:`..functions.template_function`
when imported; the engine imports this package so every template sees them.
Conventions, as in Go/sprig: the value a pipeline passes comes *last*
(``{{ .s | trimPrefix "v" }}``), a missing value (nil) is treated as the
zero value of what the function expects, and nothing raises on an absent
field: readers of objects answer "" / 0 / false / an empty list. Functions
that build strings check the render budget before building them.
"""

from orkestra_trio.katalog._gotemplate.library import (  # noqa: F401 (registration)
    collections,
    objects,
    sentinels,
    strings,
    timecron,
    workloads,
)
