# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small synthetic inventories (groups + hostvars) for policy tests, with the real catalog."""

from __future__ import annotations

import copy

COMMON = {
    "safeq_workstation_networks": ["10.100.0.0/16"],
    "safeq_printer_networks": ["10.101.0.0/16"],
    "safeq_ldap_servers": ["10.9.0.10"],
    "safeq_database_servers": ["10.9.0.50"],
    "safeq_smtp_servers": ["10.9.0.25"],
    "safeq_management_networks": ["10.250.0.0/24"],
    "safeq_controller_address": "10.250.0.5",
    "ansible_connection": "ssh",
}


class Inventory:
    """groups/hostvars under construction: add(host, groups, address, **vars)."""

    def __init__(self, **common):
        self.groups = {}
        self.hostvars = {}
        self.common = dict(copy.deepcopy(COMMON), **common)

    def add(self, host, groups, address, **variables):
        for group in groups:
            self.groups.setdefault("safeq_" + group, []).append(host)
        self.hostvars[host] = dict(copy.deepcopy(self.common), ansible_host=address, **variables)
        return self

    def set(self, host, **variables):
        self.hostvars[host].update(variables)
        return self

    def plan(self):
        from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

        return compute_plan(self.groups, self.hostvars)


def standard(**common):
    """3 CML (+etcd), 3 ORS, 1 CRS, 1 AP Connector in cluster 'default'."""
    inv = Inventory(safeq_features=common.pop("features", ["workstation_client", "job_roaming"]), **common)
    for i in range(3):
        inv.add("cml%d" % (i + 1), ["cml", "etcd"], "10.0.1.%d" % (11 + i))
    for i in range(3):
        inv.add("ors%d" % (i + 1), ["ors"], "10.0.2.%d" % (21 + i))
    inv.add("crs1", ["crs"], "10.0.3.31")
    inv.add("apc1", ["ap_connector"], "10.0.4.41")
    return inv


def covers(ports, port):
    for item in ports:
        low, _sep, high = str(item).partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def inbound(policy, port, protocol="tcp"):
    """[(action, addresses)] of the host's inbound rules that cover the port."""
    return [(r["action"], r["addresses"]) for r in policy["rules"]
            if r["direction"] == "inbound" and r["protocol"] == protocol and covers(r["ports"], port)]


def outbound(policy, port, protocol="tcp"):
    return [(r["action"], r["addresses"]) for r in policy["rules"]
            if r["direction"] == "outbound" and r["protocol"] == protocol and covers(r["ports"], port)]


def flows_of(plan, catalog_id):
    return [f for f in plan["flows"] if catalog_id in f["catalog_ids"]]
