# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checklist mapping table of the documentation is the one generated from catalog/checklist.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import docs
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import load_checklist

ROOT = Path(__file__).resolve().parents[5]
DOCUMENTS = [ROOT / "docs" / "prerequisites.md", ROOT / "roles" / "prerequisites" / "README.md"]


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.relative_to(ROOT).as_posix() for p in DOCUMENTS])
def test_mapping_table_has_no_drift(path):
    text = path.read_text(encoding="utf-8")
    assert docs.replace_table(text) == text, (
        "%s: the checklist mapping differs from catalog/checklist.yml; regenerate it with\n"
        "  python -c 'from pathlib import Path; from ansible_collections.safeq.hardening.plugins.plugin_utils."
        "prerequisites import docs; p = Path(\"%s\"); p.write_text(docs.replace_table(p.read_text()))'"
        % (path.relative_to(ROOT), path.relative_to(ROOT)))


def test_table_lists_every_line_and_every_check():
    checklist = load_checklist()
    table = docs.mapping_table(checklist)
    rows = table.splitlines()[2:]
    assert len(rows) == len(checklist.checks) + len(checklist.headings)
    for check in checklist.checks:
        assert sum(1 for r in rows if "| %s |" % check.id in r) == 1, check.id
    for number, text in checklist.lines.items():
        assert any(r.startswith("| %d | %s |" % (number, text.replace("|", "\\|"))) for r in rows), number
    assert "| 17 | \"LPD service\" not installed in case \"Print Server\" role is used. | PRE-LPD |" in table
    assert "| + | Every SafeQ host of the play was reached and evaluated. | PRE-CONNECT | automated | topology |" in table


def test_replace_table_needs_the_markers():
    with pytest.raises(ValueError, match="markers are missing"):
        docs.replace_table("no table here")
    text = "intro\n%s\nold table\n%s\noutro\n" % (docs.BEGIN, docs.END)
    new = docs.replace_table(text)
    assert new.startswith("intro\n" + docs.BEGIN + "\n| # |") and new.endswith(docs.END + "\noutro\n")
    assert docs.replace_table(new) == new
