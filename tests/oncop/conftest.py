"""Fixtures for the ONCOP tests (helpers live in oncop_helpers.py)."""

from __future__ import annotations

import textwrap

import pytest

from orkestra_trio.katalog import load_katalog
from orkestra_trio.katalog.model import CrossEntry

KATALOG_HEAD = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata:
  name: observer
spec:
  crds:
    app:
      apiTypes: {group: demo.example.com, version: v1, kind: App, plural: apps}
      operatorBox:
        cross:
"""


@pytest.fixture
def cross_entries(tmp_path):
    """cross_entries(yaml) -> the CrossEntry tuple of a box whose ``cross:`` list is ``yaml``."""

    def load(body: str) -> tuple[CrossEntry, ...]:
        path = tmp_path / "katalog.yaml"
        path.write_text(KATALOG_HEAD + textwrap.indent(textwrap.dedent(body), " " * 10))
        box = load_katalog(path).crds["app"].operator_box
        assert box is not None
        return box.cross

    return load
