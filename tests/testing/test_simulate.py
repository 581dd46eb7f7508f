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
    # Cycle 1 ends once the boxes are steady, which includes the Deployment's
    # Pods starting (the embedded server runs ReplicaSets and Pods since issue 15).
    assert lines[1].startswith("cycle 1 (t=")
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
    assert cycles[-1].endswith(": 0 object(s) changed, 0 write request(s)")
    assert cycles[-2].endswith(": 0 object(s) changed, 0 write request(s)")
    assert_headlines_match_listings(lines)


def assert_headlines_match_listings(lines: list[str]) -> None:
    """Each cycle's headline counts the objects it lists, and its writes add up by verb."""
    import re

    headline = re.compile(
        r"cycle \d+ \(t=[\d.]+s\): (\d+) object\(s\) changed, (\d+) write request\(s\)(?:: (.*))?$"
    )
    starts = [i for i, line in enumerate(lines) if line.startswith("cycle ")]
    assert starts
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        match = headline.match(lines[start])
        assert match, lines[start]
        objects, writes, by_verb = int(match[1]), int(match[2]), match[3]
        listed = [x for x in lines[start + 1 : end] if x.startswith(("  + ", "  - ", "  ~ "))]
        assert len(listed) == objects, lines[start:end]
        verbs = [int(part.rsplit(" ", 1)[1]) for part in by_verb.split(", ")] if by_verb else []
        assert sum(verbs) == writes, lines[start]


def test_a_remote_source_without_an_answer_is_said_and_cross_answers_it(capsys):
    katalog = str(ROOT / "katalogs" / "oncop-processor.yaml")
    cr = str(ROOT / "katalogs" / "oncop-processor" / "cr-sample.yaml")
    code = main(["simulate", katalog, "--cr", cr, "--events"])
    captured = capsys.readouterr()
    assert code == 0, captured.out
    warnings = captured.err.splitlines()
    assert warnings == [
        "warning: box processor reads loader from http://127.0.0.1:8081 (cross: entry and "
        "autoscale condition 'loader'), which nothing answers in a simulation: every read is "
        "'unavailable'; answer it with --cross loader=FILE.yaml"
    ]
    lines = captured.out.splitlines()
    assert "phase=WaitingForLoader" in captured.out
    assert lines[-1].startswith("settled after ") and "nothing to answer" in lines[-1]
    assert_headlines_match_listings(lines)

    answer = str(ROOT / "katalogs" / "oncop-processor" / "loader-answer.yaml")
    code = main(["simulate", katalog, "--cr", cr, "--cross", f"loader={answer}"])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    assert "  + Deployment default/ingest" in captured.out
    assert "loaderPhase=Ready" in captured.out and "phase=Processing" in captured.out
    assert captured.out.splitlines()[-1].startswith("settled after ")
    assert "nothing to answer" not in captured.out

    assert main(["simulate", katalog, "--cr", cr, "--cross", f"nope={answer}"]) == 1
    assert "--cross nope: no remote cross: entry is named 'nope'" in capsys.readouterr().err


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
    assert_headlines_match_listings(out.splitlines())


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


def test_plans_are_the_plans_render_prints(capsys):
    """``--plans`` prints each cycle's last plan of a CR, in render's shape, with its children."""
    import textwrap

    import yaml

    katalog = str(ROOT / "katalogs" / "website.yaml")
    cr = str(ROOT / "katalogs" / "website" / "cr-sample.yaml")
    assert main(["simulate", katalog, "--cr", cr, "--plans"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("  plan of box website for Website default/my-site:") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("    "))
    plan = yaml.safe_load(textwrap.dedent("\n".join(lines[start:end])))
    assert main(["render", katalog, "--cr", cr]) == 0
    rendered = yaml.safe_load(capsys.readouterr().out)
    assert set(plan) == set(rendered) - {"crd", "onDelete"}
    named = [(c["manifest"]["kind"], c["manifest"]["metadata"]["name"]) for c in plan["children"]]
    assert named == [
        (c["manifest"]["kind"], c["manifest"]["metadata"]["name"]) for c in rendered["children"]
    ]
    assert plan["events"][0]["reason"] == "WebsiteReconciled"
