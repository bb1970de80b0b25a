"""docs/data-protection.md stays true to the product (issue 11): its retention table says what
register/retention.py's defaults are, kind by kind, and the commands it names exist."""

from __future__ import annotations

import re
from pathlib import Path

from register.retention import KINDS

DOC = Path(__file__).resolve().parent.parent / "docs" / "data-protection.md"
HEADER = "| Kind of record | Setting | Default | Allowed | What the purge removes |"


def retention_table(text: str) -> list[list[str]]:
    """The rows of the table under HEADER, each as its cells."""
    lines = text.splitlines()
    start = lines.index(HEADER) + 2  # past the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_retention_table_says_each_kinds_default_and_range():
    rows = retention_table(DOC.read_text(encoding="utf-8"))
    assert [row[0] for row in rows] == [kind.label for kind in KINDS]  # none missing, no extra
    for row, kind in zip(rows, KINDS, strict=True):
        assert row[1] == f"`{kind.setting}`", kind.key
        assert row[2] == kind.describe(kind.default), kind.key
        assert row[3] == f"{kind.low} to {kind.high} {kind.unit}", kind.key
        assert row[4], f"{kind.key}: say what the purge removes"


def test_a_changed_default_or_a_missing_kind_fails(tmp_path):
    """The check above really reads the table: an edited copy no longer matches."""
    text = DOC.read_text(encoding="utf-8")
    changed = text.replace("| `retention_audit` | 2 years |", "| `retention_audit` | 3 years |")
    assert changed != text
    assert retention_table(changed)[-1][2] != KINDS[-1].describe(KINDS[-1].default)
    label = KINDS[0].label
    missing = "\n".join(line for line in text.splitlines() if not line.startswith(f"| {label} |"))
    assert [row[0] for row in retention_table(missing)] != [kind.label for kind in KINDS]


def test_every_command_it_names_exists(app):
    named = set(re.findall(r"flask --app kiosk ([a-z-]+)", DOC.read_text(encoding="utf-8")))
    assert named >= {"purge", "subject-access", "erase-person", "audit-verify"}
    assert named <= set(app.cli.commands)
