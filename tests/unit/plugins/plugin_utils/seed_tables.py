"""Parse the port tables of the YSoft SafeQ 5 "Network communication overview" seed pages.

The seed files are plain-text copies of the vendor page. Each port table sits under a
section heading and consists of pipe-separated rows::

    Required? | Type | Port | Communication type | Description |

A row may be wrapped over several lines (the first cell alone on one line, or the
description continued on following lines). A row is complete once the joined text holds
five cells and ends with ``|``. Text outside the tables (checklists, prose after the last
table) is ignored.

``parse_seed_file(path)`` returns one dict per data row::

    {"section", "required", "type", "port", "communication", "description"}

with every cell stripped and inner whitespace collapsed to single spaces. Descriptions are
returned as they appear in the seed (no typo clean-up); the catalog holds the cleaned text.
"""

import re
from pathlib import Path

# Heading line in the seed -> catalog `section` value.
SECTION_HEADINGS = {
    "Workstation to server communication (server inbound rules)": "workstation_to_server",
    "Server to printer communication (server outbound rules)": "server_to_printer",
    "Printer to server communication (server inbound rules)": "printer_to_server",
    "Inter-server communication (inbound and outbound rules)": "inter_server",
    "Other communication": "other",
    "Cluster installation": "cluster_installation",
}

CELL_NAMES = ("required", "type", "port", "communication", "description")

# A wrapped row longer than this is treated as a parse error, not silently swallowed.
_MAX_ROW_LINES = 12

_HEADER_RE = re.compile(r"^Required\??\s*\|\s*Type\s*\|\s*Port\s*\|", re.IGNORECASE)


class SeedParseError(ValueError):
    """Raised when a seed table row cannot be parsed."""


def normalize(text):
    """Collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.split())


def _split_row(joined, path, lineno):
    if not joined.endswith("|"):
        raise SeedParseError("%s:%d: row does not end with '|': %r" % (path, lineno, joined))
    cells = [normalize(c) for c in joined[:-1].split("|")]
    if len(cells) != len(CELL_NAMES):
        raise SeedParseError(
            "%s:%d: expected %d cells, got %d: %r" % (path, lineno, len(CELL_NAMES), len(cells), joined)
        )
    return dict(zip(CELL_NAMES, cells))


def parse_seed_text(text, path="<seed>"):
    """Parse seed page text; see module docstring."""
    rows = []
    section = None
    in_table = False
    buf = []  # lines of the row being assembled
    buf_start = 0

    def unfinished():
        return buf and "|" in " ".join(buf)

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = normalize(raw)
        if line in SECTION_HEADINGS:
            if unfinished():
                raise SeedParseError("%s:%d: incomplete row before heading: %r" % (path, buf_start, " ".join(buf)))
            section = SECTION_HEADINGS[line]
            in_table = False
            buf = []
            continue
        if section is None or not line:
            continue
        if _HEADER_RE.match(line):
            if unfinished():
                raise SeedParseError("%s:%d: incomplete row before header: %r" % (path, buf_start, " ".join(buf)))
            in_table = True
            buf = []
            continue
        if not in_table:
            continue

        if buf and "|" not in " ".join(buf) and "|" not in line:
            # Two pipe-less lines in a row: the previous one was prose, not a wrapped first cell.
            buf = []
        if not buf:
            buf_start = lineno
        buf.append(line)
        joined = " ".join(buf)
        if "|" not in joined:
            continue  # possibly a first cell wrapped onto its own line
        if joined.endswith("|") and joined.count("|") >= len(CELL_NAMES):
            row = _split_row(joined, path, buf_start)
            row = {"section": section, **row}
            rows.append(row)
            buf = []
        elif len(buf) > _MAX_ROW_LINES:
            raise SeedParseError("%s:%d: row never completed: %r" % (path, buf_start, joined))

    if unfinished():
        raise SeedParseError("%s:%d: incomplete row at end of file: %r" % (path, buf_start, " ".join(buf)))
    return rows


def parse_seed_file(path):
    """Parse one seed file: path -> list of row dicts (see module docstring)."""
    path = Path(path)
    return parse_seed_text(path.read_text(encoding="utf-8"), str(path))


def row_key(row):
    """Identity of a seed row: its section and the four raw leading cells."""
    return (row["section"], row["required"], row["type"], row["port"], row["communication"])
