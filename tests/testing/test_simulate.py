"""The simulate command: cycles of writes and status in virtual time; exit 1 when it never settles."""

from pathlib import Path

from orkestra_trio.cli import main

ROOT = Path(__file__).resolve().parents[2]
KATALOGS = Path(__file__).parent / "katalogs"

BROKEN = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: broken}
spec:
  crds:
    shop:
      apiTypes: {group: kit.example.com, version: v1, kind: Shop, plural: shops}
      operatorBox:
        onReconcile:
          configMaps:
            - name: "{{ .metadata.name }}-cfg"
              data: {size: "{{ .spec.size }}"}
        status:
          fields:
            - path: size
              value: "{{ .spec.size }}"
              type: int
"""

SHOP_CR = """\
apiVersion: kit.example.com/v1
kind: Shop
metadata: {name: s1, namespace: default}
spec: {size: lots}
"""


def test_website_settles(capsys):
    code = main(
        [
            "simulate",
            str(ROOT / "katalogs" / "website.yaml"),
            "--cr",
            str(ROOT / "katalogs" / "website" / "cr-sample.yaml"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "applied 1 CR; boxes: website"
    assert "cycle 1 (t=1" in lines[1]
    # Cycle 1 shows every write, also those made while the CRs went in.
    cycle_one = lines[2 : lines.index(next(x for x in lines if x.startswith("cycle 2")))]
    for child in (
        "ConfigMap default/my-site-page-home",
        "ConfigMap default/my-site-page-about",
        "Deployment default/my-site",
        "Service default/my-site",
        "Ingress default/my-site",
    ):
        assert f"  + {child}" in cycle_one, out
    assert any(line.startswith("  status Website my-site: Ready=True") for line in lines)
    assert lines[-1].startswith("settled after")
    # The last two cycles wrote nothing.
    cycles = [line for line in lines if line.startswith("cycle ")]
    assert cycles[-1].endswith(": 0 write request(s)")
    assert cycles[-2].endswith(": 0 write request(s)")


def test_a_failing_katalog_never_settles(tmp_path, capsys):
    katalog = tmp_path / "broken.yaml"
    katalog.write_text(BROKEN)
    cr = tmp_path / "cr.yaml"
    cr.write_text(SHOP_CR)
    code = main(["simulate", str(katalog), "--cr", str(cr), "--max-cycles", "4"])
    out = capsys.readouterr().out
    assert code == 1
    assert "Ready=False" in out
    assert "box shop: " in out and "failure(s) in a row" in out
    assert out.splitlines()[-1] == "did not settle within 4 cycles"


def test_user_mistakes_are_clean_messages(tmp_path, capsys):
    cr = tmp_path / "other.yaml"
    cr.write_text("apiVersion: x.example.com/v1\nkind: Other\nmetadata: {name: o}\n")
    code = main(["simulate", str(KATALOGS / "shop.yaml"), "--cr", str(cr)])
    err = capsys.readouterr().err
    assert code == 1
    assert "no box of the Katalog reconciles x.example.com/v1 Other 'o'" in err

    missing = tmp_path / "nope.yaml"
    code = main(["simulate", str(KATALOGS / "shop.yaml"), "--cr", str(missing)])
    err = capsys.readouterr().err
    assert code == 1 and "nope.yaml" in err and "Traceback" not in err

    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nspec: {crds: 3}\n")
    code = main(["simulate", str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and "bad.yaml:" in err and "Traceback" not in err
