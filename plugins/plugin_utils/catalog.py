# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port catalog and feature catalog: load the YAML files and validate them against the schema.

``load_catalog()`` returns a ``Catalog`` (entries, features, port properties). Pure Python
(PyYAML only), usable without Ansible running. Every error names the file, the entry and the field.
"""

from __future__ import annotations

import os
import re

import yaml

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "catalog")
CATALOG_PATH = os.path.join(DATA_DIR, "port_catalog.yml")
FEATURES_PATH = os.path.join(DATA_DIR, "features.yml")

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
CASTS = ("unicast", "multicast", "broadcast")
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
SETTING_ACCEPTS = ("port", "range")
SETTING_LOCATIONS = ("system_settings", "cmldb-cluster.conf", "crs.conf", "collection")
RETURN_MATCH = ("source_port", "destination_port")
FEATURE_SCOPES = ("host", "installation")
REQUIRED_FIELDS = (
    "id", "section", "direction", "protocol", "cast", "group_address", "return_traffic", "ports", "source",
    "destination", "components", "requirement", "condition", "bind", "hardening", "settings", "description",
    "references", "seed",
)
# Safety floor read from the vendor's own words: rows the page calls JMX or a shutdown port stay
# local-only, RMI registry rows self-only. A catalog edit that drops their hardening fails to load.
HARDENING_INVARIANTS = (
    (lambda e: e["seed"]["communication"].strip().upper() == "JMX", "local_only", "a JMX row"),
    (lambda e: "shutdown port" in e["description"].lower(), "local_only", "a shutdown-port row"),
    (lambda e: "rmi registry" in e["description"].lower(), "self_only", "an RMI registry row"),
)
# \Z, not $: "$" also matches before a trailing newline ("19898\n" is not a port).
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*\Z")
_FEATURE = re.compile(r"^[a-z][a-z0-9_]*\Z")
_PROPERTY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*\Z")
_PORT = re.compile(r"^[0-9]+\Z")
_RANGE = re.compile(r"^([0-9]+)-([0-9]+)\Z")


class CatalogError(ValueError):
    """The catalog (or a port value) does not match the schema; the message names the field."""


# ---- strict YAML ------------------------------------------------------------------------------

class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that refuses duplicate mapping keys (PyYAML keeps the last one silently)."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a %s cannot be a mapping key" % key_node.id, key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark,
                "duplicate key %r (first at line %d)" % (key, seen[key] + 1), key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _yaml_problem(exc):
    """'<context>: <problem> at line L, column C' of a PyYAML error (its own text quotes the source)."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or not problem:
        return " ".join(str(exc).replace('in "<unicode string>", ', "").split())
    context = getattr(exc, "context", None)
    return "%s%s at line %d, column %d" % (context + ": " if context else "", problem, mark.line + 1, mark.column + 1)


def load_yaml_file(path, what):
    """Parse a YAML data file strictly; CatalogError names ``what`` and the file on any problem."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise CatalogError("%s %s: cannot be read: %s" % (what, path, exc.strerror or exc))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError("%s %s: not UTF-8 (byte %d: %s)" % (what, path, exc.start, exc.reason))
    if not text.strip():
        raise CatalogError("%s %s: the file is empty" % (what, path))
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # nosec B506 - _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise CatalogError("%s %s: invalid YAML: %s" % (what, path, _yaml_problem(exc)))
    if data is None:
        raise CatalogError("%s %s: the file is empty (no YAML content)" % (what, path))
    return data


# ---- ports ------------------------------------------------------------------------------------

def parse_port(value, field, allow_range=True):
    """Return (low, high) for an int, "n" or "a-b" string (ASCII digits); raise CatalogError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CatalogError("%s: %r is not a port%s" % (field, value, " or an 'a-b' range" if allow_range else ""))
    if isinstance(value, int):
        low = high = value
    else:
        text = value.strip()
        match = _RANGE.match(text)
        if _PORT.match(text):
            low = high = int(text)
        elif match and allow_range:
            low, high = int(match.group(1)), int(match.group(2))
        elif match:
            raise CatalogError("%s: %r is a range; this property takes one port" % (field, value))
        else:
            raise CatalogError("%s: %r is not a port%s" % (field, value, " or an 'a-b' range" if allow_range else ""))
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        raise CatalogError("%s: port %r is outside 1-65535" % (field, value))
    if low > high:
        raise CatalogError("%s: range %r runs backwards" % (field, value))
    return low, high


# ---- features ---------------------------------------------------------------------------------

class Feature:
    """One feature of catalog/features.yml."""

    __slots__ = ("name", "description", "scope", "implies", "cluster_limit", "derived")

    def __init__(self, name, description, scope, implies, cluster_limit, derived):
        self.name = name
        self.description = description
        self.scope = scope
        self.implies = tuple(implies)
        self.cluster_limit = cluster_limit
        self.derived = derived


def validate_features(data, where="features"):
    """Validate the features document; return ({name: Feature}, {removed name: reason})."""
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise CatalogError("%s: schema_version must be 1" % where)
    raw = data.get("features")
    if not isinstance(raw, dict) or not raw:
        raise CatalogError("%s.features: must be a non-empty mapping" % where)
    features = {}
    for name, item in raw.items():
        field = "%s.features.%s" % (where, name)
        if not isinstance(name, str) or not _FEATURE.match(name):
            raise CatalogError("%s: %r is not a feature name" % (field, name))
        if not isinstance(item, dict):
            raise CatalogError("%s: must be a mapping" % field)
        unknown = sorted(set(item) - {"description", "scope", "implies", "cluster_limit", "derived"})
        if unknown:
            raise CatalogError("%s: unknown field(s) %s" % (field, ", ".join(unknown)))
        if not isinstance(item.get("description"), str) or not item["description"].strip():
            raise CatalogError("%s.description: must be a non-empty string" % field)
        if item.get("scope") not in FEATURE_SCOPES:
            raise CatalogError("%s.scope: %r is not one of %s" % (field, item.get("scope"), ", ".join(FEATURE_SCOPES)))
        implies = item.get("implies") or []
        if not isinstance(implies, list):
            raise CatalogError("%s.implies: must be a list" % field)
        limit = item.get("cluster_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise CatalogError("%s.cluster_limit: %r is not a positive integer" % (field, limit))
        derived = item.get("derived", False)
        if not isinstance(derived, bool):
            raise CatalogError("%s.derived: must be true or false" % field)
        features[name] = Feature(name, item["description"].strip(), item["scope"], implies, limit, derived)
    for feature in features.values():
        for implied in feature.implies:
            if implied not in features:
                raise CatalogError("%s.features.%s.implies: %r is not a feature" % (where, feature.name, implied))
    removed = data.get("removed") or {}
    if not isinstance(removed, dict) or not all(isinstance(v, str) for v in removed.values()):
        raise CatalogError("%s.removed: must map a removed feature to the reason" % where)
    for name in removed:
        if name in features:
            raise CatalogError("%s.removed.%s: is also a current feature" % (where, name))
    return features, {k: " ".join(v.split()) for k, v in removed.items()}


# ---- port catalog entries ---------------------------------------------------------------------

def _check_choice(entry_field, value, choices):
    if value not in choices:
        raise CatalogError("%s: %r is not one of %s" % (entry_field, value, ", ".join(str(c) for c in choices)))


def _check_settings(entry, where):
    if not isinstance(entry["settings"], list):
        raise CatalogError("%s.settings: must be a list" % where)
    for pos, setting in enumerate(entry["settings"]):
        field = "%s.settings[%d]" % (where, pos)
        if not isinstance(setting, dict) or set(setting) != {"property", "location", "controls", "accepts", "component"}:
            raise CatalogError("%s: needs exactly property, location, controls, accepts, component" % field)
        if not isinstance(setting["property"], str) or not _PROPERTY.match(setting["property"]):
            raise CatalogError("%s.property: %r is not a property name" % (field, setting["property"]))
        _check_choice(field + ".location", setting["location"], SETTING_LOCATIONS)
        _check_choice(field + ".controls", setting["controls"], SETTING_CONTROLS)
        if setting["controls"] == "port":
            _check_choice(field + ".accepts", setting["accepts"], SETTING_ACCEPTS)
        elif setting["accepts"] is not None:
            raise CatalogError("%s.accepts: must be null for a setting that controls %s" % (field, setting["controls"]))
        if setting["component"] is not None:
            _check_choice(field + ".component", setting["component"], COMPONENTS)
            if setting["component"] not in entry["components"]:
                raise CatalogError("%s.component: %r is not one of the entry's components" % (field, setting["component"]))


def _check_ports(entry, where):
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
            if port["setting"] not in [s["property"] for s in entry["settings"] if s["controls"] == "port"]:
                raise CatalogError("%s.setting: %r is not a port setting of the entry" % (field, port["setting"]))
        else:
            parse_port(port, field)


def _check_cast(entry, where):
    _check_choice(where + ".cast", entry["cast"], CASTS)
    group = entry["group_address"]
    if entry["cast"] == "unicast":
        if group is not None:
            raise CatalogError("%s.group_address: must be null for unicast" % where)
    else:
        import ipaddress

        try:
            net = ipaddress.ip_network(str(group))
        except ValueError:
            raise CatalogError("%s.group_address: %r is not an IPv4 address or network" % (where, group))
        if entry["cast"] == "multicast" and not net.is_multicast:
            raise CatalogError("%s.group_address: %r is not a multicast address" % (where, group))
        if entry["cast"] == "broadcast" and str(net) != "255.255.255.255/32":
            raise CatalogError("%s.group_address: broadcast uses 255.255.255.255, got %r" % (where, group))
    ret = entry["return_traffic"]
    if ret is not None:
        if not isinstance(ret, dict) or set(ret) != {"source", "match"}:
            raise CatalogError("%s.return_traffic: needs exactly source and match" % where)
        _check_choice(where + ".return_traffic.source", ret["source"], ENDPOINTS)
        _check_choice(where + ".return_traffic.match", ret["match"], RETURN_MATCH)
        if entry["cast"] == "unicast" or entry["direction"] != "outbound":
            raise CatalogError("%s.return_traffic: only outbound multicast/broadcast rows have return traffic" % where)


def validate_entry(entry, index=0, features=None):
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
    condition = entry["condition"]
    if condition is not None:
        if not isinstance(condition, list) or not condition:
            raise CatalogError("%s.condition: must be null or a non-empty list of features (any of them)" % where)
        for name in condition:
            if not isinstance(name, str) or not _FEATURE.match(name):
                raise CatalogError("%s.condition: %r is not a feature name" % (where, name))
            if features is not None and name not in features:
                raise CatalogError("%s.condition: %r is not defined in catalog/features.yml" % (where, name))
    _check_settings(entry, where)
    _check_ports(entry, where)
    _check_cast(entry, where)
    if not isinstance(entry["description"], str) or not entry["description"].strip():
        raise CatalogError("%s.description: must be a non-empty string" % where)
    if not isinstance(entry["references"], list) or not entry["references"]:
        raise CatalogError("%s.references: must be a non-empty list of seed file names" % where)
    seed = entry["seed"]
    if not isinstance(seed, dict) or set(seed) != {"required", "type", "port", "communication"}:
        raise CatalogError("%s.seed: needs exactly required, type, port, communication" % where)
    if not all(isinstance(v, str) for v in seed.values()):
        raise CatalogError("%s.seed: the raw cells must be strings" % where)
    for applies, hardening, what in HARDENING_INVARIANTS:
        if applies(entry) and entry["hardening"] != hardening:
            raise CatalogError("%s.hardening: %s, but %s must be %s (the vendor binds it locally or says to block it)"
                               % (where, "null" if entry["hardening"] is None else repr(entry["hardening"]), what,
                                  hardening))


def validate_catalog(data, features=None):
    """Validate a whole port catalog document; return its entries list."""
    if not isinstance(data, dict) or data.get("schema_version") != 2:
        raise CatalogError("catalog: schema_version must be 2")
    seeds = data.get("seeds")
    if not isinstance(seeds, dict) or not seeds:
        raise CatalogError("catalog.seeds: must map seed file names to titles")
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise CatalogError("catalog.entries: must be a non-empty list")
    seen = {}
    for index, entry in enumerate(entries):
        validate_entry(entry, index, features)
        if entry["id"] in seen:
            raise CatalogError("entries[%d](%s).id: duplicate id %r (also entries[%d])"
                               % (index, entry["id"], entry["id"], seen[entry["id"]]))
        seen[entry["id"]] = index
        for ref in entry["references"]:
            if ref not in seeds:
                raise CatalogError("entries[%d](%s).references: %r is not in catalog.seeds" % (index, entry["id"], ref))
    properties = port_properties(entries)
    for name, uses in properties.items():
        if len({use["accepts"] for use in uses}) > 1:
            raise CatalogError("catalog: port property %r takes a port in one entry and a range in another" % name)
    return entries


def port_properties(entries):
    """Property -> [{entry, setting, accepts, components}] for every setting that controls a port."""
    result = {}
    for entry in entries:
        for setting in entry["settings"]:
            if setting["controls"] != "port":
                continue
            comps = [setting["component"]] if setting["component"] else list(entry["components"])
            result.setdefault(setting["property"], []).append({
                "entry": entry["id"], "setting": setting, "accepts": setting["accepts"], "components": comps,
            })
    return result


class Catalog:
    """The validated port catalog and feature catalog."""

    def __init__(self, entries, features, removed_features, path=None, features_path=None):
        self.entries = entries
        self.features = features
        self.removed_features = removed_features
        self.path = path
        self.features_path = features_path
        self.by_id = {e["id"]: e for e in entries}
        self.properties = port_properties(entries)
        used = {name for e in entries for name in (e["condition"] or [])}
        for name, feature in features.items():
            opens = name in used or any(name in f.implies for f in features.values() if f.name in used)
            if not opens and feature.cluster_limit is None and not feature.derived:
                raise CatalogError("features.%s: no catalog entry uses it and it has no cluster limit" % name)

    def property_components(self, prop):
        """Components whose hosts the property applies to."""
        return sorted({c for use in self.properties.get(prop, []) for c in use["components"]})


_CACHE = {}


def load_catalog(path=None, features_path=None):
    """Load and validate both catalogs; returns a Catalog (cached per paths and mtimes)."""
    path = os.path.abspath(path or CATALOG_PATH)
    features_path = os.path.abspath(features_path or FEATURES_PATH)
    try:
        stamp = (os.stat(path).st_mtime_ns, os.stat(features_path).st_mtime_ns)
    except OSError as exc:
        raise CatalogError("catalog %s: cannot be read: %s" % (exc.filename, exc.strerror))
    key = (path, features_path)
    cached = _CACHE.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        features, removed = validate_features(load_yaml_file(features_path, "feature catalog"), "features")
    except CatalogError as exc:
        if str(exc).startswith("feature catalog "):
            raise
        raise CatalogError("feature catalog %s: %s" % (features_path, exc))
    try:
        entries = validate_catalog(load_yaml_file(path, "port catalog"), features)
    except CatalogError as exc:
        if str(exc).startswith("port catalog "):
            raise
        raise CatalogError("port catalog %s: %s" % (path, exc))
    result = Catalog(entries, features, removed, path, features_path)
    _CACHE[key] = (stamp, result)
    return result


def query(entries, expression):
    """Run a JMESPath expression over the entries."""
    import jmespath  # imported lazily: only the query path needs it

    try:
        return jmespath.search(expression, entries)
    except jmespath.exceptions.JMESPathError as exc:
        raise CatalogError("query: invalid JMESPath expression %r: %s" % (expression, exc))
