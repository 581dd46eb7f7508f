"""`python -m orkestra_trio validate`: summaries on success, every error on failure."""

import subprocess
import sys
from pathlib import Path

import pytest

from orkestra_trio.cli import COMMANDS, main

FULL = Path(__file__).parent / "katalog" / "fixtures" / "full.yaml"


def test_valid_katalog_prints_one_summary_line(capsys):
    assert main(["validate", str(FULL)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{FULL}: Katalog 'shop': 2 CRDs (managed-database, app), 2 boxes, "
        "4 cross edges (1 in-process, 3 remote; 1 for autoscale)"
    ]


def test_errors_are_listed_with_positions_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "metadata: {name: bad}\n"
        "spec:\n"
        "  crds:\n"
        "    web:\n"
        "      apiTypes: {group: x.io, version: v1, kind: Web, plural: webs}\n"
        "      operatorBox:\n"
        "        reconciler: {workers: 0}\n"
        "        cross: [{crd: db}]\n"
    )
    assert main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == (
        f"{bad}:7:31: spec.crds.web.operatorBox.reconciler.workers: must be between 1 and 50, got 0"
    )
    assert lines[1].startswith(f"{bad}:8:17: spec.crds.web.operatorBox.cross[0]: cross entry 'db'")
    assert lines[2] == "2 errors found"
    assert "Traceback" not in captured.err


def test_missing_file_and_invalid_yaml_are_clean_errors(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("metadata:\n  name: [unclosed\n")
    assert main(["validate", str(tmp_path / "absent.yaml"), str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'absent.yaml'}:1:1: no such file" in err
    assert f"{broken}:3:1: invalid YAML" in err
    assert "Traceback" not in err


def test_module_entry_point_validates():
    proc = subprocess.run(
        [sys.executable, "-m", "orkestra_trio", "validate", str(FULL), "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "/nonexistent.yaml:1:1: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_describes_the_command(capsys):
    try:
        main(["validate", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "KATALOG.yaml" in capsys.readouterr().out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(capsys, command):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m orkestra_trio")
    if command is None:
        assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ":1:1: the file holds no YAML document"),
        (b"- a\n- b\n", ":1:1: expected a Katalog (a mapping with metadata and spec), got a list"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ":1:1: not UTF-8 text"),
        (b"\x00\x01\x02", ":1:1: invalid YAML: the character U+0000 is not allowed"),
        (b"metadata: {name: x}\r\nspec: [\r\n", ":3:1: invalid YAML"),
    ],
)
def test_nasty_files_give_one_positioned_line_each(capsys, tmp_path, data, expected):
    path = tmp_path / "nasty.yaml"
    path.write_bytes(data)
    assert main(["validate", str(path), str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{path}{expected}")
    assert err[1] == f"{tmp_path}:1:1: is a directory, not a file"
    assert err[2:] == ["2 errors found"]


def test_help_does_not_import_the_language():
    # Command modules import their layers inside run(): --help stays instant.
    code = (
        "import sys; from orkestra_trio.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('jinja2', 'orkestra_trio.katalog') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"
