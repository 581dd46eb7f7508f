"""The construct table of docs/katalog.md cannot drift from the tests and the count.

Each row names a construct of Orkestra's language, its status here and the
test that shows it. The test must exist, and its file (or the Katalogs and
fixtures beside it) must mention the construct's key; the count stated above
the table must be the count of its rows.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "katalog.md"
STATUSES = ("works", "differs", "refused")


def _rows() -> list[tuple[int, str, str, str]]:
    text = DOC.read_text()
    body = text.split("<!-- constructs:begin -->", 1)[1].split("<!-- constructs:end -->", 1)[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        number, construct, status, shown_by = cells
        rows.append((int(number), construct, status, shown_by.strip("`")))
    return rows


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def _corpus(path: Path) -> str:
    """The test file, its folder's conftest, and the Katalogs and fixtures beside it."""
    parts = [path.read_text()]
    conftest = path.parent / "conftest.py"
    if conftest.exists():
        parts.append(conftest.read_text())
    for folder in ("katalogs", "fixtures"):
        for data in sorted((path.parent / folder).rglob("*.yaml")):
            parts.append(data.read_text())
    return "\n".join(parts)


def _key(construct: str) -> str:
    """The construct's first `key`, last dotted segment, without a value (`default: true`)."""
    match = re.search(r"`([^`]+)`", construct)
    if match is None:
        return construct.split()[0]
    word = match.group(1).split(":")[0].split()[0]
    return word.rstrip(".").split(".")[-1] or word


def test_rows_are_numbered_and_have_a_status():
    rows = _rows()
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    for number, _construct, status, _shown in rows:
        assert status.startswith(STATUSES), f"row {number}: status {status!r}"
        if status.startswith(("differs", "refused")):
            assert ":" in status, f"row {number}: a {status.split()[0]} row says why"


def test_every_row_names_an_existing_test_that_mentions_its_key():
    problems = []
    for number, construct, _status, shown_by in _rows():
        file, _, name = shown_by.partition("::")
        path = ROOT / file
        if not path.exists() or name not in _defined_tests(path):
            problems.append(f"row {number}: no test {shown_by}")
        elif _key(construct) not in _corpus(path):
            problems.append(f"row {number}: {file} never mentions {_key(construct)!r}")
    assert not problems, "\n".join(problems)


def test_the_stated_count_is_the_count_of_rows():
    rows = _rows()
    by_status = {s: sum(row[2].startswith(s) for row in rows) for s in STATUSES}
    total = len(rows)
    works, differs = by_status["works"], by_status["differs"]
    stated = (
        f"**{works} of {total} constructs work ({100 * works / total:.1f} %); "
        f"{differs} differ deliberately ({works + differs} accepted, "
        f"{100 * (works + differs) / total:.1f} %); {by_status['refused']} are refused.**"
    )
    text = DOC.read_text()
    # A merge that keeps both sides' count lines leaves a stale one behind: one only.
    assert text.count("<!-- constructs:count -->") == 1
    count = text.split("<!-- constructs:count -->", 1)[1].split("<!-- /constructs:count -->", 1)[0]
    assert count == stated
