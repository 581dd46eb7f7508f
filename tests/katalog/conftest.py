"""Helpers for Katalog loader tests: write a Katalog into tmp_path and load it."""

import textwrap

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog

# A one-CRD Katalog whose operatorBox body starts on line BOX_FIRST_LINE.
BOX_HEADER = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata:
  name: test
spec:
  crds:
    web:
      apiTypes: {group: demo.example.com, version: v1, kind: Web, plural: webs}
      operatorBox:
"""
BOX_FIRST_LINE = 10


@pytest.fixture
def write_katalog(tmp_path):
    """write_katalog(text, name) -> path of a file holding the dedented text."""

    def write(text, name="katalog.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def box_katalog():
    """box_katalog(body) -> Katalog text with ``body`` as the operatorBox of CRD 'web'."""

    def build(body):
        return BOX_HEADER + textwrap.indent(textwrap.dedent(body), " " * 8)

    return build


@pytest.fixture
def load_issues(write_katalog):
    """load_issues(text) -> the issues of a Katalog that must fail to load."""

    def run(text, name="katalog.yaml"):
        with pytest.raises(KatalogError) as caught:
            load_katalog(write_katalog(text, name))
        return caught.value.issues

    return run
