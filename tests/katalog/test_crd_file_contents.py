"""A crdFile's contents are checked at load time: YAML, one CRD, the same API as apiTypes."""

import subprocess
import sys
from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: x}
spec:
  crds:
    a:
      apiTypes: {group: x.io, version: v1, kind: Thing, plural: things}
      crdFile: ./crd.yaml
"""

GOOD_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.x.io}
spec:
  group: x.io
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def _write(tmp_path: Path, crd_text: str) -> Path:
    (tmp_path / "crd.yaml").write_text(crd_text)
    katalog = tmp_path / "katalog.yaml"
    katalog.write_text(KATALOG)
    return katalog


def _issues(tmp_path: Path, crd_text: str) -> list:
    with pytest.raises(KatalogError) as caught:
        load_katalog(_write(tmp_path, crd_text))
    return caught.value.issues


def test_a_matching_crd_file_loads(tmp_path: Path) -> None:
    assert load_katalog(_write(tmp_path, GOOD_CRD)).crds["a"].crd_file is not None


def test_a_configmap_is_not_a_crd(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert len(issues) == 1
    # Placed at the Katalog's crdFile key, naming the crdFile.
    assert issues[0].file.endswith("katalog.yaml") and issues[0].path == "spec.crds.a.crdFile"
    assert "crd.yaml: expected one CustomResourceDefinition, found 0" in issues[0].message
    assert "ConfigMap" in issues[0].message


def test_broken_yaml_is_placed_where_it_breaks(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "apiVersion: v1\nkind: [unclosed\nmetadata: x\n")
    assert len(issues) == 1 and issues[0].file.endswith("katalog.yaml")
    assert "crd.yaml:2:" in issues[0].message or "crd.yaml:3:" in issues[0].message


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("group: x.io", "group: y.io", "spec.group", "apiTypes.group is 'x.io'"),
        ("kind: Thing,", "kind: Other,", "spec.names.kind", "apiTypes.kind"),
        ("plural: things}", "plural: others}", "spec.names.plural", "apiTypes.plural"),
        ("name: things.x.io", "name: nope.x.io", "metadata.name", "<plural>.<group>"),
        ("- name: v1", "- name: v2", "spec.versions", "no version 'v1'"),
        ("apiextensions.k8s.io/v1\n", "apiextensions.k8s.io/v1beta1\n", "apiVersion", "expected"),
    ],
)
def test_a_crd_of_another_api_is_refused(tmp_path, old, new, path, words) -> None:
    issues = _issues(tmp_path, GOOD_CRD.replace(old, new, 1))
    assert [i.path for i in issues] == ["spec.crds.a.crdFile"]
    assert f": {path}: " in issues[0].message and words in issues[0].message


def test_validate_prints_one_line_per_issue(tmp_path: Path) -> None:
    katalog = _write(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    result = subprocess.run(
        [sys.executable, "-m", "orkestra_trio", "validate", str(katalog)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    out = result.stderr + result.stdout
    assert "katalog.yaml:" in out and "spec.crds.a.crdFile:" in out and "ConfigMap" in out


@pytest.mark.slow
def test_run_reports_an_install_failure_in_one_line(tmp_path: Path) -> None:
    """A crdFile that loads but the API server refuses: one line, exit 1, no traceback."""
    katalog = _write(tmp_path, GOOD_CRD.replace("scope: Namespaced", "scope: Bogus"))
    katalog.write_text(KATALOG + "      operatorBox:\n        reconciler: {workers: 1}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "orkestra_trio",
            "run",
            str(katalog),
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            str(tmp_path / "kubeconfig"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("orkestra_trio:")]
    assert len(lines) == 1 and "cannot install CRD things.x.io" in lines[0]
    assert "Traceback" not in result.stderr
