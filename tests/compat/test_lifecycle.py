"""`lifecycle` (ORKESTRA-LANGUAGE 1.2): maturity, deprecation and compatibility of a pattern.

As in Orkestra, the block changes nothing the runtime does; what loads a Katalog says
what it implies. A deprecated Katalog warns (with its message, migration target and
end of life); a Komposer refuses a deprecated import unless it accepts it under
`lifecycle.accept.patterns`, warns about alpha/beta imports and refuses those below
its `policy.lifecycle.minMaturity`; `compatibility.kubernetes` is checked against the
API server's version when the boxes start.
"""

import datetime
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from orkestra_trio.katalog import KatalogError, load_katalogs
from orkestra_trio.testing import open_test_cluster, run_katalog

TODAY = datetime.date.today()


def day(offset: int) -> str:
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def katalog(lifecycle: str = "", *, name: str = "shop", meta: str = "") -> str:
    return f"""\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {{name: {name}{meta}}}
{lifecycle}spec:
  crds:
    {name}:
      apiTypes: {{group: {name}.example.com, version: v1, kind: Shop, plural: shops}}
      operatorBox:
        onReconcile:
          configMaps: [{{data: {{a: b}}}}]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orkestra_trio", "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


DEPRECATED = f"""\
lifecycle:
  maturity: stable
  deprecation:
    message: the shop moves to the storefront pattern
    migratedTo: storefront
    timeline: {{from: {day(-10)}, to: {day(20)}}}
"""


def test_a_deprecated_katalog_loads_with_a_warning_naming_its_place(tmp_path: Path):
    path = write(tmp_path, "k.yaml", katalog(DEPRECATED))
    done = validate(path)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, done.stderr
    (line,) = warnings
    assert f"{path}:4:1: lifecycle: " in line
    assert "Katalog 'shop' is deprecated: the shop moves to the storefront pattern" in line
    assert "migrate to storefront" in line
    assert f"end of life {day(20)} (in 20 days)" in line


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [
        (f"{{from: {day(3)}}}", None),  # not yet
        (f"{{from: {day(-30)}, to: {day(-1)}}}", "past its end of life"),
        (f"{{to: {day(0)}}}", "past its end of life"),
        ("null", "is deprecated"),
    ],
)
def test_the_timeline_decides_the_deprecation_state(tmp_path, timeline, expected):
    block = f"lifecycle:\n  deprecation: {{message: m, timeline: {timeline}}}\n"
    if timeline == "null":
        block = "lifecycle: {maturity: deprecated}\n"
    found = load_katalogs([write(tmp_path, "k.yaml", katalog(block))]).warnings
    if expected is None:
        assert found == ()
    else:
        assert len(found) == 1 and expected in found[0].message, found


def test_a_stable_katalog_says_nothing(tmp_path: Path):
    block = "lifecycle:\n  maturity: stable\n  compatibility: {kubernetes: '>=1.27', orkestra: '^0.7'}\n"
    assert load_katalogs([write(tmp_path, "k.yaml", katalog(block))]).warnings == ()


def komposer(files: list[str], lifecycle: str = "", policy: str = "") -> str:
    listed = "\n".join(f"    - {name}" for name in files)
    return f"""\
apiVersion: orkestra.orkspace.io/v1
kind: Komposer
metadata: {{name: platform}}
imports:
  files:
{listed}
{lifecycle}{policy}"""


def test_a_komposer_refuses_a_deprecated_import_it_does_not_accept(tmp_path: Path):
    write(tmp_path, "shop.yaml", katalog(DEPRECATED, meta=", version: 1.4.0"))
    top = write(tmp_path, "komposer.yaml", komposer(["shop.yaml"]))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([top])
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.path) == (str(top), 6, "imports.files[0]")
    assert "imported Katalog 'shop' is deprecated" in issue.message
    assert "lifecycle.accept.patterns" in issue.message

    # Accepted (for the imported version): it loads; the Katalog's own warning still says it.
    accept = "lifecycle:\n  accept:\n    patterns: [{name: shop, version: '^1.2'}]\n"
    write(tmp_path, "komposer.yaml", komposer(["shop.yaml"], accept))
    loaded = load_katalogs([top])
    assert "shop" in loaded.crds
    assert [(Path(w.file).name, w.path) for w in loaded.warnings] == [("shop.yaml", "lifecycle")]

    # An acceptance for other versions is stale: it still accepts, and says so.
    stale = accept.replace("^1.2", "^2")
    write(tmp_path, "komposer.yaml", komposer(["shop.yaml"], stale))
    messages = [w.message for w in load_katalogs([top]).warnings]
    assert any("names versions ^2, but version 1.4.0 is imported" in m for m in messages)


def test_pre_stable_imports_warn_and_a_min_maturity_refuses_them(tmp_path: Path):
    write(tmp_path, "shop.yaml", katalog("lifecycle: {maturity: beta}\n"))
    write(tmp_path, "cart.yaml", katalog("lifecycle: {maturity: stable}\n", name="cart"))
    top = write(tmp_path, "komposer.yaml", komposer(["shop.yaml", "cart.yaml"]))
    (warning,) = load_katalogs([top]).warnings
    assert (warning.line, warning.path) == (6, "imports.files[0]")
    assert "imported Katalog 'shop' is beta, not yet stable" in warning.message

    policy = "policy:\n  lifecycle: {minMaturity: stable}\n"
    write(tmp_path, "komposer.yaml", komposer(["shop.yaml", "cart.yaml"], policy=policy))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([top])
    (issue,) = caught.value.issues
    assert "is beta, below the policy's minMaturity stable" in issue.message

    accept = "lifecycle:\n  accept: {patterns: [{name: shop}]}\n"
    write(tmp_path, "komposer.yaml", komposer(["shop.yaml", "cart.yaml"], accept, policy))
    assert load_katalogs([top]).warnings == ()


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ("lifecycle: {maturity: gamma}\n", "lifecycle.maturity", "expected one of alpha"),
        (
            "lifecycle: {deprecation: {timeline: {to: next-week}}}\n",
            "lifecycle.deprecation.timeline.to",
            "expected a date YYYY-MM-DD",
        ),
        (
            "lifecycle: {deprecation: {timeline: {from: 2027-02-01, to: 2027-01-01}}}\n",
            "lifecycle.deprecation.timeline.to",
            "before 'from'",
        ),
        (
            "lifecycle: {compatibility: {kubernetes: '>=one'}}\n",
            "lifecycle.compatibility.kubernetes",
            "expected a version range",
        ),
        ("lifecycle: {accept: {patterns: []}}\n", "lifecycle.accept", "written in a Komposer"),
        ("lifecycle: {maturty: beta}\n", "lifecycle.maturty", "did you mean 'maturity'"),
    ],
)
def test_bad_lifecycle_blocks_are_load_errors_at_their_place(tmp_path, block, path, message):
    file = write(tmp_path, "k.yaml", katalog(block))
    with pytest.raises(KatalogError) as caught:
        load_katalogs([file])
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.path) == (str(file), 4, path)
    assert message in issue.message


@pytest.mark.parametrize(("kubernetes", "warns"), [(">=1.34", True), (">=1.27, <1.34", False)])
async def test_compatibility_kubernetes_is_checked_against_the_server(
    autojump_clock, tmp_path: Path, caplog, kubernetes: str, warns: bool
):
    block = f"lifecycle:\n  compatibility: {{kubernetes: '{kubernetes}'}}\n"
    path = write(tmp_path, "k.yaml", katalog(block))
    caplog.set_level(logging.WARNING, logger="orkestra_trio.runtime.runtime")
    async with open_test_cluster() as cluster, run_katalog(path, cluster) as kat:
        await kat.apply(kat.manifest("shop", "one"))
        await kat.wait_steady()
    said = [r.getMessage() for r in caplog.records if "compatibility.kubernetes" in r.getMessage()]
    if warns:
        (line,) = said
        assert line.startswith(f"{path}:4:1")
        assert "the API server runs Kubernetes v1.33.0-orkestra, outside the range '>=1.34'" in line
    else:
        assert said == []
