# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port catalog: load catalog/port_catalog.yml and validate it against the schema.

Pure Python (PyYAML only), usable without Ansible running.
"""

from __future__ import annotations

import os
import re

import yaml

CATALOG_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "catalog", "port_catalog.yml"
)

SECTIONS = (
    "workstation_to_server",
    "server_to_printer",
    "printer_to_server",
    "inter_server",
    "other",
    "cluster_installation",
)
DIRECTIONS = ("inbound", "outbound")
PROTOCOLS = ("tcp", "udp")
COMPONENTS = ("cml", "ors", "crs", "ap_connector", "etcd")
ENDPOINTS = COMPONENTS + (
    "workstation",
    "printer",
    "terminal",
    "ts",
    "ldap",
    "database",
    "payment_system",
    "payment_machine",
    "smtp",
    "multicast",
    "mps",
    "localhost",
)
REQUIREMENTS = ("mandatory", "optional", "recommended_localhost")
BINDS = ("localhost", "any")
HARDENING = (None, "local_only", "self_only")
SETTING_CONTROLS = ("port", "interface", "enable")
SETTING_LOCATIONS = ("system_settings", "cmldb-cluster.conf", "crs.conf", "collection")
REQUIRED_FIELDS = (
    "id", "section", "direction", "protocol", "ports", "source", "destination", "components",
    "requirement", "condition", "bind", "hardening", "settings", "description", "references", "seed",
)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")


class CatalogError(ValueError):
    """The catalog (or a port value) does not match the schema; the message names the field."""


def parse_port(value, field):
    """Return (low, high) for an int or "a-b" string; raise CatalogError naming ``field``."""
    if isinstance(value, bool):
        raise CatalogError("%s: %r is not a port" % (field, value))
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and value.strip().isdigit():
        low = high = int(value)
    elif isinstance(value, str) and _RANGE.match(value.strip()):
        low, high = (int(x) for x in _RANGE.match(value.strip()).groups())
    else:
        raise CatalogError("%s: %r is not a port or an 'a-b' range" % (field, value))
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        raise CatalogError("%s: port %r is outside 1-65535" % (field, value))
    if low > high:
        raise CatalogError("%s: range %r runs backwards" % (field, value))
    return low, high


def _check_choice(entry_field, value, choices):
    if value not in choices:
        raise CatalogError("%s: %r is not one of %s" % (entry_field, value, ", ".join(str(c) for c in choices)))


def validate_entry(entry, index=0):
    """Validate one entry; raise CatalogError with ``entries[i](id).field`` in the message."""
    where = "entries[%d]" % index
    if not isinstance(entry, dict):
        raise CatalogError("%s: must be a mapping" % where)
    if isinstance(entry.get("id"), str):
        where = "entries[%d](%s)" % (index, entry["id"])
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise CatalogError("%s: missing field(s) %s" % (where, ", ".join(missing)))
    unknown = sorted(set(entry) - set(REQUIRED_FIELDS))
    if unknown:
        raise CatalogError("%s: unknown field(s) %s" % (where, ", ".join(unknown)))
    if not isinstance(entry["id"], str) or not _SLUG.match(entry["id"]):
        raise CatalogError("%s.id: %r is not a slug" % (where, entry["id"]))
    _check_choice(where + ".section", entry["section"], SECTIONS)
    _check_choice(where + ".direction", entry["direction"], DIRECTIONS)
    _check_choice(where + ".protocol", entry["protocol"], PROTOCOLS)
    _check_choice(where + ".source", entry["source"], ENDPOINTS)
    _check_choice(where + ".destination", entry["destination"], ENDPOINTS)
    _check_choice(where + ".requirement", entry["requirement"], REQUIREMENTS)
    _check_choice(where + ".bind", entry["bind"], BINDS)
    _check_choice(where + ".hardening", entry["hardening"], HARDENING)
    if not isinstance(entry["components"], list):
        raise CatalogError("%s.components: must be a list" % where)
    for comp in entry["components"]:
        _check_choice(where + ".components", comp, COMPONENTS)
    if entry["condition"] is not None and not (
        isinstance(entry["condition"], str) and re.match(r"^[a-z][a-z0-9_]*$", entry["condition"])
    ):
        raise CatalogError("%s.condition: %r is not a feature name or null" % (where, entry["condition"]))
    ports = entry["ports"]
    if not isinstance(ports, list) or not ports:
        raise CatalogError("%s.ports: must be a non-empty list" % where)
    for pos, port in enumerate(ports):
        field = "%s.ports[%d]" % (where, pos)
        if isinstance(port, dict):
            if set(port) != {"symbolic", "setting", "default_range"}:
                raise CatalogError("%s: symbolic port needs exactly symbolic, setting, default_range" % field)
            if port["default_range"] is not None:
                parse_port(port["default_range"], field + ".default_range")
            if len(ports) != 1:
                raise CatalogError("%s: a symbolic port must be the only item" % field)
        else:
            parse_port(port, field)
    if not isinstance(entry["settings"], list):
        raise CatalogError("%s.settings: must be a list" % where)
    for pos, setting in enumerate(entry["settings"]):
        field = "%s.settings[%d]" % (where, pos)
        if not isinstance(setting, dict) or set(setting) != {"property", "location", "controls", "component"}:
            raise CatalogError("%s: needs exactly property, location, controls, component" % field)
        _check_choice(field + ".location", setting["location"], SETTING_LOCATIONS)
        _check_choice(field + ".controls", setting["controls"], SETTING_CONTROLS)
        if setting["component"] is not None:
            _check_choice(field + ".component", setting["component"], COMPONENTS)
    for pos, port in enumerate(ports):
        if isinstance(port, dict) and port["setting"] not in [s["property"] for s in entry["settings"]]:
            raise CatalogError("%s.ports[%d].setting: %r is not listed in settings" % (where, pos, port["setting"]))
    if not isinstance(entry["description"], str) or not entry["description"].strip():
        raise CatalogError("%s.description: must be a non-empty string" % where)
    if not isinstance(entry["references"], list) or not entry["references"]:
        raise CatalogError("%s.references: must be a non-empty list of seed file names" % where)
    seed = entry["seed"]
    if not isinstance(seed, dict) or set(seed) != {"required", "type", "port", "communication"}:
        raise CatalogError("%s.seed: needs exactly required, type, port, communication" % where)


def validate_catalog(data):
    """Validate a whole catalog document; return its entries list."""
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise CatalogError("catalog: schema_version must be 1")
    seeds = data.get("seeds")
    if not isinstance(seeds, dict) or not seeds:
        raise CatalogError("catalog.seeds: must map seed file names to titles")
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise CatalogError("catalog.entries: must be a non-empty list")
    seen = set()
    for index, entry in enumerate(entries):
        validate_entry(entry, index)
        if entry["id"] in seen:
            raise CatalogError("entries[%d].id: duplicate id %r" % (index, entry["id"]))
        seen.add(entry["id"])
        for ref in entry["references"]:
            if ref not in seeds:
                raise CatalogError("entries[%d](%s).references: %r is not in catalog.seeds" % (index, entry["id"], ref))
    return entries


_CACHE = {}


def load_catalog(path=None):
    """Load and validate the catalog; returns the list of entries (cached per path and mtime)."""
    path = os.path.abspath(path or CATALOG_PATH)
    stamp = os.stat(path).st_mtime_ns
    cached = _CACHE.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    with open(path, encoding="utf-8") as handle:
        entries = validate_catalog(yaml.safe_load(handle))
    _CACHE[path] = (stamp, entries)
    return entries


def known_features(entries):
    """Every feature name the catalog knows (its conditions)."""
    return sorted({e["condition"] for e in entries if e["condition"]})


def known_settings(entries):
    """Map property name -> list of (entry id, setting) for every setting in the catalog."""
    result = {}
    for entry in entries:
        for setting in entry["settings"]:
            result.setdefault(setting["property"], []).append((entry["id"], setting))
    return result


def query(entries, expression):
    """Run a JMESPath expression over the entries."""
    import jmespath  # imported lazily: only the query path needs it

    try:
        return jmespath.search(expression, entries)
    except jmespath.exceptions.JMESPathError as exc:
        raise CatalogError("query: invalid JMESPath expression %r: %s" % (expression, exc))
