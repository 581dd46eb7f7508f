"""Rewrite constraints.txt from the environment this interpreter runs in (`tox -e pin`).

The pins are what CI installs with (README: Dependencies). Run `tox -e newest`
first: pin only versions the whole suite has passed with.
"""

import subprocess
import sys
from pathlib import Path

HEADER = (
    "# Exact versions CI installs with (README: Dependencies). Rewritten by `tox -e pin`\n"
    "# after `tox -e newest` passed; hand edits are lost on the next pin.\n"
)

frozen = subprocess.run(
    [sys.executable, "-m", "pip", "freeze", "--exclude", "orkestra_trio", "--exclude", "orkestra-trio"],
    check=True,
    capture_output=True,
    text=True,
).stdout
target = Path(__file__).resolve().parent.parent / "constraints.txt"
target.write_text(HEADER + frozen)
print(f"wrote {len(frozen.splitlines())} pins to {target}")
