"""No merge-conflict marker is ever committed: several people land on main at once."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_text_file_holds_a_conflict_marker():
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    assert len(tracked) > 100  # the listing worked
    found = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.suffix not in {
            ".py",
            ".md",
            ".yaml",
            ".yml",
            ".toml",
            ".ini",
            ".txt",
            ".html",
            ".js",
        }:
            continue
        text = path.read_text(errors="replace")
        found += [
            f"{name.decode()}:{text.count(chr(10), 0, m.start()) + 1}"
            for m in MARKER.finditer(text)
        ]
    assert found == []
