# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Topology: turn inventory groups and host variables into validated host models.

Every input error raises TopologyError whose message names the variable, the host and the value,
so a bad inventory fails on the controller before any host is changed.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import (
    COMPONENTS,
    CatalogError,
    known_features,
    known_settings,
    parse_port,
)

COMPONENT_GROUPS = {"safeq_" + c: c for c in COMPONENTS}
NETWORK_VARIABLES = (
    "safeq_workstation_networks",
    "safeq_printer_networks",
    "safeq_ldap_servers",
    "safeq_database_servers",
    "safeq_payment_servers",
    "safeq_smtp_servers",
    "safeq_payment_machine_networks",
    "safeq_management_networks",
)
TERMINAL_CLUSTER_LIMITS = {"terminal_professional": 10, "terminal_ultralight": 5}
NEAR_ROAMING_GROUP_LIMIT = 10
WINDOWS_CONNECTIONS = ("winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp")


class TopologyError(ValueError):
    """Invalid inventory input; the message names the field and the value."""


class HostModel:
    """What the policy needs to know about one SafeQ host."""

    __slots__ = (
        "name", "address", "components", "features", "overrides", "networks", "platform",
        "management_port", "controller_address", "near_roaming_group", "etcd_cluster",
    )

    def __init__(self, **kwargs):
        for key in self.__slots__:
            setattr(self, key, kwargs[key])

    def network(self, variable):
        return self.networks.get(variable, [])


def _field(host, variable):
    return "hostvars[%s].%s" % (host, variable)


def _as_list(host, variable, value):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TopologyError("%s: must be a list, got %r" % (_field(host, variable), value))
    return list(value)


def _network(host, variable, value):
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise TopologyError("%s: %r is not an IPv4 address or CIDR" % (_field(host, variable), value))
    if net.version != 4:
        raise TopologyError("%s: %r is IPv6; SafeQ 5 does not support IPv6" % (_field(host, variable), value))
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def _address(host, hvars):
    for variable in ("safeq_address", "ansible_host"):
        value = hvars.get(variable)
        if value in (None, ""):
            continue
        try:
            addr = ipaddress.ip_address(str(value))
        except ValueError:
            if variable == "safeq_address":
                raise TopologyError("%s: %r is not an IPv4 address" % (_field(host, variable), value))
            continue
        if addr.version != 4:
            raise TopologyError("%s: %r is IPv6; SafeQ 5 does not support IPv6" % (_field(host, variable), value))
        return str(addr)
    raise TopologyError(
        "%s: host has no IPv4 address (set safeq_address, or ansible_host to an IP; got ansible_host=%r)"
        % (_field(host, "safeq_address"), hvars.get("ansible_host"))
    )


def _port(host, variable, value):
    try:
        low, high = parse_port(value, _field(host, variable))
    except CatalogError as exc:
        raise TopologyError(str(exc))
    return low if low == high else "%d-%d" % (low, high)


def _overrides(host, value, settings_index):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TopologyError("%s: must be a mapping of vendor property to port" % _field(host, "safeq_port_overrides"))
    result = {}
    for prop, port in value.items():
        field = "safeq_port_overrides.%s" % prop
        if prop not in settings_index:
            raise TopologyError(
                "%s: unknown property %r (known port properties: %s)"
                % (_field(host, "safeq_port_overrides"), prop, ", ".join(sorted(
                    p for p, uses in settings_index.items() if any(use["controls"] == "port" for entry_id, use in uses))))
            )
        if not any(use["controls"] == "port" for entry_id, use in settings_index[prop]):
            raise TopologyError("%s: property %r does not set a port" % (_field(host, "safeq_port_overrides"), prop))
        result[prop] = _port(host, field, port)
    return result


def _management_port(host, hvars):
    if hvars.get("safeq_management_port") is not None:
        return _port(host, "safeq_management_port", hvars["safeq_management_port"])
    if hvars.get("ansible_port") is not None:
        return _port(host, "ansible_port", hvars["ansible_port"])
    if hvars.get("ansible_connection") in WINDOWS_CONNECTIONS:
        return 5985 if str(hvars.get("ansible_winrm_scheme", "https")) == "http" else 5986
    return 22


def _platform(hvars):
    explicit = hvars.get("safeq_platform")
    if explicit:
        if explicit not in ("windows", "linux"):
            raise TopologyError("safeq_platform: %r is not windows or linux" % explicit)
        return explicit
    if hvars.get("ansible_os_family") == "Windows" or hvars.get("ansible_connection") in WINDOWS_CONNECTIONS:
        return "windows"
    if hvars.get("ansible_os_family") or hvars.get("ansible_connection") in ("ssh", "local", "containers.podman.podman"):
        return "linux"
    return "unknown"


def limit_errors(cml_hosts, features, near_roaming_groups):
    """Topology limits of the terminals and of near roaming; returns a list of messages."""
    errors = []
    for feature, limit in sorted(TERMINAL_CLUSTER_LIMITS.items()):
        if feature in features and len(cml_hosts) > limit:
            errors.append(
                "groups.safeq_cml: %d CML nodes exceed the %s limit of %d servers per cluster"
                % (len(cml_hosts), feature, limit)
            )
    for group, members in sorted(near_roaming_groups.items()):
        if len(members) > NEAR_ROAMING_GROUP_LIMIT:
            errors.append(
                "safeq_near_roaming_group=%s: %d ORS exceed the limit of %d per near-roaming group"
                % (group, len(members), NEAR_ROAMING_GROUP_LIMIT)
            )
    return errors


class Topology:
    """Validated SafeQ hosts of one inventory."""

    def __init__(self, hosts):
        self.hosts = hosts

    def members(self, component):
        return [h for h in self.hosts.values() if component in h.components]


def build_topology(groups, hostvars, entries):
    """Build the Topology from Ansible ``groups`` and ``hostvars`` and the catalog ``entries``."""
    if not isinstance(groups, dict):
        raise TopologyError("groups: must be a mapping of group name to host list")
    features_known = set(known_features(entries))
    settings_index = known_settings(entries)
    components = {}
    for group, component in COMPONENT_GROUPS.items():
        for host in groups.get(group) or []:
            components.setdefault(host, set()).add(component)
    for host, hvars in hostvars.items():
        extra = _as_list(host, "safeq_components", (hvars or {}).get("safeq_components"))
        for comp in extra:
            if comp not in COMPONENTS:
                raise TopologyError("%s: unknown component %r (known: %s)"
                                    % (_field(host, "safeq_components"), comp, ", ".join(COMPONENTS)))
            components.setdefault(host, set()).add(comp)
    cml_count = sum(1 for comps in components.values() if "cml" in comps)
    hosts = {}
    for name in sorted(components):
        hvars = hostvars.get(name)
        if hvars is None:
            raise TopologyError("hostvars[%s]: host is in a safeq_* group but has no variables" % name)
        features = set()
        for feature in _as_list(name, "safeq_features", hvars.get("safeq_features")):
            if feature not in features_known:
                raise TopologyError("%s: unknown feature %r (known: %s)"
                                    % (_field(name, "safeq_features"), feature, ", ".join(sorted(features_known))))
            features.add(feature)
        if "cml" in components[name] and cml_count > 1:
            features.add("cluster")
        networks = {}
        for variable in NETWORK_VARIABLES:
            networks[variable] = sorted(
                {_network(name, variable, v) for v in _as_list(name, variable, hvars.get(variable))},
                key=_address_sort_key,
            )
        controller = hvars.get("safeq_controller_address")
        if controller not in (None, ""):
            controller = _network(name, "safeq_controller_address", controller)
        else:
            controller = None
        roaming = hvars.get("safeq_near_roaming_group")
        if roaming is not None and not isinstance(roaming, str):
            raise TopologyError("%s: must be a string, got %r" % (_field(name, "safeq_near_roaming_group"), roaming))
        hosts[name] = HostModel(
            name=name,
            address=_address(name, hvars),
            components=components[name],
            features=features,
            overrides=_overrides(name, hvars.get("safeq_port_overrides"), settings_index),
            networks=networks,
            platform=_platform(hvars),
            management_port=_management_port(name, hvars),
            controller_address=controller,
            near_roaming_group=roaming if "ors" in components[name] else None,
            etcd_cluster=str(hvars.get("safeq_etcd_cluster") or "default"),
        )
    addresses = {}
    for host in hosts.values():
        if host.address in addresses:
            raise TopologyError("%s: address %s is also used by %s"
                                % (_field(host.name, "safeq_address"), host.address, addresses[host.address]))
        addresses[host.address] = host.name
    topo = Topology(hosts)
    all_features = set().union(*(h.features for h in hosts.values())) if hosts else set()
    roaming_groups = {}
    for host in topo.members("ors"):
        if host.near_roaming_group:
            roaming_groups.setdefault(host.near_roaming_group, []).append(host.name)
    errors = limit_errors([h.name for h in topo.members("cml")], all_features, roaming_groups)
    if errors:
        raise TopologyError("; ".join(errors))
    return topo


def _address_sort_key(value):
    net = ipaddress.ip_network(value, strict=False)
    return (int(net.network_address), net.prefixlen)
