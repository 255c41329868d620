# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checklist mapping table of docs/prerequisites.md and roles/prerequisites/README.md, generated from the data.

The table sits between ``BEGIN`` and ``END`` markers in both files; ``replace_table(text)`` rewrites it
and a unit test fails when a file differs from the generated table.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import load_checklist

BEGIN = "<!-- BEGIN checklist mapping: generated from catalog/checklist.yml, do not edit -->"
END = "<!-- END checklist mapping -->"
AUTOMATION_TEXT = {
    "automated": "automated",
    "conditional": "automated when configured, else manual",
    "manual": "manual (facts gathered as evidence)",
}
HEADER = ("| # | Checklist line (verbatim) | Check id | Automated / manual | Tag | Platforms | Components | Mandatory |\n"
          "|---|---|---|---|---|---|---|---|\n")


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def _mandatory(check):
    if isinstance(check.mandatory, tuple):
        return "on %s hosts" % "/".join(check.mandatory)
    return "yes" if check.mandatory else "no"


def _row(number, text, check, heading=None):
    if check is None:
        return "| %s | %s | - | heading: %s | - | - | - | - |" % (number, _cell(text), _cell(heading))
    components = "run" if check.level == "run" else ("/".join(check.components) if check.components else "all")
    return "| %s | %s | %s | %s | %s | %s | %s | %s |" % (
        number, _cell(text), check.id, AUTOMATION_TEXT[check.automation], check.area, "/".join(check.platforms),
        components, _mandatory(check))


def mapping_table(checklist=None):
    """The Markdown table: every checklist line (verbatim) -> check id(s), then the checks that are not lines."""
    checklist = checklist or load_checklist()
    rows = []
    for number in sorted(checklist.lines):
        text = checklist.lines[number]
        if number in checklist.headings:
            rows.append(_row(number, text, None, checklist.headings[number]))
        for check in checklist.checks:
            if check.line == number:
                rows.append(_row(number, text, check))
    for check in checklist.checks:
        if check.line is None:
            rows.append(_row("+", check.item, check))
    return HEADER + "\n".join(rows) + "\n"


def replace_table(text, checklist=None):
    """``text`` with the table between the markers regenerated; ValueError when the markers are missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("the checklist mapping markers are missing (%s ... %s)" % (BEGIN, END))
    return text[:start + len(BEGIN)] + "\n" + mapping_table(checklist) + text[end:]
