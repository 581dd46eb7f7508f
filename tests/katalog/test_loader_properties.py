"""Property test: whatever a user writes, loading ends in a model or in KatalogError.

Starting from valid Katalogs (the rich test fixture and the bundled ones), a
random subtree is replaced by a random YAML value. The loader must either
accept the result or report issues that each carry a real position; any other
exception is a traceback the user would see.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkestra_trio.katalog import KatalogError, load_katalog
from orkestra_trio.katalog.conditions import OPERATORS

FIXTURES = Path(__file__).parent / "fixtures"
KATALOGS = Path(__file__).parents[2] / "katalogs"
SOURCES = [FIXTURES / "full.yaml", KATALOGS / "website.yaml", KATALOGS / "oncop-processor.yaml"]

# Strings that exercise the loader's own parsers: templates, durations, URLs, paths.
TRICKY_TEXT = [
    "",
    " ",
    "{{",
    "{{ .spec.x }}",
    "{{ if }}",
    "{{ end }}",
    "30x",
    "-5s",
    "1h30m",
    "http://",
    "https://h:1/{{ .x }}",
    "{{ .s }}://h/",
    "a..b",
    "spec.x",
    "(a+)+",
    "1,2",
    "x\0y",
    "../../etc/passwd",
    "nan",
    "inf",
    "Website",
    "metadata",
    *sorted(OPERATORS)[:4],
]
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(TRICKY_TEXT),
    st.text(max_size=8),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(TRICKY_TEXT), st.text(max_size=6)), inner, max_size=3
        ),
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
    return out


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = new
    return document


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_edit_loads_or_reports_positioned_issues(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    source = data.draw(st.sampled_from(SOURCES))
    document = yaml.safe_load(source.read_text())
    path = data.draw(st.sampled_from(_paths(document)))
    document = _replace(document, path, data.draw(values))
    folder = tmp_path_factory.mktemp("edit")
    # Keep the CRD and CR files the Katalog names next to it.
    for item in source.parent.iterdir():
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
    target = folder / "katalog.yaml"
    target.write_text(yaml.safe_dump(document, allow_unicode=True))
    try:
        load_katalog(target)
    except KatalogError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.file == str(target)
            assert issue.line >= 1 and issue.column >= 1, issue
            assert "\n" not in issue.message, issue
