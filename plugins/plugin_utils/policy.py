# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy: catalog + topology -> grouped flows -> one least-privilege policy per host.

Flows are computed between groups (a CML cluster, the ORS of a cluster, a near-roaming group, an
etcd cluster, the hosts that share one network list), never between host pairs, so their number
grows with the groups, not with the square of the hosts. Each host's policy is then read from the
flows it takes part in. See docs/design.md for the data shapes.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils import addresses as addr
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import COMPONENTS, parse_port
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import join_errors

# Endpoint kinds that are networks named by a variable (per host).
ENDPOINT_NETWORKS = {
    "workstation": "safeq_workstation_networks",
    "printer": "safeq_printer_networks",
    "terminal": "safeq_printer_networks",
    "ldap": "safeq_ldap_servers",
    "database": "safeq_database_servers",
    "payment_system": "safeq_payment_servers",
    "smtp": "safeq_smtp_servers",
    "payment_machine": "safeq_payment_machine_networks",
}
LOCAL_ENDPOINTS = ("localhost", "ts", "mps")
EPHEMERAL_PORTS = (1024, 65535)
RULE_NAME_MAX = 100


class PolicyError(ValueError):
    """The computed policy contradicts itself or opens what must stay closed; names host and variable."""


# ---- ports ------------------------------------------------------------------------------------

def merge_ports(ranges):
    """Sorted, merged list of (low, high) tuples."""
    merged = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def format_ports(ranges):
    """(low, high) tuples -> catalog form: ints and 'a-b' strings."""
    return [low if low == high else "%d-%d" % (low, high) for low, high in merge_ports(ranges)]


def ports_overlap(left, right):
    return [(max(a, c), min(b, d)) for a, b in left for c, d in right if max(a, c) <= min(b, d)]


def resolve_ports(entry, host):
    """(port ranges, override properties used) of ``entry`` on ``host``; ranges None when unresolved.

    Each of the host's components that the entry applies to contributes its own port: the override
    of the setting for that component (or of a setting for every component) when the inventory sets
    one, else the catalog default. A symbolic port without an override is unresolved.
    """
    comps = [c for c in entry["components"] if c in host.components] or sorted(host.components)
    ranges, used = [], []
    symbolic = isinstance(entry["ports"][0], dict)
    for comp in comps:
        props = [s["property"] for s in entry["settings"]
                 if s["controls"] == "port" and s["component"] in (None, comp)]
        chosen = [p for p in props if p in host.overrides]
        if chosen:
            for prop in chosen:
                ranges.append(host.overrides[prop]["range"])
                if prop not in used:
                    used.append(prop)
        elif symbolic:
            return None, used
        else:
            ranges.extend(parse_port(p, entry["id"]) for p in entry["ports"])
    return merge_ports(ranges), used


def _applies(entry, host):
    return bool(set(entry["components"]) & host.components) and (
        entry["condition"] is None or any(f in host.features for f in entry["condition"]))


# ---- endpoints and flows -----------------------------------------------------------------------

class Piece(tuple):
    """One allow/deny contribution to a host's rules (hashable: hosts of one group share them)."""

    __slots__ = ()
    FIELDS = ("action", "direction", "protocol", "addresses", "remote_ports", "local_addresses", "except",
              "label", "ports", "catalog_id", "overrides")

    def __new__(cls, *values):
        return tuple.__new__(cls, values)


class _Endpoint:
    __slots__ = ("key", "name", "kind", "component", "members", "addresses", "label", "_view")

    def __init__(self, key, name, kind, component, members, addresses, label):
        self.key = key
        self.name = name
        self.kind = kind
        self.component = component
        self.members = members
        self.addresses = addresses
        self.label = label
        self._view = None

    def as_dict(self):
        """The endpoint as flow data: one dict per endpoint, shared by every flow that names it (read-only)."""
        if self._view is None:
            self._view = {"name": self.name, "kind": self.kind, "component": self.component,
                          "members": list(self.members), "addresses": list(self.addresses)}
        return self._view


def _canonical_interval(text):
    """(first, last, text as collapse writes it) of a plain IPv4 address or CIDR string; None otherwise.

    Only the canonical spelling is read here (decimal octets without leading zeros, a decimal prefix,
    no host bits); anything else goes through ipaddress (addr.collapse), which also reports errors.
    """
    if not isinstance(text, str) or not text.isascii():
        return None
    address, slash, prefix = text.partition("/")
    parts = address.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3 or (len(part) > 1 and part[0] == "0") or int(part) > 255:
            return None
        value = value * 256 + int(part)
    length = 32
    if slash:
        if not prefix.isdigit() or str(int(prefix)) != prefix or int(prefix) > 32:
            return None
        length = int(prefix)
    size = 1 << (32 - length)
    if value % size:
        return None
    return value, value + size - 1, address if length == 32 else "%s/%d" % (address, length)


def _collapse(addresses):
    """addr.collapse(addresses) as a tuple, without ipaddress for canonical addresses and CIDRs."""
    if addr.ANY in addresses:
        return (addr.ANY,)
    parsed = [_canonical_interval(a) for a in addresses]
    if any(p is None for p in parsed):
        return tuple(addr.collapse(list(addresses)))
    result, run = [], None  # run: [first, last, text when the run is exactly one input block]
    for first, last, text in sorted(parsed):
        if run is not None and first <= run[1] + 1:
            if last > run[1] or first != run[0]:
                run = [run[0], max(run[1], last), None]
            continue
        if run is not None:
            result.extend([run[2]] if run[2] is not None else addr.interval_cidrs(run[0], run[1]))
        run = [first, last, text]
    if run is not None:
        result.extend([run[2]] if run[2] is not None else addr.interval_cidrs(run[0], run[1]))
    return tuple(result)


def _collapse_hosts(hosts):
    """addr.collapse of the hosts' addresses, from their integer addresses (same result, no parsing)."""
    texts = {h.address_int: h.address for h in hosts}
    result, run = [], None
    for value in sorted(texts):
        if run is not None and value == run[1] + 1:
            run[1] = value
            continue
        if run is not None:
            result.extend([texts[run[0]]] if run[0] == run[1] else addr.interval_cidrs(run[0], run[1]))
        run = [value, value]
    if run is not None:
        result.extend([texts[run[0]]] if run[0] == run[1] else addr.interval_cidrs(run[0], run[1]))
    return tuple(result)


class _Builder:
    """Builds the grouped flows and each host's rule pieces."""

    def __init__(self, catalog, topology):
        self.catalog = catalog
        self.topology = topology
        self.flows = []
        self.pieces = {name: [] for name in topology.hosts}
        self.unresolved = {name: [] for name in topology.hosts}
        self.warnings = []
        self.errors = []
        self._endpoints = {}
        self._aggregated = {}
        # caches (performance only): collapsed address sets, _applies and resolve_ports per host profile
        self._collapsed = {}
        self._applies = {}
        self._ports = {}
        self._override_keys = {}
        self._pieces = {}

    # endpoints are shared: one object (and one collapsed address tuple) per group
    def endpoint(self, key, name, kind, component, members, raw_addresses, label, hosts=None):
        found = self._endpoints.get(key)
        if found is None:
            raw = frozenset(raw_addresses)
            addresses = self._collapsed.get(raw)
            if addresses is None:
                if hosts is not None and all(h.address_int is not None for h in hosts):
                    addresses = _collapse_hosts(hosts)
                else:
                    addresses = _collapse(list(raw_addresses))
                self._collapsed[raw] = addresses
            found = _Endpoint(key, name, kind, component, tuple(members), addresses, label)
            self._endpoints[key] = found
        return found

    def group_endpoint(self, label, component, hosts):
        names = tuple(sorted(h.name for h in hosts))
        return self.endpoint(("safeq", label, names), label, "safeq", component, names,
                             [h.address for h in hosts], label, hosts)

    def applies(self, entry, host):
        """_applies(entry, host), computed once per entry and host profile."""
        key = (entry["id"], host.components, host.features)
        found = self._applies.get(key)
        if found is None:
            found = self._applies[key] = _applies(entry, host)
        return found

    def resolve(self, entry, host):
        """resolve_ports(entry, host) as tuples, computed once per entry, components and overrides."""
        okey = self._override_keys.get(host.name)
        if okey is None:
            okey = self._override_keys[host.name] = tuple(sorted((k, v["range"]) for k, v in host.overrides.items()))
        key = (entry["id"], host.components, okey)
        found = self._ports.get(key)
        if found is None:
            ports, used = resolve_ports(entry, host)
            found = self._ports[key] = (None if ports is None else tuple(ports), tuple(used))
        return found

    def network_endpoint(self, variable, nets):
        label = variable[len("safeq_"):]
        return self.endpoint(("network", variable, nets), label, "network", None, (), nets, label)

    def warn(self, key, host, variable, message):
        item = self._aggregated.setdefault(key, {"hosts": [], "variable": variable, "message": message})
        if host is not None and host not in item["hosts"]:
            item["hosts"].append(host)

    def add_flow(self, entry, src, dst, ports, enforced_on, action="allow", cast=None, note=None,
                 unresolved=None, local_addresses=(), inbound_hosts=(), outbound_hosts=(), ret=None):
        flow = {
            "id": None,
            "catalog_ids": [entry["id"]],
            "description": entry["description"],
            "requirement": entry["requirement"],
            "features": list(entry["condition"] or []),
            "protocol": entry["protocol"],
            "ports": format_ports(ports) if ports else [],
            "unresolved": unresolved,
            "cast": cast or entry["cast"],
            "action": action,
            "source": src,
            "destination": dst,
            "enforced": bool(enforced_on),
            "enforced_on": sorted(enforced_on),
            "note": note,
        }
        self.flows.append(flow)
        return flow

    def piece(self, host, direction, entry, endpoint_label, addresses, ports, used, remote_ports=(),
              local_addresses=()):
        self.piece_for([host], direction, entry, endpoint_label, addresses, ports, used, remote_ports, local_addresses)

    def piece_for(self, hosts, direction, entry, endpoint_label, addresses, ports, used, remote_ports=(),
                  local_addresses=()):
        """The same piece for every host of ``hosts`` (one shared, immutable Piece object)."""
        piece = Piece("allow", direction, entry["protocol"], tuple(addresses), tuple(remote_ports),
                      tuple(local_addresses), (), endpoint_label, tuple(ports), entry["id"], tuple(used))
        piece = self._pieces.setdefault(piece, piece)
        for host in hosts:
            self.pieces[host.name].append(piece)


def _unresolved_text(entry):
    symbolic = entry["ports"][0]
    return "%s: port is %s; set safeq_port_overrides.%s to open it" % (
        symbolic["setting"], symbolic["symbolic"], symbolic["setting"])


def _by_ports(builder, entry, hosts):
    """Group hosts by their resolved ports: {(ports tuple, used tuple): [hosts]}; records unresolved."""
    groups = {}
    for host in hosts:
        ports, used = builder.resolve(entry, host)
        if ports is None:
            builder.unresolved[host.name].append({
                "host": host.name, "catalog_id": entry["id"], "setting": entry["ports"][0]["setting"],
                "reason": _unresolved_text(entry)})
            groups.setdefault(None, []).append(host)
            continue
        groups.setdefault((ports, used), []).append(host)
    return groups


def _inter_server(builder, entry, cluster):
    """Rows whose remote side is a SafeQ component: peers inside the cluster (and group)."""
    remote_kind = entry["source"]
    listeners = [h for comp in entry["components"] for h in cluster.members(comp) if builder.applies(entry, h)]
    listeners = list({h.name: h for h in listeners}.values())
    senders_all = cluster.members(remote_kind)
    condition = entry["condition"] or []
    scopes = {}
    if "near_roaming" in condition:
        for host in listeners:
            scopes.setdefault(("nrg", host.near_roaming_group), [[], []])[0].append(host)
        for host in senders_all:
            if host.near_roaming_group:
                scopes.setdefault(("nrg", host.near_roaming_group), [[], []])[1].append(host)
    elif remote_kind == "etcd":
        for host in listeners:
            scopes.setdefault(("etcd", host.etcd_cluster), [[], []])[0].append(host)
        for host in senders_all:
            scopes.setdefault(("etcd", host.etcd_cluster), [[], []])[1].append(host)
    else:
        scopes[("cluster", cluster.name)] = [listeners, list(senders_all)]
    enabled = [f for f in condition if f in cluster.features or any(f in h.features for h in listeners)]
    if condition and enabled and (not listeners or not senders_all):
        missing = "/".join(entry["components"]) if not listeners else remote_kind
        builder.warn(("peers", entry["id"], cluster.name), None, "safeq_features",
                     "%s is enabled in CML cluster %r but the cluster has no %s host: %s (%s %s) is not opened"
                     % (enabled[0], cluster.name, missing, entry["id"], entry["protocol"],
                        ",".join(str(p) for p in entry["ports"] if not isinstance(p, dict)) or "port"))
    for (kind, scope_name), (scope_listeners, senders) in sorted(scopes.items()):
        if not scope_listeners or not senders:
            continue
        if kind == "nrg":
            label = "nrg-%s@%s" % (scope_name, cluster.name)
        elif kind == "etcd":
            label = "etcd-%s" % scope_name
        else:
            label = "%s@%s" % (remote_kind, cluster.name)
        src = builder.group_endpoint(label, remote_kind, senders)
        for key, group in sorted(_by_ports(builder, entry, scope_listeners).items(), key=lambda kv: str(kv[0])):
            dst_label = "%s@%s" % ("+".join(entry["components"]), cluster.name) if kind == "cluster" else label
            dst = builder.group_endpoint(dst_label, entry["components"][0], group)
            if key is None:
                builder.add_flow(entry, src.as_dict(), dst.as_dict(), [], [], unresolved=_unresolved_text(entry),
                                 note="port unresolved: no rule")
                continue
            ports, used = list(key[0]), key[1]
            self_only = set(src.members) == set(dst.members) and len(src.members) == 1
            if self_only:
                continue  # a host talking to itself goes over loopback
            if entry["cast"] == "multicast":
                group_net = (entry["group_address"],)
                dst_view = dict(dst.as_dict(), kind="multicast", addresses=list(group_net),
                                name="%s multicast %s" % (dst.name, entry["group_address"]))
                builder.add_flow(entry, src.as_dict(), dst_view, ports, [h.name for h in group] +
                                 [h.name for h in senders], cast="multicast")
                builder.piece_for(group, "inbound", entry, src.label, src.addresses, ports, used,
                                  local_addresses=group_net)
                builder.piece_for(senders, "outbound", entry, "multicast", group_net, ports, used)
                continue
            builder.add_flow(entry, src.as_dict(), dst.as_dict(), ports,
                             sorted({h.name for h in group} | {h.name for h in senders}))
            builder.piece_for(group, "inbound", entry, src.label, src.addresses, ports, used)
            builder.piece_for(senders, "outbound", entry, dst.label, dst.addresses, ports, used)


def _hosts_label(entry, cluster, hosts, everyone):
    comps = "+".join(c for c in entry["components"] if any(c in h.components for h in hosts))
    label = "%s@%s" % (comps, cluster.name)
    if len(hosts) != len(everyone):
        label += " (%d of %d)" % (len(hosts), len(everyone))
    return label


def _network_rows(builder, entry, cluster):
    """Rows between SafeQ hosts and networks named by variables (workstations, printers, LDAP...)."""
    inbound = entry["direction"] == "inbound"
    remote_kind = entry["source"] if inbound else entry["destination"]
    variable = ENDPOINT_NETWORKS[remote_kind]
    hosts = [h for h in cluster.hosts if builder.applies(entry, h)]
    if not hosts:
        return
    by_nets = {}
    for host in hosts:
        by_nets.setdefault(host.network(variable), []).append(host)
    for nets, members in sorted(by_nets.items()):
        if not nets:
            for host in members:
                builder.warn(("empty", entry["id"], variable), host.name, variable,
                             "%s (%s) needs %s, which is empty: no rule"
                             % (entry["id"], ", ".join(entry["condition"] or [entry["requirement"]]), variable))
        remote = builder.network_endpoint(variable, nets)
        cast = entry["cast"]
        remote_view = remote.as_dict()
        if cast == "broadcast":
            remote_view = dict(remote_view, kind="broadcast", name="%s (broadcast)" % remote.name,
                               addresses=[entry["group_address"]] + list(remote.addresses))
        for key, group in sorted(_by_ports(builder, entry, members).items(), key=lambda kv: str(kv[0])):
            local = builder.group_endpoint(_hosts_label(entry, cluster, group, hosts), None, group).as_dict()
            src, dst = (remote_view, local) if inbound else (local, remote_view)
            if key is None:
                builder.add_flow(entry, src, dst, [], [], unresolved=_unresolved_text(entry),
                                 note="port unresolved: no rule")
                continue
            ports, used = list(key[0]), key[1]
            if not nets:
                builder.add_flow(entry, src, dst, ports, [], note="%s is empty: no rule" % variable)
                continue
            note = None
            ret = entry["return_traffic"]
            if cast == "broadcast" and ret:
                note = "replies from %s (source port %s) are allowed back" % (
                    remote.label, ",".join(str(p) for p in format_ports(ports)))
            builder.add_flow(entry, src, dst, ports, [h.name for h in group], note=note)
            if inbound:
                builder.piece_for(group, "inbound", entry, remote.label, remote.addresses, ports, used)
            elif cast == "broadcast":
                targets = _collapse([entry["group_address"]] + list(remote.addresses))
                builder.piece_for(group, "outbound", entry, remote.label + "-broadcast", targets, ports, used)
                if ret and ret["match"] == "source_port":
                    builder.piece_for(group, "inbound", entry, remote.label + "-replies", remote.addresses,
                                      [EPHEMERAL_PORTS], used, remote_ports=ports)
            else:
                builder.piece_for(group, "outbound", entry, remote.label, remote.addresses, ports, used)


def _multicast_rows(builder, entry, cluster):
    """Outbound multicast rows to a group address (Bonjour), with answers allowed back."""
    hosts = [h for h in cluster.hosts if builder.applies(entry, h)]
    if not hosts:
        return
    group_net = (entry["group_address"],)
    ret = entry["return_traffic"]
    for key, group in sorted(_by_ports(builder, entry, hosts).items(), key=lambda kv: str(kv[0])):
        local = builder.group_endpoint(_hosts_label(entry, cluster, group, hosts), None, group).as_dict()
        dst = {"name": "multicast %s" % entry["group_address"], "kind": "multicast", "component": None,
               "members": [], "addresses": list(group_net)}
        if key is None:
            builder.add_flow(entry, local, dst, [], [], unresolved=_unresolved_text(entry))
            continue
        ports, used = list(key[0]), key[1]
        note = None
        if ret:
            variable = ENDPOINT_NETWORKS[ret["source"]]
            note = "multicast to %s; queries and answers from %s to port %s are allowed in" % (
                entry["group_address"], variable, ",".join(str(p) for p in format_ports(ports)))
        builder.add_flow(entry, local, dst, ports, [h.name for h in group], cast="multicast", note=note)
        for host in group:
            builder.piece(host, "outbound", entry, "multicast", group_net, ports, used)
            if ret:
                variable = ENDPOINT_NETWORKS[ret["source"]]
                nets = host.network(variable)
                if nets:
                    builder.piece(host, "inbound", entry, variable[len("safeq_"):] + "-multicast",
                                  builder.network_endpoint(variable, nets).addresses, ports, used)
                else:
                    builder.warn(("empty", entry["id"], variable), host.name, variable,
                                 "%s needs %s for the answers, which is empty: no inbound rule" % (entry["id"], variable))


def _unenforced_rows(builder, entry, cluster):
    """Rows no SafeQ host takes part in (payment machine -> payment system): listed, not enforced."""
    condition = entry["condition"] or []
    if condition and not any(f in h.features for h in cluster.hosts for f in condition):
        return
    ends = []
    for kind in (entry["source"], entry["destination"]):
        variable = ENDPOINT_NETWORKS[kind]
        nets = sorted({n for h in cluster.hosts for n in h.network(variable)})
        ends.append(builder.network_endpoint(variable, tuple(addr.collapse(nets))).as_dict())
    ports = merge_ports(parse_port(p, entry["id"]) for p in entry["ports"])
    empty = [e["name"] for e in ends if not e["addresses"]]
    note = "not enforced by a SafeQ host: configure it on the network firewall"
    if empty:
        note += "; %s empty in the inventory" % " and ".join("safeq_" + n for n in empty)
    builder.add_flow(entry, ends[0], ends[1], ports, [], note=note)


def _denied_and_local_rows(builder, entry, cluster):
    hosts = [h for h in cluster.hosts if builder.applies(entry, h)]
    if not hosts:
        return
    for key, group in sorted(_by_ports(builder, entry, hosts).items(), key=lambda kv: str(kv[0])):
        if key is None:
            continue
        local = builder.group_endpoint(_hosts_label(entry, cluster, group, hosts), None, group).as_dict()
        if entry["hardening"]:
            anyone = {"name": "any other host" if entry["hardening"] == "self_only" else "any remote host",
                      "kind": "network", "component": None, "members": [], "addresses": ["any"]}
            builder.add_flow(entry, anyone, local, list(key[0]), [h.name for h in group], action="deny",
                             note="denied: the vendor binds it to localhost or advises blocking it")
        else:
            loop = {"name": "localhost", "kind": "local", "component": None, "members": [], "addresses": ["127.0.0.1"]}
            builder.add_flow(entry, loop, local, list(key[0]), [], action="local",
                             note="loopback only: no network rule needed")


def build_flows(catalog, topology):
    """Grouped flows for every row that applies, and each host's allow pieces (a _Builder)."""
    builder = _Builder(catalog, topology)
    for entry in catalog.entries:
        remote_kind = entry["source"] if entry["direction"] == "inbound" else entry["destination"]
        for cluster in sorted(topology.clusters.values(), key=lambda c: c.name):
            if entry["hardening"] or remote_kind in LOCAL_ENDPOINTS:
                _denied_and_local_rows(builder, entry, cluster)
            elif not entry["components"]:
                _unenforced_rows(builder, entry, cluster)
            elif remote_kind in COMPONENTS:
                _inter_server(builder, entry, cluster)
            elif remote_kind == "multicast":
                _multicast_rows(builder, entry, cluster)
            else:
                _network_rows(builder, entry, cluster)
    for index, flow in enumerate(builder.flows, 1):
        flow["id"] = "F%03d" % index
    for item in builder._aggregated.values():
        hosts = item["hosts"]
        message = item["message"] if not hosts else "%s (on %s)" % (item["message"], _names(hosts))
        builder.warnings.append({"host": hosts[0] if len(hosts) == 1 else None, "variable": item["variable"],
                                 "message": message, "hosts": hosts})
    return builder


def _names(items, limit=5):
    items = sorted(items)
    if len(items) <= limit:
        return ", ".join(items)
    return "%s and %d more" % (", ".join(items[:limit]), len(items) - limit)


# ---- per-host rules ----------------------------------------------------------------------------

def _deny_pieces(entries, host):
    pieces = []
    for entry in entries:
        if not entry["hardening"] or not set(entry["components"]) & host.components:
            continue
        ports, used = resolve_ports(entry, host)
        if ports is None:
            continue
        exceptions = ("loopback", "self") if entry["hardening"] == "self_only" else ("loopback",)
        label = "not-self" if entry["hardening"] == "self_only" else "remote"
        pieces.append(Piece("deny", "inbound", entry["protocol"], (addr.ANY,), (), (), exceptions, label,
                            tuple(ports), entry["id"], tuple(used)))
    return pieces


def _rule_name(action, direction, protocol, labels):
    base = "%s-%s-%s-%s" % (action, "in" if direction == "inbound" else "out", protocol, "+".join(labels))
    if len(base) <= RULE_NAME_MAX:
        return base
    import hashlib

    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    head = "%s-%s-%s-%s" % (action, "in" if direction == "inbound" else "out", protocol, labels[0])
    return "%s+%d-more-%s" % (head[:RULE_NAME_MAX - 20], len(labels) - 1, digest)


def group_rules(pieces, lists=None):
    """Merge pieces with the same action, direction, protocol and address match into rules.

    ``lists`` (a dict kept by the caller) makes rules with the same address tuple object share one
    address list (read-only, like the rules lists hosts share): long peer lists are stored once.
    """
    grouped = {}
    for action, direction, protocol, addresses, remote_ports, local_addresses, exceptions, label, ports, \
            catalog_id, overrides in pieces:
        key = (action, direction, protocol, addresses, remote_ports, local_addresses, exceptions)
        rule = grouped.get(key)
        if rule is None:
            rule = grouped[key] = {"labels": set(), "ports": [], "ids": set(), "overrides": set()}
        rule["labels"].add(label)
        rule["ports"].extend(ports)
        rule["ids"].add(catalog_id)
        rule["overrides"].update(overrides)
    order = {"deny": 0, "allow": 1}
    rules, names = [], set()
    keyed = sorted((order[k[0]], k[1], k[2], sorted(v["labels"]), k) for k, v in grouped.items())
    for _order, _direction, _protocol, labels, key in keyed:
        action, direction, protocol, addresses, remote_ports, local_addresses, exceptions = key
        rule = grouped[key]
        name, counter = _rule_name(action, direction, protocol, labels), 2
        base = name
        while name in names:
            name, counter = "%s-%d" % (base, counter), counter + 1
        names.add(name)
        if lists is None:
            address_list = list(addresses)
        else:
            found = lists.get(id(addresses))
            if found is None or found[0] is not addresses:
                found = lists[id(addresses)] = (addresses, list(addresses))
            address_list = found[1]
        item = {
            "name": name, "action": action, "direction": direction, "protocol": protocol,
            "ports": format_ports(rule["ports"]), "addresses": address_list,
            "peers": labels, "catalog_ids": sorted(rule["ids"]),
        }
        if remote_ports:
            item["remote_ports"] = format_ports(remote_ports)
        if local_addresses:
            item["local_addresses"] = list(local_addresses)
        if exceptions:
            item["except"] = list(exceptions)
        if rule["overrides"]:
            item["overrides"] = sorted(rule["overrides"])
        rules.append(item)
    return rules


def expected_listeners(entries, host, allowed_in):
    """Inbound ports the host listens on for its components and features.

    ``bind`` is ``localhost`` where the page binds the port to localhost and no allow rule of the
    host opens it to peers (5556 stays remote-reachable when an AP Connector uses it); ``exposure``
    says how a socket on another address is judged: ``fail`` for ports the page binds to localhost,
    ``warn`` for hardened ports the page leaves on every interface (RMI, Tomcat 8005: the firewall
    denies them), ``None`` otherwise.
    """
    result = []
    for entry in entries:
        if entry["direction"] != "inbound" or not _applies(entry, host):
            continue
        ports, _used = resolve_ports(entry, host)
        if ports is None:
            continue
        open_to_peers = bool(ports_overlap(ports, allowed_in.get(entry["protocol"], [])))
        if entry["bind"] == "localhost" and not open_to_peers:
            bind, exposure = "localhost", "fail"
        elif entry["hardening"]:
            bind, exposure = "any", "warn"
        else:
            bind, exposure = "any", None
        result.append({
            "catalog_id": entry["id"], "protocol": entry["protocol"], "ports": format_ports(ports),
            "bind": bind, "exposure": exposure,
            "components": [c for c in entry["components"] if c in host.components],
            "settings": [s for s in entry["settings"] if s["component"] is None or s["component"] in host.components],
        })
    return result


def _override_fields(host, props):
    return ", ".join("hostvars[%s].safeq_port_overrides.%s=%s" % (host.name, p, host.overrides[p]["text"])
                     for p in props) or None


def check_rules(host, rules, management, protected):
    """Errors for rules that deny the management port, collide, or open protected ports."""
    errors = []
    mgmt = [(host.management_port, host.management_port)]
    mgmt_intervals = addr.intervals_of(management["addresses"])
    denied = {}
    for rule in rules:
        if rule["action"] == "deny":
            ranges = [parse_port(p, "ports") for p in rule["ports"]]
            denied.setdefault(rule["protocol"], []).extend((r, rule) for r in ranges)
            clash = ports_overlap(mgmt, ranges) if rule["protocol"] == "tcp" else []
            if clash:
                errors.append("%s: management port %d is a denied port (JMX/RMI/shutdown); change safeq_management_port"
                              " or the port override that moved the denied port" % (
                                  _override_fields(host, rule.get("overrides", [])) or "hostvars[%s].safeq_management_port"
                                  % host.name, host.management_port))
    for rule in rules:
        if rule["action"] != "allow" or rule["direction"] != "inbound":
            continue
        ranges = [parse_port(p, "ports") for p in rule["ports"]]
        where = _override_fields(host, rule.get("overrides", [])) or "hostvars[%s] (%s)" % (
            host.name, ", ".join(rule["catalog_ids"]))
        for (d_low, d_high), deny in denied.get(rule["protocol"], []):
            clash = ports_overlap(ranges, [(d_low, d_high)])
            if clash:
                errors.append("%s: allowed %s port(s) %s (%s) collide with denied port(s) of %s; check safeq_port_overrides"
                              % (_override_fields(host, sorted(set(rule.get("overrides", [])) | set(deny.get("overrides", []))))
                                 or where, rule["protocol"], ",".join(str(p) for p in format_ports(clash)),
                                 ", ".join(rule["catalog_ids"]), ", ".join(deny["catalog_ids"])))
        inside_mgmt = management["addresses"] != ["any"] and all(
            addr.subtract(addr.intervals_of([a]), mgmt_intervals) == [] for a in rule["addresses"] if a != addr.ANY) \
            and addr.ANY not in rule["addresses"]
        if rule["protocol"] == "tcp" and ports_overlap(ranges, mgmt) and not inside_mgmt:
            errors.append("%s: opens the management port %d to %s; choose another port"
                          % (where, host.management_port, "+".join(rule["peers"])))
        if rule.get("overrides") and not inside_mgmt:
            # only the ports an override put there: the vendor's own rows may list a protected port (139)
            moved = [host.overrides[p]["range"] for p in rule["overrides"] if p in host.overrides]
            hits = sorted(p for p in protected if ports_overlap(ranges, [(p, p)]) and ports_overlap(moved, [(p, p)]))
            if hits:
                where = _override_fields(host, [p for p in rule["overrides"] if ports_overlap(
                    [host.overrides[p]["range"]], [(h, h) for h in hits])]) or where
                errors.append("%s: would open protected port(s) %s to %s; choose another port"
                              % (where, ", ".join("%d (%s)" % (p, protected[p]) for p in hits), "+".join(rule["peers"])))
    return errors


def management_access(host):
    return {"protocol": "tcp", "ports": [host.management_port],
            "addresses": list(host.management_addresses) or [addr.ANY]}


class _Shared:
    """Caches: hosts of the same groups share their rules, listeners and checks (computed once)."""

    def __init__(self, catalog, protected):
        self.catalog = catalog
        self.protected = protected
        self.deny = {}
        self.rules = {}
        self.rules_by_id = {}
        self.address_lists = {}
        self.allowed = {}
        self.listeners = {}
        self.checks = {}

    def host_policy(self, host, pieces, unresolved, warnings):
        """One host's policy object (see docs/design.md) and the errors of its rules."""
        profile = (host.components, host.features, tuple(sorted((k, v["range"]) for k, v in host.overrides.items())))
        deny = self.deny.get(profile)
        if deny is None:
            deny = self.deny[profile] = tuple(_deny_pieces(self.catalog.entries, host))
        fast = (id(deny),) + tuple(map(id, pieces))  # the pieces are shared objects, alive for the whole build
        rules = self.rules_by_id.get(fast)
        if rules is None:
            key = deny + tuple(pieces)
            rules = self.rules.get(key)
            if rules is None:
                rules = self.rules[key] = group_rules(key, self.address_lists)
            self.rules_by_id[fast] = rules
            self.allowed[id(rules)] = tuple((r["protocol"], tuple(r["ports"])) for r in rules
                                            if r["action"] == "allow" and r["direction"] == "inbound")
        allowed = self.allowed[id(rules)]
        listeners = self.listeners.get((profile, allowed))
        if listeners is None:
            allowed_in = {}
            for protocol, ports in allowed:
                allowed_in.setdefault(protocol, []).extend(parse_port(p, "ports") for p in ports)
            listeners = self.listeners[(profile, allowed)] = expected_listeners(self.catalog.entries, host, allowed_in)
        management = management_access(host)
        check_key = (id(rules), host.management_port, host.management_addresses,
                     tuple(sorted((k, v["text"]) for k, v in host.overrides.items())))
        errors = self.checks.get(check_key)
        if errors is None:
            errors = check_rules(host, rules, management, self.protected)
            errors = self.checks[check_key] = [e.replace("hostvars[%s]" % host.name, "hostvars[{host}]") for e in errors]
        policy = {
            "host": host.name,
            "address": host.address,
            "platform": host.platform,
            "cml_cluster": host.cml_cluster,
            "components": sorted(host.components),
            "features": sorted(host.features),
            "management": management,
            "rules": rules,
            "unresolved": unresolved,
            "expected_listeners": listeners,
            "warnings": warnings,
        }
        return policy, [e.replace("hostvars[{host}]", "hostvars[%s]" % host.name) for e in errors]


def build_policies(catalog, topology, protected_ports):
    """Every host's policy and the grouped flows: {"policies", "flows", "unresolved", "warnings"}.

    Raises PolicyError listing every host whose rules deny or expose what they must not.
    """
    builder = build_flows(catalog, topology)
    warnings = list(topology.warnings) + builder.warnings
    per_host = {}
    for item in warnings:
        for name in item.get("hosts") or ([item["host"]] if item.get("host") else []):
            per_host.setdefault(name, []).append(item["message"])
    policies, errors = {}, []
    shared = _Shared(catalog, protected_ports)
    for name, host in topology.hosts.items():
        policy, host_errors = shared.host_policy(host, builder.pieces[name], builder.unresolved[name],
                                                 per_host.get(name, []))
        errors.extend(host_errors)
        policies[name] = policy
    if errors:
        raise PolicyError(join_errors(errors, "policy"))
    unresolved = [u for name in sorted(builder.unresolved) for u in builder.unresolved[name]]
    return {
        "policies": policies,
        "flows": builder.flows,
        "unresolved": unresolved,
        "warnings": [{k: v for k, v in w.items() if k != "hosts"} for w in warnings],
    }
