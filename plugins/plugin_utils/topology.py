# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Topology: the one validated model of a SafeQ inventory.

``build_topology(groups, hostvars, catalog)`` turns Ansible ``groups`` and the hosts' variables into a
``Topology`` (hosts, components, features, networks, overrides, CML clusters, near-roaming groups,
etcd clusters). Plan, harden, prerequisites and verify read only this object.

Every variable is validated once against catalog/inventory.yml. All errors are collected and raised
together as one TopologyError, each naming the variable, the host and the value:
``hostvars[cml1].safeq_features: unknown feature 'teleport' (known: ...)``. Risky but legal input
becomes a warning ``{"host", "variable", "message"}`` in ``Topology.warnings``.
"""

from __future__ import annotations

import bisect
import difflib
import ipaddress
import os
import re
from collections.abc import Mapping

from ansible_collections.safeq.hardening.plugins.plugin_utils import addresses as addr
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import (
    COMPONENTS,
    DATA_DIR,
    CatalogError,
    load_yaml_file,
    parse_port,
)

INVENTORY_SPEC_PATH = os.path.join(DATA_DIR, "inventory.yml")
COMPONENT_GROUPS = {"safeq_" + c: c for c in COMPONENTS}
NEAR_ROAMING_GROUP_LIMIT = 10
DEFAULT_CLUSTER = "default"
# Used with fullmatch(): "$" alone would let a trailing newline through into rendered files.
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
WINDOWS_CONNECTIONS = ("winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp")
SSH_CONNECTIONS = ("ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh",
                   "ansible.netcommon.libssh")
# Connections without a network port to keep open (containers, local).
LOCAL_CONNECTIONS = ("local", "ansible.builtin.local", "podman", "containers.podman.podman", "docker",
                     "community.docker.docker", "buildah", "containers.podman.buildah", "chroot",
                     "community.general.chroot", "lxd", "community.general.lxd", "incus", "community.general.incus")
OPEN_NETWORKS = ("safeq_workstation_networks", "safeq_printer_networks")
MAX_NAMED = 5
# Shortest prefix accepted in an ipv4_networks variable: anything wider spans several /8 blocks.
MIN_PREFIX = 8
SCALAR_TYPES = ("ipv4_address", "name", "port", "choice")
WEB_SCHEMES = ("http", "https")
# Where the remote side of an inbound catalog row comes from, for messages.
REMOTE_NAMES = {
    "workstation": "workstation networks", "printer": "printer networks", "terminal": "printer networks",
    "payment_machine": "payment machine networks", "localhost": "nobody but the host itself",
    "mps": "nobody but the host itself",
}


class TopologyError(ValueError):
    """Invalid inventory input; the message names the variable, the host and the value."""


_SPEC = {}


def load_inventory_spec(path=None):
    """The inventory contract (catalog/inventory.yml), validated and cached."""
    path = os.path.abspath(path or INVENTORY_SPEC_PATH)
    if path in _SPEC:
        return _SPEC[path]
    data = load_yaml_file(path, "inventory spec")
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise CatalogError("inventory spec %s: schema_version must be 1" % path)
    for key in ("groups", "variables"):
        if not isinstance(data.get(key), dict) or not data[key]:
            raise CatalogError("inventory spec %s: %s must be a non-empty mapping" % (path, key))
    types = ("ipv4_address", "ipv4_networks", "name", "port", "features", "port_overrides", "choice")
    for name, item in data["variables"].items():
        if not name.startswith("safeq_") or not isinstance(item, dict) or item.get("type") not in types:
            raise CatalogError("inventory spec %s: variables.%s needs a type (one of %s)" % (path, name, ", ".join(types)))
        if item["type"] == "choice" and not item.get("choices"):
            raise CatalogError("inventory spec %s: variables.%s: a choice needs choices" % (path, name))
    missing = [g for g in COMPONENT_GROUPS if g not in data["groups"]]
    if missing:
        raise CatalogError("inventory spec %s: groups lacks %s" % (path, ", ".join(missing)))
    for key in ("run_variables", "removed_variables"):
        section = data.get(key) or {}
        if not isinstance(section, dict) or not all(isinstance(k, str) and k.startswith("safeq_") and isinstance(v, str)
                                                    for k, v in section.items()):
            raise CatalogError("inventory spec %s: %s must map safeq_* names to a text" % (path, key))
        clash = sorted(set(section) & set(data["variables"]))
        if clash:
            raise CatalogError("inventory spec %s: %s also lists the variable(s) %s" % (path, key, ", ".join(clash)))
    ansible_variables = data.get("ansible_variables") or []
    if not isinstance(ansible_variables, list) or not all(isinstance(v, str) and v.startswith("ansible_")
                                                          for v in ansible_variables):
        raise CatalogError("inventory spec %s: ansible_variables must be a list of ansible_* names" % path)
    protected = data.get("protected_ports") or {}
    if not isinstance(protected, dict) or not all(
            isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 65535 and isinstance(v, str) and v.strip()
            for k, v in protected.items()):
        raise CatalogError("inventory spec %s: protected_ports must map ports 1-65535 to the service name" % path)
    _SPEC[path] = data
    return data


def protected_ports(spec=None):
    """{port: service} of the spec's protected ports."""
    spec = spec or load_inventory_spec()
    return {int(port): name for port, name in (spec.get("protected_ports") or {}).items()}


def join_errors(errors, what):
    """One message for a list of errors: the error itself, or a count and one error per line."""
    if len(errors) == 1:
        return errors[0]
    return "%d %s errors:\n%s" % (len(errors), what, "\n".join("- " + e for e in errors))


def _field(host, variable):
    return "hostvars[%s].%s" % (host, variable)


def _names(items, limit=MAX_NAMED):
    items = sorted(items)
    if len(items) <= limit:
        return ", ".join(items)
    return "%s and %d more" % (", ".join(items[:limit]), len(items) - limit)


def _suggest(word, known):
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.75)
    return " (did you mean %s?)" % close[0] if close else ""


class Host:
    """What plan, harden, prerequisites and verify know about one SafeQ host."""

    __slots__ = (
        "name", "address", "address_int", "platform", "components", "own_features", "features", "cml_cluster",
        "near_roaming_group", "etcd_cluster", "networks", "overrides", "management_port", "management_addresses",
        "connection", "connection_port",
    )

    def __init__(self, **kwargs):
        for key in self.__slots__:
            setattr(self, key, kwargs.get(key))

    def network(self, variable):
        return self.networks.get(variable, ())

    def as_dict(self):
        return {
            "host": self.name, "address": self.address, "platform": self.platform,
            "components": sorted(self.components), "features": sorted(self.features),
            "cml_cluster": self.cml_cluster, "near_roaming_group": self.near_roaming_group,
            "etcd_cluster": self.etcd_cluster, "management_port": self.management_port,
            "port_overrides": {k: v["text"] for k, v in sorted(self.overrides.items())},
        }


class Cluster:
    """One SafeQ installation: the hosts that share a safeq_cml_cluster name."""

    def __init__(self, name):
        self.name = name
        self.hosts = []
        self.by_component = {c: [] for c in COMPONENTS}
        self.features = frozenset()
        self.feature_hosts = {}

    def members(self, component):
        return self.by_component[component]


class Topology:
    """The validated SafeQ hosts of one inventory, with their clusters and groups."""

    def __init__(self, hosts, clusters, near_roaming_groups, etcd_clusters, warnings, catalog):
        self.hosts = hosts
        self.clusters = clusters
        self.near_roaming_groups = near_roaming_groups
        self.etcd_clusters = etcd_clusters
        self.warnings = warnings
        self.catalog = catalog

    def cluster_of(self, host):
        return self.clusters[host.cml_cluster]

    def members(self, component):
        return [h for h in self.hosts.values() if component in h.components]


# ---- value parsers (cached: group_vars give many hosts the same value) ----------------------------

class _Parser:
    def __init__(self, catalog, spec):
        self.catalog = catalog
        self.spec = spec
        self.errors = []
        self.cache = {}
        self.ignored = []  # (host, variable, message): settings that do not apply to the host

    def error(self, message):
        self.errors.append(message)

    def networks(self, host, variable, value):
        if value is None:
            return ()
        key = ("networks", _freeze(value))
        if key in self.cache:
            result, problem = self.cache[key]
        else:
            result, problem = _parse_networks(value), None
            if isinstance(result, str):
                result, problem = (), result
            self.cache[key] = (result, problem)
        if problem:
            self.error("%s: %s" % (_field(host, variable), problem))
        return result

    def features(self, host, value):
        key = ("features", _freeze(value))
        if key not in self.cache:
            self.cache[key] = _parse_features(value, self.catalog)
        result, problems = self.cache[key]
        for problem in problems:
            self.error("%s: %s" % (_field(host, "safeq_features"), problem))
        return result

    def overrides(self, host, value):
        key = ("overrides", _freeze(value))
        if key not in self.cache:
            self.cache[key] = _parse_overrides(value, self.catalog)
        result, problems = self.cache[key]
        for variable, problem in problems:
            self.error("%s: %s" % (_field(host, variable), problem))
        return result


def _freeze(value):
    if isinstance(value, dict):
        return ("d", tuple(sorted(((repr(k), _freeze(v)) for k, v in value.items()))))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(_freeze(v) for v in value))
    return (type(value).__name__, repr(value))


def _is_list(value):
    return isinstance(value, (list, tuple))


def _parse_networks(value):
    """Tuple of normalized CIDR/address strings, or an error string."""
    if not _is_list(value):
        return "must be a list of IPv4 addresses or CIDRs, got %r" % (value,)
    result = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            return "%r is not an IPv4 address or CIDR" % (item,)
        text = item.strip()
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return "%r is not an IPv4 address or CIDR" % (item,)
        if net.version != 4:
            return "%r is IPv6; SafeQ 5 does not support IPv6" % (item,)
        if str(net.network_address) != text.split("/")[0] and net.prefixlen != 32:
            return ("%r has host bits set; write %s for the network or %s/32 for the one address"
                    % (item, net, text.split("/")[0]))
        if net.prefixlen == 0:
            return "%r is every IPv4 address; list the real networks (for example 10.0.0.0/8)" % (item,)
        if net.prefixlen < MIN_PREFIX:
            return ("%r spans %d addresses (prefix /%d); networks wider than /%d are refused: list the real networks"
                    % (item, net.num_addresses, net.prefixlen, MIN_PREFIX))
        result.append(str(net.network_address) if net.prefixlen == 32 else str(net))
    collapsed = tuple(addr.collapse(result)) if result else ()
    if collapsed == ("0.0.0.0/0",):
        return "%r together cover every IPv4 address; list the real networks" % (list(value),)
    return collapsed


def _parse_features(value, catalog):
    problems = []
    if value is None:
        return frozenset(), problems
    if not _is_list(value):
        return frozenset(), ["must be a list of feature names, got %r" % (value,)]
    result = set()
    known = sorted(n for n, f in catalog.features.items() if not f.derived)
    for item in value:
        if not isinstance(item, str):
            problems.append("%r is not a feature name (a list of names is expected)" % (item,))
        elif item in catalog.removed_features:
            problems.append("feature %r was removed: %s" % (item, catalog.removed_features[item]))
        elif item in catalog.features and catalog.features[item].derived:
            problems.append("feature %r is derived from the inventory (%s); remove it"
                            % (item, catalog.features[item].description))
        elif item not in catalog.features:
            problems.append("unknown feature %r%s (known: %s)" % (item, _suggest(item, known), ", ".join(known)))
        else:
            result.add(item)
    return frozenset(result), problems


def _parse_overrides(value, catalog):
    problems = []
    if value is None:
        return {}, problems
    if not isinstance(value, dict):
        return {}, [("safeq_port_overrides", "must be a mapping of port property to port, got %r" % (value,))]
    result = {}
    known = sorted(catalog.properties)
    for prop, port in value.items():
        variable = "safeq_port_overrides.%s" % prop
        if not isinstance(prop, str) or prop not in catalog.properties:
            problems.append(("safeq_port_overrides", "unknown port property %r%s (known: %s)"
                             % (prop, _suggest(str(prop), known), ", ".join(known))))
            continue
        accepts = catalog.properties[prop][0]["accepts"]
        try:
            low, high = parse_port(port, "", allow_range=(accepts == "range"))
        except CatalogError as exc:
            problems.append((variable, str(exc)[2:]))
            continue
        result[prop] = {"range": (low, high), "text": str(low) if low == high else "%d-%d" % (low, high),
                        "components": catalog.property_components(prop)}
    return result, problems


def _parse_name(parser, host, variable, value):
    if value is None:
        return None
    if not isinstance(value, str) or not NAME.fullmatch(value):
        parser.error("%s: %r is not a name (1-64 letters, digits, '.', '_', '-', starting with a letter or digit)"
                     % (_field(host, variable), value))
        return None
    return value


def _parse_port_var(parser, host, variable, value):
    if value is None or value == "":
        return None
    try:
        return parse_port(value, _field(host, variable), allow_range=False)[0]
    except CatalogError as exc:
        parser.error(str(exc))
        return None


def _parse_address(text):
    """IPv4Address or an error string."""
    if not isinstance(text, str):
        return "%r is not an IPv4 address (write it as a dotted string)" % (text,)
    try:
        address = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return "%r is not an IPv4 address" % (text,)
    if address.version != 4:
        return "%r is IPv6; SafeQ 5 does not support IPv6" % (text,)
    if address.is_unspecified or address.is_loopback or address.is_multicast or int(address) == addr.MAX:
        return "%r cannot be a server address (unspecified, loopback, multicast or broadcast)" % (text,)
    return address


def _host_address(parser, name, hvars):
    candidates = (("safeq_address", hvars.get("safeq_address")), ("ansible_host", hvars.get("ansible_host")),
                  ("inventory_hostname", name))
    for variable, value in candidates:
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            value = str(value)
        result = _parse_address(value)
        if isinstance(result, str):
            if variable == "safeq_address" or (variable == "ansible_host" and _looks_like_ip(value)):
                parser.error("%s: %s" % (_field(name, variable), result))
                return None
            continue
        return str(result)
    parser.error("%s: host has no IPv4 address (set safeq_address, or ansible_host to an IP; got ansible_host=%r)"
                 % (_field(name, "safeq_address"), hvars.get("ansible_host")))
    return None


def _looks_like_ip(text):
    try:
        ipaddress.ip_address(text.strip())
        return True
    except ValueError:
        return bool(re.fullmatch(r"[0-9.]+", text.strip()))


def _scheme(parser, name, variable, value):
    """'http', 'https' or None (unset); an error for anything else."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value.lower() not in WEB_SCHEMES:
        parser.error("%s: %r is not one of %s" % (_field(name, variable), value, ", ".join(WEB_SCHEMES)))
        return None
    return value.lower()


def _connection(parser, name, hvars):
    """(connection name, platform, port Ansible connects to or None).

    The port follows the connection plugins of ansible-core: for each, the later variable of its
    list wins (ansible_winrm_port over ansible_port, ansible_psrp_port over ansible_port,
    ansible_ssh_port over ansible_port). winrm defaults to 5986 whatever the scheme; psrp to 5986,
    or 5985 when ansible_psrp_protocol is http; ssh to 22.
    """
    connection = hvars.get("ansible_connection") or "ssh"
    if not isinstance(connection, str):
        parser.error("%s: %r is not a connection name" % (_field(name, "ansible_connection"), connection))
        connection = "ssh"
    if connection in WINDOWS_CONNECTIONS:
        own = "ansible_psrp_port" if "psrp" in connection else "ansible_winrm_port"
        port = _parse_port_var(parser, name, own, hvars.get(own))
        if port is None:
            port = _parse_port_var(parser, name, "ansible_port", hvars.get("ansible_port"))
        if "psrp" in connection:
            scheme = _scheme(parser, name, "ansible_psrp_protocol", hvars.get("ansible_psrp_protocol"))
            default = 5985 if scheme == "http" else 5986
        else:
            _scheme(parser, name, "ansible_winrm_scheme", hvars.get("ansible_winrm_scheme"))
            default = 5986  # the winrm plugin's default port, also with ansible_winrm_scheme: http
        return connection, "windows", port if port is not None else default
    if connection in LOCAL_CONNECTIONS:
        return connection, "linux", None
    port = _parse_port_var(parser, name, "ansible_ssh_port", hvars.get("ansible_ssh_port"))
    if port is None:
        port = _parse_port_var(parser, name, "ansible_port", hvars.get("ansible_port"))
    return connection, "linux", port if port is not None else 22


# ---- the builder --------------------------------------------------------------------------------

def _check_groups(parser, groups, spec, warnings):
    known = list(spec["groups"])
    for group, members in groups.items():
        if not isinstance(group, str) or not group.startswith("safeq_"):
            continue
        if group not in spec["groups"]:
            parser.error("groups.%s: not a SafeQ group%s (SafeQ groups: %s)"
                         % (group, _suggest(group, known), ", ".join(known)))
        elif group in COMPONENT_GROUPS and not members:
            warnings.append({"host": None, "variable": "groups.%s" % group, "hosts": [],
                             "message": "groups.%s is empty: no %s host in the inventory" % (group, group[6:])})


def _check_variables(parser, name, hvars, spec):
    """Report unknown, removed and wrongly shaped safeq_* variables; return the names not to parse further.

    The value of an unknown variable is never printed: a misspelled name may hold a secret.
    """
    known = list(spec["variables"])
    run_variables = spec.get("run_variables") or {}
    removed = spec.get("removed_variables") or {}
    bad = set()
    for key in hvars:
        if not isinstance(key, str) or not key.startswith("safeq_") or key in spec["variables"] \
                or key in run_variables:
            continue
        bad.add(key)
        if key in removed:
            parser.error("%s: this variable was removed: %s" % (_field(name, key), " ".join(removed[key].split())))
        else:
            parser.error("%s: unknown variable%s (SafeQ variables: docs/inventory.md)"
                         % (_field(name, key), _suggest(key, known)))
    for variable, item in spec["variables"].items():
        value = hvars.get(variable)
        if value is None:
            continue
        if item["type"] in SCALAR_TYPES and isinstance(value, (list, tuple, dict, set, frozenset)):
            parser.error("%s: must be a single value, got %r" % (_field(name, variable), value))
            bad.add(variable)
        elif item["type"] == "choice" and value not in item["choices"]:
            parser.error("%s: %r is not one of %s" % (_field(name, variable), value, ", ".join(item["choices"])))
            bad.add(variable)
    return bad


def _build_host(parser, name, comps, hvars, spec, catalog):
    bad = _check_variables(parser, name, hvars, spec)
    hvars = {k: v for k, v in hvars.items() if k not in bad}
    connection, platform, connection_port = _connection(parser, name, hvars)
    chosen = hvars.get("safeq_platform")
    if chosen is not None:
        if platform == "windows" and chosen != "windows":
            parser.error("%s: %r contradicts ansible_connection=%s, which reaches Windows hosts only"
                         % (_field(name, "safeq_platform"), chosen, connection))
        else:
            platform = chosen
    networks = {}
    for variable, item in spec["variables"].items():
        if item["type"] == "ipv4_networks":
            networks[variable] = parser.networks(name, variable, hvars.get(variable))
    controller = hvars.get("safeq_controller_address")
    controller_net = ()
    if controller not in (None, ""):
        parsed = _parse_address(controller)
        if isinstance(parsed, str):
            parser.error("%s: %s" % (_field(name, "safeq_controller_address"), parsed))
        else:
            controller_net = (str(parsed),)
    management_port = _parse_port_var(parser, name, "safeq_management_port", hvars.get("safeq_management_port"))
    if management_port is not None and connection_port is not None and management_port != connection_port:
        parser.error("%s: %d differs from the port Ansible connects to (%d over %s); the controller would be"
                     " locked out: remove safeq_management_port or make them equal"
                     % (_field(name, "safeq_management_port"), management_port, connection_port, connection))
    if management_port is None:
        management_port = connection_port or (5986 if platform == "windows" else 22)
    roaming = _parse_name(parser, name, "safeq_near_roaming_group", hvars.get("safeq_near_roaming_group"))
    etcd_cluster = _parse_name(parser, name, "safeq_etcd_cluster", hvars.get("safeq_etcd_cluster"))
    own = set(parser.features(name, hvars.get("safeq_features")))
    if "ors" in comps:
        if roaming:
            own.add("near_roaming")
        elif "near_roaming" in own:
            parser.error("%s: near_roaming is in safeq_features but the ORS has no near-roaming group"
                         " (set safeq_near_roaming_group)" % _field(name, "safeq_near_roaming_group"))
    elif roaming:
        parser.ignored.append((name, "safeq_near_roaming_group",
                               "safeq_near_roaming_group=%s is set on a host that is not an ORS; ignored" % roaming))
    if etcd_cluster and "etcd" not in comps:
        parser.ignored.append((name, "safeq_etcd_cluster",
                               "safeq_etcd_cluster=%s is set on a host that is not in safeq_etcd; ignored" % etcd_cluster))
    return Host(
        name=name,
        address=_host_address(parser, name, hvars),
        platform=platform,
        components=frozenset(comps),
        own_features=frozenset(own),
        cml_cluster=_parse_name(parser, name, "safeq_cml_cluster", hvars.get("safeq_cml_cluster")) or DEFAULT_CLUSTER,
        near_roaming_group=roaming if "ors" in comps else None,
        etcd_cluster=etcd_cluster,
        networks=networks,
        overrides=parser.overrides(name, hvars.get("safeq_port_overrides")),
        management_port=management_port,
        management_addresses=tuple(addr.collapse(
            list(controller_net) + list(networks["safeq_management_networks"]))),
        connection=connection,
        connection_port=connection_port,
    )


def _closure(features, catalog):
    result = set(features)
    todo = list(features)
    while todo:
        for implied in catalog.features[todo.pop()].implies:
            if implied not in result:
                result.add(implied)
                todo.append(implied)
    return frozenset(result)


def _aggregate(warnings, key, host, variable, message):
    """Collect one warning per (variable, message), listing the hosts it applies to."""
    item = warnings.setdefault(key, {"hosts": [], "variable": variable, "message": message})
    item["hosts"].append(host)


def _finish_warnings(aggregated):
    result = []
    for item in aggregated.values():
        hosts = item["hosts"]
        result.append({"host": hosts[0] if len(hosts) == 1 else None, "variable": item["variable"],
                       "message": "%s (on %s)" % (item["message"], _names(hosts)), "hosts": hosts})
    return result


# ---- port overrides: what the moved port collides with ----------------------------------------

def _row_ports(entry, host):
    """(port ranges of the row on the host, port properties that move it); ranges None when unresolved."""
    ranges, props = [], set()
    for comp in sorted(set(entry["components"]) & host.components):
        chosen = [s["property"] for s in entry["settings"] if s["controls"] == "port" and s["component"] in (None, comp)]
        props.update(chosen)
        moved = [host.overrides[p]["range"] for p in chosen if p in host.overrides]
        if moved:
            ranges.extend(moved)
        elif isinstance(entry["ports"][0], dict):
            return None, props
        else:
            ranges.extend(parse_port(p, entry["id"]) for p in entry["ports"])
    return ranges, props


def _active(entry, host):
    return bool(set(entry["components"]) & host.components) and (
        entry["condition"] is None or any(f in host.features for f in entry["condition"]))


def _inside(ranges, port):
    return any(low <= port <= high for low, high in ranges)


def _ports_text(ranges):
    return ",".join(str(low) if low == high else "%d-%d" % (low, high) for low, high in sorted(set(ranges)))


def _covered(host, hits, mgmt, protected):
    parts = []
    if mgmt:
        parts.append("the management port %d (Ansible connects over %s)" % (host.management_port, host.connection))
    others = [p for p in hits if not (mgmt and p == host.management_port)]
    if others:
        listed = ", ".join("%d (%s)" % (p, protected[p]) for p in others)
        parts.append("protected port%s %s" % ("s" if len(others) > 1 else "", listed))
    return " and ".join(parts)


def _override_rows(catalog, prop, host):
    """The inbound catalog rows whose port the property moves on this host (it listens on them)."""
    rows = []
    for use in catalog.properties.get(prop, []):
        entry = catalog.by_id[use["entry"]]
        if entry["direction"] == "inbound" and set(use["components"]) & host.components and entry not in rows:
            rows.append(entry)
    return rows


def _collisions(host, prop, low, high, rows, active, catalog, pairs):
    """'row (protocol ports)' of the host's other active inbound rows on the moved port(s), same action."""
    result = set()
    for other in catalog.entries:
        if other in rows or other["direction"] != "inbound" or not _active(other, host):
            continue
        if not any(a["protocol"] == other["protocol"] and bool(a["hardening"]) == bool(other["hardening"])
                   for a in active):
            continue  # an allowed port moved onto a denied one (or back): the policy reports the clash
        ranges, props = _row_ports(other, host)
        if ranges is None or prop in props:
            continue
        common = [(max(low, a), min(high, b)) for a, b in ranges if max(low, a) <= min(high, b)]
        if not common:
            continue
        moved_by = sorted(p for p in props if p in host.overrides)
        if any(catalog.properties[p][0]["accepts"] == "range" for p in moved_by):
            continue  # a moved range (passive FTP) takes free ports; its own check covers the overlap
        if moved_by:
            pair = (host.name, frozenset([prop] + moved_by))
            if pair in pairs:
                continue  # the other override reported this pair already
            pairs.add(pair)
        result.add("%s (%s %s%s)" % (other["id"], other["protocol"], _ports_text(common),
                                     ", moved by safeq_port_overrides.%s" % moved_by[0] if moved_by else ""))
    return sorted(result)


def _check_override(host, prop, override, catalog, protected, found, pairs):
    """Check one override of a host against what else uses the port there; return why it is unused, or None.

    Errors go to ``found`` ({(variable, text): [hosts]}); ``pairs`` keeps (host, overrides) already
    reported as colliding with each other, so two overrides onto one port make one error. Left to
    the policy, which sees the rules: an enabled allowed row moved onto the management port or a
    protected port, and a row moved onto the port of a row with the other action (allowed onto
    denied or back).
    """
    rows = _override_rows(catalog, prop, host)
    if not rows:
        return None  # the port of a remote service (the database's): nothing listens on the host
    variable = "safeq_port_overrides.%s" % prop
    low, high = override["range"]
    vendor = [parse_port(p, entry["id"]) for entry in rows for p in entry["ports"] if not isinstance(p, dict)]
    hits = [p for p in sorted(protected) if low <= p <= high and not _inside(vendor, p)]
    mgmt = any(e["protocol"] == "tcp" for e in rows) and host.management_port is not None \
        and low <= host.management_port <= high
    active = [e for e in rows if _active(e, host)]
    if not active:
        needs = sorted({f for e in rows for f in e["condition"] or []})
        reason = "%s needs %s, which is not enabled on the host" % (", ".join(e["id"] for e in rows), " or ".join(needs))
        if not hits and not mgmt:
            return reason
        found.setdefault((variable, "%s covers %s; %s, but the override takes effect as soon as it is: choose"
                                    " other ports" % (override["text"], _covered(host, hits, mgmt, protected), reason)),
                         []).append(host.name)
        return None
    denied = [e["id"] for e in active if e["hardening"]]
    blocked = [p for p in hits if p != host.management_port]  # a denied management port: the policy says so
    if denied and blocked:
        found.setdefault((variable, "%s moves %s onto %s; that port is denied from remote hosts, so the override"
                                    " would cut the OS service that owns it off the network: choose another port"
                          % (override["text"], ", ".join(denied), _covered(host, blocked, False, protected))),
                         []).append(host.name)
    allowed = [e for e in active if not e["hardening"]]
    if allowed and (hits or mgmt):
        return None  # the policy refuses the rule that would open them, naming the override
    used = _collisions(host, prop, low, high, rows, active, catalog, pairs)
    if not used:
        return None
    if low == high:
        text = ("%s is already used on the host by %s; two services cannot listen on one port: choose a free port"
                % (override["text"], ", ".join(used)))
    else:
        remote = sorted({REMOTE_NAMES.get(e["source"], "%s hosts" % e["source"]) for e in allowed})
        text = ("%s overlaps ports the host listens on for %s; %s: choose a range outside them"
                % (override["text"], ", ".join(used),
                   "the range would open them to %s too" % " and ".join(remote) if remote else "two services cannot"
                   " listen on one port"))
    found.setdefault((variable, text), []).append(host.name)
    return None


def _cross_checks(parser, hosts, clusters, catalog, warnings, protected):
    aggregated = {}
    by_address = {}
    found, pairs = {}, set()
    for host_name, variable, message in parser.ignored:
        _aggregate(aggregated, ("ignored", variable, message), host_name, variable, message)
    for host in hosts.values():
        if host.address:
            if host.address in by_address:
                parser.error("%s: address %s is also used by %s"
                             % (_field(host.name, "safeq_address"), host.address, by_address[host.address]))
            by_address.setdefault(host.address, host.name)
        for prop, override in sorted(host.overrides.items()):
            if not set(override["components"]) & host.components:
                _aggregate(aggregated, ("override", prop, override["text"]), host.name,
                           "safeq_port_overrides.%s" % prop,
                           "safeq_port_overrides.%s=%s belongs to %s, which the host does not run; ignored"
                           % (prop, override["text"], "/".join(override["components"])))
                continue
            unused = _check_override(host, prop, override, catalog, protected, found, pairs)
            if unused:
                _aggregate(aggregated, ("unused", prop, override["text"], unused), host.name,
                           "safeq_port_overrides.%s" % prop,
                           "safeq_port_overrides.%s=%s is not used: %s; ignored until then"
                           % (prop, override["text"], unused))
        if not host.management_addresses:
            _aggregate(aggregated, ("management-any",), host.name, "safeq_management_networks",
                       "the management port is open to any address: set safeq_controller_address or"
                       " safeq_management_networks")
    server_ints = sorted((h.address_int, h.name) for h in hosts.values() if h.address_int is not None)
    server_keys = [i for i, _name in server_ints]
    checked = {}
    for host in hosts.values():
        for variable in OPEN_NETWORKS:
            nets = host.network(variable)
            if not nets:
                continue
            if nets not in checked:
                intervals = addr.intervals_of(list(nets))
                checked[nets] = [server_ints[k][1] for low, high in intervals
                                 for k in range(bisect.bisect_left(server_keys, low),
                                                bisect.bisect_right(server_keys, high))]
            inside = checked[nets]
            if inside:
                _aggregate(aggregated, ("inside", variable, nets), host.name, variable,
                           "%s %s contains SafeQ server address(es) of %s: those servers get the %s rules too"
                           % (variable, ", ".join(nets[:3]) + (" ..." if len(nets) > 3 else ""), _names(inside),
                              variable[6:-9]))
    for cluster in clusters.values():
        cml = cluster.members("cml")
        if not cml and any(cluster.members(c) for c in ("ors", "crs", "ap_connector")):
            _aggregate(aggregated, ("no-cml", cluster.name), cluster.hosts[0].name, "safeq_cml_cluster",
                       "CML cluster %r has no CML host in the inventory: flows to and from CML are not opened"
                       % cluster.name)
        for feature_name, feature in sorted(catalog.features.items()):
            # host-scoped features count too: a terminal type used on any host of the installation
            # (an ORS included) limits the CML cluster it belongs to
            users = cluster.feature_hosts.get(feature_name)
            if feature.cluster_limit is None or not users:
                continue
            if len(cml) > feature.cluster_limit:
                parser.error("groups.safeq_cml: %d CML nodes of cluster %r (%s) exceed the %s limit of %d servers"
                             " per cluster (%s is set in safeq_features of %s)"
                             % (len(cml), cluster.name, _names(h.name for h in cml), feature_name,
                                feature.cluster_limit, feature_name,
                                _names("hostvars[%s]" % h for h in users)))
    for (variable, text), names in found.items():
        parser.error("%s: %s%s" % (_field(names[0], variable), text,
                                   " (the same on %s)" % _names(names[1:]) if len(names) > 1 else ""))
    warnings.extend(_finish_warnings(aggregated))


def build_topology(groups, hostvars, catalog, spec=None):
    """Build the Topology from Ansible ``groups``, the hosts' variables and the loaded ``catalog``.

    ``hostvars`` maps host name -> variables (only safeq_* and the ansible_* keys listed in
    catalog/inventory.yml are read). Raises TopologyError listing every problem.
    """
    spec = spec or load_inventory_spec()
    parser = _Parser(catalog, spec)
    warnings = []
    if not isinstance(groups, Mapping):
        raise TopologyError("groups: must be a mapping of group name to host list")
    if not isinstance(hostvars, Mapping):
        raise TopologyError("hostvars: must be a mapping of host name to its variables")
    _check_groups(parser, groups, spec, warnings)
    components = {}
    for group, component in COMPONENT_GROUPS.items():
        members = groups.get(group) or []
        if not _is_list(members):
            parser.error("groups.%s: must be a list of host names, got %r" % (group, members))
            continue
        for host in members:
            if not isinstance(host, str):
                parser.error("groups.%s: %r is not a host name (group members are names)" % (group, host))
                continue
            if not HOST_NAME.fullmatch(host):
                parser.error("groups.%s: host name %r has characters outside A-Z a-z 0-9 . _ - (host names reach"
                             " rendered firewall files and rule names)" % (group, host))
                continue
            components.setdefault(host, set()).add(component)
    if not components and not parser.errors:
        raise TopologyError("inventory: no host is in a SafeQ group (%s); nothing to plan"
                            % ", ".join(COMPONENT_GROUPS))
    hosts = {}
    for name in sorted(components):
        hvars = hostvars.get(name)
        if hvars is None:
            parser.error("hostvars[%s]: host is in a SafeQ group but has no variables" % name)
            continue
        if not isinstance(hvars, Mapping):
            parser.error("hostvars[%s]: must be a mapping of variables, got a %s" % (name, type(hvars).__name__))
            continue
        host = _build_host(parser, name, components[name], hvars, spec, catalog)
        host.address_int = int(ipaddress.IPv4Address(host.address)) if host.address else None
        hosts[name] = host
    clusters = {}
    for host in hosts.values():
        cluster = clusters.setdefault(host.cml_cluster, Cluster(host.cml_cluster))
        cluster.hosts.append(host)
        for comp in sorted(host.components):
            cluster.by_component[comp].append(host)
    for cluster in clusters.values():
        installation, feature_hosts = set(), {}
        for host in cluster.hosts:
            for name in _closure(host.own_features, catalog):
                feature_hosts.setdefault(name, []).append(host.name)
                if catalog.features[name].scope == "installation":
                    installation.add(name)
        if len(cluster.members("cml")) > 1:
            installation.add("cluster")
        cluster.features = frozenset(installation)
        cluster.feature_hosts = feature_hosts
    for host in hosts.values():
        host.features = _closure(host.own_features | clusters[host.cml_cluster].features, catalog)
    near_roaming, etcd = {}, {}
    for host in hosts.values():
        if host.near_roaming_group:
            near_roaming.setdefault((host.cml_cluster, host.near_roaming_group), []).append(host)
        if "etcd" in host.components:
            if host.etcd_cluster is None:
                if "cml" in host.components:
                    host.etcd_cluster = "%s-cml" % host.cml_cluster
                elif host.near_roaming_group:
                    host.etcd_cluster = "%s-%s" % (host.cml_cluster, host.near_roaming_group)
                else:
                    host.etcd_cluster = "%s-%s" % (host.cml_cluster, host.name)
            etcd.setdefault(host.etcd_cluster, []).append(host)
        else:
            host.etcd_cluster = None
    for (cluster_name, group), members in sorted(near_roaming.items()):
        if len(members) > NEAR_ROAMING_GROUP_LIMIT:
            names = sorted(h.name for h in members)
            parser.error("%s: %r has %d ORS of cluster %r (%s); the limit is %d per near-roaming group"
                         % (_field(names[0], "safeq_near_roaming_group"), group, len(members), cluster_name,
                            _names(names), NEAR_ROAMING_GROUP_LIMIT))
    _cross_checks(parser, hosts, clusters, catalog, warnings, protected_ports(spec))
    if parser.errors:
        raise TopologyError(join_errors(parser.errors, "inventory"))
    return Topology(hosts, clusters, near_roaming, etcd, warnings, catalog)
