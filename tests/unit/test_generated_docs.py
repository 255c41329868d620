# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated documentation (README content table, inventory, features, port properties, row coverage) is current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_match_the_data():
    stale = [str(path.relative_to(ROOT)) for path, text in _generator().outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, "out of date, run .venv/bin/python scripts/gen_docs.py: %s" % ", ".join(stale)


def test_content_table_lists_every_plugin_role_and_playbook():
    table = _generator().content_table()
    plugins = [p for kind in ("modules", "lookup", "filter") for p in (ROOT / "plugins" / kind).glob("*.py")]
    for path in plugins:
        assert "`safeq.hardening.%s`" % path.stem in table, path
    for path in list((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        assert "`safeq.hardening.%s`" % path.parts[-3] in table
    for path in (ROOT / "playbooks").glob("*.yml"):
        assert "`safeq.hardening.%s`" % path.stem in table


def test_every_catalog_row_reaches_a_host_on_the_showcase_inventory():
    text = (ROOT / "docs" / "row-coverage.md").read_text(encoding="utf-8")
    assert text.rstrip().endswith("Rows that reach no host on the showcase inventory: none.")
