# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port catalog and feature catalog: strict YAML, ports, the schema, caching (catalog.py)."""

from __future__ import annotations

import copy
import os
import shutil

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils import catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, load_yaml_file, parse_port


@pytest.mark.parametrize("value,allow_range,expected", [
    (8080, True, (8080, 8080)),
    ("8080", True, (8080, 8080)),
    (" 8080 ", True, (8080, 8080)),
    ("50000-50100", True, (50000, 50100)),
    ("1-65535", True, (1, 65535)),
])
def test_parse_port_accepts(value, allow_range, expected):
    assert parse_port(value, "f", allow_range=allow_range) == expected


@pytest.mark.parametrize("value,allow_range,text", [
    (0, True, "port 0 is outside 1-65535"),
    (65536, True, "outside 1-65535"),
    ("10-5", True, "runs backwards"),
    ("5020-5030", False, "is a range; this property takes one port"),
    (True, True, "True is not a port"),
    (None, True, "None is not a port"),
    (8080.0, True, "8080.0 is not a port"),
    ("１２３", True, "is not a port"),  # full-width digits
    ("12\n", False, None),  # stripped: fine
    ("12\n3", True, "is not a port"),
    ("0x50", True, "is not a port"),
    ("-5", True, "is not a port"),
    ("1 - 5", True, "is not a port"),
])
def test_parse_port_refuses(value, allow_range, text):
    if text is None:
        assert parse_port(value, "f", allow_range=allow_range) == (12, 12)
        return
    with pytest.raises(CatalogError, match="^f: ") as info:
        parse_port(value, "f", allow_range=allow_range)
    assert text in str(info.value)


def _write(tmp_path, name, data):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("data,text", [
    ("a: 1\na: 2\n", "duplicate key 'a' (first at line 1) at line 2, column 1"),
    ("? [a]\n: 1\n", "a sequence cannot be a mapping key at line 1"),
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty (no YAML content)"),
    ("a: caf\xe9\n".encode("latin-1"), "not UTF-8 (byte 6"),
    ("!!python/object/apply:os.system [id]\n", "could not determine a constructor"),
    ("a: [\n", "invalid YAML"),
])
def test_yaml_is_read_strictly(tmp_path, data, text):
    path = _write(tmp_path, "x.yml", data)
    with pytest.raises(CatalogError) as info:
        load_yaml_file(path, "thing")
    message = str(info.value)
    assert message.startswith("thing %s: " % path) and text in message
    assert "<unicode string>" not in message


def test_missing_file_names_it(tmp_path):
    with pytest.raises(CatalogError, match="cannot be read"):
        load_yaml_file(str(tmp_path / "none.yml"), "thing")
    with pytest.raises(CatalogError, match="none.yml: cannot be read"):
        catalog.load_catalog(str(tmp_path / "none.yml"))


def test_real_catalog_loads_and_is_cached(loaded_catalog):
    assert len(loaded_catalog.entries) >= 85
    assert catalog.load_catalog() is loaded_catalog
    assert "cmlJmxServerPort" in loaded_catalog.properties
    assert loaded_catalog.property_components("jmxRmiServerPort") == ["cml", "crs", "ors"]
    assert loaded_catalog.removed_features == {"web_status": loaded_catalog.removed_features["web_status"]}
    assert loaded_catalog.features["cluster"].derived


def _copies(tmp_path):
    port_catalog, features = tmp_path / "port_catalog.yml", tmp_path / "features.yml"
    shutil.copyfile(catalog.CATALOG_PATH, port_catalog)
    shutil.copyfile(catalog.FEATURES_PATH, features)
    return port_catalog, features


def test_cache_follows_the_file(tmp_path):
    port_catalog, features = _copies(tmp_path)
    first = catalog.load_catalog(str(port_catalog), str(features))
    assert catalog.load_catalog(str(port_catalog), str(features)) is first
    text = port_catalog.read_text(encoding="utf-8").replace("hardening: self_only", "hardening: null", 1)
    port_catalog.write_text(text, encoding="utf-8")
    os.utime(port_catalog, ns=(1, 1))  # another mtime whatever the clock resolution
    with pytest.raises(CatalogError, match=r"is-rmi-20222\)\.hardening: null, but an RMI registry row"):
        catalog.load_catalog(str(port_catalog), str(features))


def test_feature_errors_name_the_feature_file(tmp_path):
    port_catalog, features = _copies(tmp_path)
    features.write_text(features.read_text(encoding="utf-8").replace("scope: installation", "scope: site", 1),
                        encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        catalog.load_catalog(str(port_catalog), str(features))
    assert str(info.value).startswith("feature catalog %s: " % features) and "'site' is not one of" in str(info.value)


def test_duplicate_entry_ids_name_both(loaded_catalog):
    data = {"schema_version": 2, "seeds": {s: "t" for e in loaded_catalog.entries for s in e["references"]},
            "entries": copy.deepcopy(loaded_catalog.entries[:3])}
    data["entries"].append(copy.deepcopy(loaded_catalog.entries[1]))
    with pytest.raises(CatalogError, match=r"entries\[3\]\(%s\)\.id: duplicate id .* \(also entries\[1\]\)"
                       % loaded_catalog.entries[1]["id"]):
        catalog.validate_catalog(data, loaded_catalog.features)


@pytest.mark.parametrize("field,value,text", [
    ("id", "Bad Id", "is not a slug"),
    ("id", "ok-id\n", "is not a slug"),
    ("protocol", "sctp", "'sctp' is not one of tcp, udp"),
    ("condition", ["teleport"], "'teleport' is not defined"),
    ("ports", [], "must be a non-empty list"),
    ("ports", ["1-2-3"], "is not a port"),
    ("components", ["fax"], "'fax' is not one of"),
])
def test_entry_schema(loaded_catalog, field, value, text):
    entry = copy.deepcopy(loaded_catalog.by_id["ws-client-9100"])
    entry[field] = value
    with pytest.raises(CatalogError) as info:
        catalog.validate_entry(entry, 4, loaded_catalog.features)
    assert str(info.value).startswith("entries[4]") and text in str(info.value)


def test_a_feature_nothing_uses_is_refused(loaded_catalog):
    features = dict(loaded_catalog.features)
    features["teleport"] = catalog.Feature("teleport", "beam jobs", "host", (), None, False)
    with pytest.raises(CatalogError, match="features.teleport: no catalog entry uses it"):
        catalog.Catalog(loaded_catalog.entries, features, loaded_catalog.removed_features)


def test_query(loaded_catalog):
    ids = catalog.query(loaded_catalog.entries, "[?hardening=='self_only'].id")
    assert ids and all(i.startswith("is-rmi-") for i in ids)
    with pytest.raises(CatalogError, match="invalid JMESPath expression"):
        catalog.query(loaded_catalog.entries, "[?")
