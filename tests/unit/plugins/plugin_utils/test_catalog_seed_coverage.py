"""The port catalog covers every row of both vendor seed pages, exactly once, with exact references.

Seeds live outside the repository in ``../shared/seeds`` (relative to the repo root). Locally the
test skips when that directory is absent; in CI (env ``CI`` set) a missing directory is a failure.
"""

import importlib.util
import os
from collections import Counter
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve()
REPO_ROOT = HERE.parents[4]
SEEDS_DIR = HERE.parents[5] / "shared" / "seeds"
CATALOG = REPO_ROOT / "catalog" / "port_catalog.yml"

SEED_000 = "000_4a548c7e37f44531.txt"
SEED_001 = "001_c8baf7c42c6ea139.txt"

# Rows per seed table, counted by hand from the seed pages.
EXPECTED_SECTION_COUNTS = {
    SEED_000: {
        "workstation_to_server": 17,
        "server_to_printer": 18,
        "printer_to_server": 15,
        "inter_server": 17,
        "other": 17,
        "cluster_installation": 3,
    },
    # 001 lacks the Tomcat 8005 row and the Lexmark installation row.
    SEED_001: {
        "workstation_to_server": 16,
        "server_to_printer": 17,
        "printer_to_server": 15,
        "inter_server": 17,
        "other": 17,
        "cluster_installation": 3,
    },
}
EXPECTED_TOTALS = {SEED_000: 87, SEED_001: 85}


def _load_seed_tables():
    # Load the helper by path so the test does not depend on sys.path / package layout.
    spec = importlib.util.spec_from_file_location("safeq_seed_tables", HERE.parent / "seed_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_tables = _load_seed_tables()


@pytest.fixture(scope="module")
def seed_rows():
    if not SEEDS_DIR.is_dir():
        msg = "seed directory %s not found" % SEEDS_DIR
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI is set: seeds are required)")
        pytest.skip(msg)
    rows = {}
    for name in (SEED_000, SEED_001):
        path = SEEDS_DIR / name
        if not path.is_file():
            pytest.fail("seed file %s missing from %s" % (name, SEEDS_DIR))
        rows[name] = seed_tables.parse_seed_file(path)
    return rows


@pytest.fixture(scope="module")
def catalog():
    with CATALOG.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _entry_key(entry):
    seed = entry["seed"]
    return (entry["section"], seed["required"], seed["type"], seed["port"], seed["communication"])


def _by_key(catalog):
    index = {}
    for entry in catalog["entries"]:
        index.setdefault(_entry_key(entry), []).append(entry)
    return index


def test_seed_row_counts(seed_rows):
    for name, rows in seed_rows.items():
        assert len(rows) == EXPECTED_TOTALS[name], name
        assert dict(Counter(r["section"] for r in rows)) == EXPECTED_SECTION_COUNTS[name], name


def test_seed_rows_are_distinct(seed_rows):
    for name, rows in seed_rows.items():
        keys = Counter(seed_tables.row_key(r) for r in rows)
        assert [k for k, n in keys.items() if n > 1] == [], name


def test_catalog_top_level(catalog):
    assert catalog["schema_version"] == 2
    assert set(catalog["seeds"]) == {SEED_000, SEED_001}
    ids = [e["id"] for e in catalog["entries"]]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]


def test_every_seed_row_maps_to_exactly_one_entry(seed_rows, catalog):
    index = _by_key(catalog)
    for name, rows in seed_rows.items():
        for row in rows:
            matches = index.get(seed_tables.row_key(row), [])
            assert len(matches) == 1, (name, row, [m["id"] for m in matches])
            entry = matches[0]
            assert entry["section"] == row["section"]
            assert entry["seed"] == {
                "required": row["required"],
                "type": row["type"],
                "port": row["port"],
                "communication": row["communication"],
            }, entry["id"]
            assert name in entry["references"], (entry["id"], name)


def test_entry_references_are_exact(seed_rows, catalog):
    keys_by_file = {name: {seed_tables.row_key(r) for r in rows} for name, rows in seed_rows.items()}
    for entry in catalog["entries"]:
        refs = entry["references"]
        assert refs, entry["id"]
        assert len(refs) == len(set(refs)), entry["id"]
        assert set(refs) <= set(catalog["seeds"]), entry["id"]
        expected = sorted(name for name, keys in keys_by_file.items() if _entry_key(entry) in keys)
        assert sorted(refs) == expected, entry["id"]


def test_entry_count_matches_union_of_seed_rows(seed_rows, catalog):
    union = {seed_tables.row_key(r) for rows in seed_rows.values() for r in rows}
    assert len(catalog["entries"]) == len(union) == EXPECTED_TOTALS[SEED_000]


def test_no_stray_typo_in_descriptions(catalog):
    for entry in catalog["entries"]:
        assert "asdf" not in entry["description"].lower(), entry["id"]


def test_rows_only_in_000(catalog):
    only_000 = [
        e for e in catalog["entries"]
        if e["seed"]["port"] == "8005" or "Lexmark" in e["seed"]["required"]
    ]
    assert sorted(e["seed"]["port"] for e in only_000) == ["80, 21", "8005"]
    for entry in only_000:
        assert entry["references"] == [SEED_000], entry["id"]
