# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy: catalog + topology -> allowed flows -> one grouped, least-privilege policy per host."""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import COMPONENTS, parse_port
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import (
    TopologyError,
    _address_sort_key,
    build_topology,
)

# Endpoint kinds that are networks named by a variable (the same on every host).
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
MDNS_GROUP = "224.0.0.251"
LOCAL_ENDPOINTS = ("localhost", "ts", "mps")


class PolicyError(ValueError):
    """The computed policy contradicts itself (e.g. an override puts an allowed port on a denied one)."""


# ---- port sets -------------------------------------------------------------------------------

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
    """Port ranges of ``entry`` on ``host`` after overrides; None when a symbolic port is unset."""
    applicable = [
        s for s in entry["settings"]
        if s["controls"] == "port" and (s["component"] is None or s["component"] in host.components)
    ]
    overridden = [host.overrides[s["property"]] for s in applicable if s["property"] in host.overrides]
    if overridden:
        return merge_ports(parse_port(p, "safeq_port_overrides") for p in overridden)
    if isinstance(entry["ports"][0], dict):
        return None
    return merge_ports(parse_port(p, "ports") for p in entry["ports"])


# ---- flows -----------------------------------------------------------------------------------

def _applies(entry, host):
    return bool(set(entry["components"]) & host.components) and (
        entry["condition"] is None or entry["condition"] in host.features
    )


def _peers(topo, entry, host, kind):
    """SafeQ hosts of component ``kind`` that talk to ``host`` for ``entry``, with a label."""
    peers = [
        p for p in topo.members(kind)
        if p.name != host.name and (entry["condition"] is None or entry["condition"] in p.features)
    ]
    label = "safeq_" + kind
    if entry["condition"] == "near_roaming":
        if not host.near_roaming_group:
            return label, []
        peers = [p for p in peers if p.near_roaming_group == host.near_roaming_group]
        label += "_near_roaming_" + host.near_roaming_group
    if kind == "etcd":
        peers = [p for p in peers if p.etcd_cluster == host.etcd_cluster]
        label += "_" + host.etcd_cluster
    return label, peers


def build_flows(entries, topo):
    """Every allowed flow, one per (catalog entry, SafeQ host, remote endpoint).

    Returns (flows, unresolved, warnings); warnings are (host name, message) pairs. A flow is a
    dict with src, src_addresses, dst,
    dst_addresses, protocol, ports (tuples), catalog_id, label, src_host/dst_host (or None).
    """
    flows, unresolved, warnings = [], [], []
    for entry in entries:
        for host in topo.hosts.values():
            if not _applies(entry, host) or entry["hardening"]:
                continue
            remote_kind = entry["source"] if entry["direction"] == "inbound" else entry["destination"]
            if remote_kind in LOCAL_ENDPOINTS:
                continue  # loopback traffic is always accepted
            ports = resolve_ports(entry, host)
            if ports is None:
                symbolic = entry["ports"][0]
                unresolved.append({
                    "host": host.name, "catalog_id": entry["id"], "setting": symbolic["setting"],
                    "reason": "port is %s; set safeq_port_overrides.%s to open it"
                              % (symbolic["symbolic"], symbolic["setting"]),
                })
                continue
            if remote_kind in COMPONENTS:
                label, peers = _peers(topo, entry, host, remote_kind)
                remotes = [(p.name, [p.address], p) for p in peers]
            elif remote_kind == "multicast":
                label, remotes = "mdns_multicast", [("mdns_multicast", [MDNS_GROUP], None)]
            else:
                variable = ENDPOINT_NETWORKS[remote_kind]
                label, nets = variable[len("safeq_"):], host.network(variable)
                remotes = [(label, nets, None)] if nets else []
                if not nets:
                    warnings.append((host.name, "%s: %s needs %s, which is empty on %s; no rule created"
                                     % (entry["id"], entry["condition"] or entry["requirement"], variable,
                                        host.name)))
            local_kind = entry["destination"] if entry["direction"] == "inbound" else entry["source"]
            peer_label = "safeq_" + (local_kind if local_kind in COMPONENTS else "+".join(sorted(host.components)))
            for name, addresses, peer in remotes:
                local = (host.name, [host.address], host)
                src, dst = ((name, addresses, peer), local) if entry["direction"] == "inbound" else (local, (name, addresses, peer))
                flows.append({
                    "src": src[0], "src_addresses": src[1], "src_host": src[2] and src[2].name,
                    "dst": dst[0], "dst_addresses": dst[1], "dst_host": dst[2] and dst[2].name,
                    "protocol": entry["protocol"], "ports": ports, "catalog_id": entry["id"], "label": label,
                    "peer_label": peer_label,
                })
    return flows, unresolved, warnings


def flow_matrix(flows):
    """Flows grouped by (src, dst, protocol) with merged ports and catalog ids, sorted."""
    grouped = {}
    for flow in flows:
        key = (flow["src"], flow["dst"], flow["protocol"])
        item = grouped.setdefault(key, {
            "src": flow["src"], "src_addresses": flow["src_addresses"], "dst": flow["dst"],
            "dst_addresses": flow["dst_addresses"], "protocol": flow["protocol"], "ports": [], "catalog_ids": set(),
        })
        item["ports"].extend(flow["ports"])
        item["catalog_ids"].add(flow["catalog_id"])
    result = []
    for key in sorted(grouped):
        item = grouped[key]
        item["ports"] = format_ports(item["ports"])
        item["catalog_ids"] = sorted(item["catalog_ids"])
        result.append(item)
    return result


# ---- per-host rules --------------------------------------------------------------------------

def _group_rules(pieces):
    """pieces: (action, direction, protocol, addresses tuple, label, ports, catalog_id, except)."""
    grouped = {}
    for action, direction, protocol, addresses, label, ports, catalog_id, exceptions in pieces:
        key = (action, direction, protocol, addresses, exceptions)
        rule = grouped.setdefault(key, {"labels": set(), "ports": [], "ids": set()})
        rule["labels"].add(label)
        rule["ports"].extend(ports)
        rule["ids"].add(catalog_id)
    rules, names = [], set()
    order = {"deny": 0, "allow": 1}
    for key in sorted(grouped, key=lambda k: (order[k[0]], k[1], k[2], sorted(grouped[k]["labels"]), k[3])):
        action, direction, protocol, addresses, exceptions = key
        rule = grouped[key]
        base = "%s-%s-%s-%s" % (action, "in" if direction == "inbound" else "out", protocol,
                                "+".join(sorted(rule["labels"])))
        name, counter = base, 2
        while name in names:
            name, counter = "%s-%d" % (base, counter), counter + 1
        names.add(name)
        item = {
            "name": name, "action": action, "direction": direction, "protocol": protocol,
            "ports": format_ports(rule["ports"]), "addresses": list(addresses),
            "peers": sorted(rule["labels"]), "catalog_ids": sorted(rule["ids"]),
        }
        if exceptions:
            item["except"] = list(exceptions)
        rules.append(item)
    return rules


def _deny_pieces(entries, host):
    for entry in entries:
        if entry["hardening"] and set(entry["components"]) & host.components:
            ports = resolve_ports(entry, host)
            if ports is None:
                continue
            if entry["hardening"] == "self_only":
                yield ("deny", "inbound", entry["protocol"], ("any",), "not-self", ports, entry["id"],
                       ("loopback", "self"))
            else:
                yield ("deny", "inbound", entry["protocol"], ("any",), "remote", ports, entry["id"], ("loopback",))


def expected_listeners(entries, host):
    """Inbound ports the host listens on for its components and features: (expected, unresolved).

    ``bind`` is ``localhost`` for the JMX ports (local_only and bound to 127.0.0.1 by the vendor);
    RMI and the Tomcat shutdown port listen everywhere by design and are enforced by the firewall.
    ``unresolved`` names the symbolic ports without an override.
    """
    expected, unresolved = [], []
    for entry in entries:
        if entry["direction"] != "inbound" or not _applies(entry, host):
            continue
        ports = resolve_ports(entry, host)
        if ports is None:
            unresolved.append("%s (%s)" % (entry["id"], entry["ports"][0]["setting"]))
            continue
        local = entry["hardening"] == "local_only" and entry["bind"] == "localhost"
        expected.append({
            "catalog_id": entry["id"], "protocol": entry["protocol"], "ports": format_ports(ports),
            "bind": "localhost" if local else "any",
            "settings": [s for s in entry["settings"] if s["component"] is None or s["component"] in host.components],
        })
    return expected, unresolved


def _check_conflicts(host, rules, management):
    denied = {}
    for rule in rules:
        if rule["action"] == "deny":
            denied.setdefault(rule["protocol"], []).extend(parse_port(p, "ports") for p in rule["ports"])
    mgmt = [parse_port(p, "management") for p in management["ports"]]
    clash = ports_overlap(mgmt, denied.get("tcp", []))
    if clash:
        raise PolicyError("%s: management port %s is a denied port (JMX/RMI/shutdown); change safeq_management_port"
                          " or the override that moved the denied port" % (host.name, format_ports(clash)))
    for rule in rules:
        if rule["action"] == "allow" and rule["direction"] == "inbound":
            clash = ports_overlap([parse_port(p, "ports") for p in rule["ports"]], denied.get(rule["protocol"], []))
            if clash:
                raise PolicyError("%s: allowed %s port(s) %s (%s) collide with denied JMX/RMI/shutdown ports;"
                                  " check safeq_port_overrides" % (host.name, rule["protocol"],
                                                                   format_ports(clash), ", ".join(rule["catalog_ids"])))


def management_access(host):
    addresses = sorted({a for a in [host.controller_address] + host.network("safeq_management_networks") if a},
                       key=_address_sort_key)
    return {"protocol": "tcp", "ports": [host.management_port], "addresses": addresses or ["any"]}


def build_policies(entries, groups, hostvars):
    """Return {"policies": {host: policy}, "flows": [...], "unresolved": [...], "warnings": [...]}."""
    topo = build_topology(groups, hostvars, entries)
    flows, unresolved, warnings = build_flows(entries, topo)
    # index once: each flow is inbound on its destination host and outbound on its source host
    flows_of = {name: [] for name in topo.hosts}
    for flow in flows:
        if flow["dst_host"]:
            flows_of[flow["dst_host"]].append(("inbound", flow))
        if flow["src_host"]:
            flows_of[flow["src_host"]].append(("outbound", flow))
    warnings_of, unresolved_of = {}, {}
    for host_name, message in warnings:
        warnings_of.setdefault(host_name, []).append(message)
    for item in unresolved:
        unresolved_of.setdefault(item["host"], []).append(item)
    policies = {}
    for host in topo.hosts.values():
        pieces = list(_deny_pieces(entries, host))
        # one piece per (direction, catalog entry, label): the union of its peers' addresses
        allowed = {}
        for direction, flow in flows_of[host.name]:
            if direction == "inbound":
                key, addresses = ("inbound", flow["protocol"], flow["catalog_id"], flow["label"]), flow["src_addresses"]
            else:
                # to a peer (inter-server mirror) or to an external endpoint
                label = flow["peer_label"] if flow["dst_host"] else flow["label"]
                key, addresses = ("outbound", flow["protocol"], flow["catalog_id"], label), flow["dst_addresses"]
            piece = allowed.setdefault(key, {"addresses": set(), "ports": flow["ports"]})
            piece["addresses"].update(addresses)
        for (direction, protocol, catalog_id, label), piece in allowed.items():
            addresses = tuple(sorted(piece["addresses"], key=_address_sort_key))
            pieces.append(("allow", direction, protocol, addresses, label, piece["ports"], catalog_id, ()))
        rules = _group_rules(pieces)
        management = management_access(host)
        _check_conflicts(host, rules, management)
        host_warnings = list(warnings_of.get(host.name, []))
        if management["addresses"] == ["any"]:
            host_warnings.append("management port %s is open to any address: set safeq_controller_address or"
                                 " safeq_management_networks" % host.management_port)
        policies[host.name] = {
            "host": host.name,
            "address": host.address,
            "platform": host.platform,
            "components": sorted(host.components),
            "features": sorted(host.features),
            "management": management,
            "rules": rules,
            "unresolved": unresolved_of.get(host.name, []),
            "expected_listeners": expected_listeners(entries, host)[0],
            "warnings": host_warnings,
        }
    return {"policies": policies, "flows": flow_matrix(flows), "unresolved": unresolved,
            "warnings": [message for host_name, message in warnings]}


__all__ = ["PolicyError", "TopologyError", "build_policies", "build_flows", "flow_matrix", "merge_ports",
           "format_ports", "resolve_ports", "management_access"]
