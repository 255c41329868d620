"""Policy core edge cases on small synthetic catalogs (no dependency on the real catalog content)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, validate_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import (
    PolicyError,
    build_policies,
    format_ports,
    merge_ports,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import TopologyError


def entry(eid, **kw):
    base = {
        "id": eid, "section": "inter_server", "direction": "inbound", "protocol": "tcp", "ports": [4099],
        "source": "cml", "destination": "cml", "components": ["cml"], "requirement": "mandatory",
        "condition": None, "bind": "any", "hardening": None, "settings": [], "description": "d",
        "references": ["s.txt"], "seed": {"required": "M", "type": "TCP", "port": "1", "communication": "c"},
    }
    base.update(kw)
    return base


CATALOG = [
    entry("is-cluster-4099", condition="cluster"),
    entry("is-ors-cml-6010", ports=[6010], source="ors"),
    entry("is-cml-crs-4139", ports=[4139], source="cml", destination="crs", components=["crs"],
          condition="central_reporting"),
    entry("is-roam-8000", ports=[8000], source="ors", destination="ors", components=["ors"], condition="job_roaming"),
    entry("is-near-7800", ports=[7800], source="ors", destination="ors", components=["ors"], condition="near_roaming"),
    entry("is-etcd-2380", ports=[2380], source="etcd", destination="etcd", components=["etcd"]),
    entry("is-ts-etcd-2379", ports=[2379], source="ts", destination="etcd", components=["etcd"], bind="localhost"),
    entry("ws-client-9100", section="workstation_to_server", ports=[9100], source="workstation",
          components=["cml", "ors"], condition="workstation_client", requirement="optional"),
    entry("ws-lpr-515", section="workstation_to_server", ports=[515], source="workstation",
          components=["cml", "ors"], condition="workstation_client", requirement="optional"),
    entry("prn-out-9100", section="server_to_printer", direction="outbound", ports=[9100], source="cml",
          destination="printer", components=["cml", "ors"]),
    entry("ws-jmx-19898", section="workstation_to_server", ports=[19898], source="localhost",
          requirement="recommended_localhost", bind="localhost", hardening="local_only",
          settings=[{"property": "cmlJmxServerPort", "location": "system_settings", "controls": "port",
                     "component": None},
                    {"property": "cmlJmxNetworkInterface", "location": "system_settings",
                     "controls": "interface", "component": None}]),
    entry("is-rmi-20222", ports=[20222], source="mps", hardening="self_only"),
    entry("is-rmi-20223", ports=[20223], source="mps", hardening="self_only"),
    entry("prn-in-ftp-passive", section="printer_to_server", source="printer", components=["cml", "ors"],
          condition="ftp_passive", requirement="optional",
          ports=[{"symbolic": "ftp_passive_ports", "setting": "ftpPassivePorts", "default_range": "1024-65535"}],
          settings=[{"property": "ftpPassivePorts", "location": "system_settings", "controls": "port",
                     "component": None}]),
    entry("oth-ldaps-636", section="other", direction="outbound", ports=[636], source="cml", destination="ldap",
          condition="ldap_sync"),
]


def inventory(**extra):
    groups = {"safeq_cml": ["cml1", "cml2", "cml3"], "safeq_ors": ["ors1", "ors2", "ors3"],
              "safeq_crs": ["crs1"], "safeq_etcd": ["cml1", "cml2"]}
    common = {"safeq_features": ["workstation_client", "central_reporting", "job_roaming"],
              "safeq_workstation_networks": ["10.1.0.0/16"], "safeq_printer_networks": ["10.2.0.0/16"],
              "safeq_management_networks": ["10.9.0.0/24"], "safeq_controller_address": "10.9.0.5"}
    hostvars = {}
    for i, host in enumerate(["cml1", "cml2", "cml3", "ors1", "ors2", "ors3", "crs1"]):
        hostvars[host] = dict(copy.deepcopy(common), ansible_host="10.0.0.%d" % (i + 11))
    for host, changes in extra.items():
        hostvars[host].update(changes)
    return groups, hostvars


def rule(policy, name):
    return next(r for r in policy["rules"] if r["name"] == name)


def test_ports_merge_and_format():
    assert merge_ports([(5, 5), (1, 3), (4, 4), (10, 12), (11, 20)]) == [(1, 5), (10, 20)]
    assert format_ports([(20222, 20222), (20223, 20225), (9000, 9000)]) == [9000, "20222-20225"]


def test_cluster_port_only_from_other_cml_nodes():
    plan = build_policies(CATALOG, *inventory())
    cml1 = plan["policies"]["cml1"]
    rules = [r for r in cml1["rules"] if 4099 in r["ports"] and r["action"] == "allow" and r["direction"] == "inbound"]
    assert len(rules) == 1
    assert rules[0]["addresses"] == ["10.0.0.12", "10.0.0.13"]
    assert "cluster" in cml1["features"]  # derived from a 3-node CML group


def test_ors_to_cml_6010_only_from_ors_and_mirrored_outbound():
    plan = build_policies(CATALOG, *inventory())
    inbound = [r for r in plan["policies"]["cml2"]["rules"] if 6010 in r["ports"]]
    assert [(r["direction"], r["addresses"]) for r in inbound] == [("inbound", ["10.0.0.14", "10.0.0.15", "10.0.0.16"])]
    out = [r for r in plan["policies"]["ors1"]["rules"] if r["direction"] == "outbound" and 6010 in r["ports"]]
    assert out[0]["addresses"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert out[0]["peers"] == ["safeq_cml"]


def test_rules_grouped_by_address_set():
    plan = build_policies(CATALOG, *inventory())
    ws = [r for r in plan["policies"]["cml1"]["rules"] if r["addresses"] == ["10.1.0.0/16"]]
    assert len(ws) == 1 and ws[0]["ports"] == [515, 9100]
    assert ws[0]["catalog_ids"] == ["ws-client-9100", "ws-lpr-515"]


def test_denies_for_jmx_and_rmi():
    cml1 = build_policies(CATALOG, *inventory())["policies"]["cml1"]
    assert rule(cml1, "deny-in-tcp-not-self")["ports"] == ["20222-20223"]
    assert rule(cml1, "deny-in-tcp-not-self")["except"] == ["loopback", "self"]
    assert rule(cml1, "deny-in-tcp-remote")["ports"] == [19898]
    assert cml1["rules"][0]["action"] == "deny"
    # ORS has no RMI/JMX entries in this catalog
    assert not [r for r in build_policies(CATALOG, *inventory())["policies"]["ors1"]["rules"] if r["action"] == "deny"]


def test_override_follows_jmx_port():
    groups, hostvars = inventory(cml1={"safeq_port_overrides": {"cmlJmxServerPort": 19899}})
    plan = build_policies(CATALOG, groups, hostvars)
    assert rule(plan["policies"]["cml1"], "deny-in-tcp-remote")["ports"] == [19899]
    assert rule(plan["policies"]["cml2"], "deny-in-tcp-remote")["ports"] == [19898]


def test_symbolic_port_unresolved_until_overridden():
    groups, hostvars = inventory()
    hostvars["cml1"]["safeq_features"] = ["ftp_passive"]
    plan = build_policies(CATALOG, groups, hostvars)
    assert plan["policies"]["cml1"]["unresolved"][0]["setting"] == "ftpPassivePorts"
    hostvars["cml1"]["safeq_port_overrides"] = {"ftpPassivePorts": "50000-50100"}
    plan = build_policies(CATALOG, groups, hostvars)
    assert plan["policies"]["cml1"]["unresolved"] == []
    assert any("50000-50100" in r["ports"] for r in plan["policies"]["cml1"]["rules"])


def test_condition_needs_feature_on_both_ends():
    groups, hostvars = inventory()
    hostvars["ors3"]["safeq_features"] = []
    plan = build_policies(CATALOG, groups, hostvars)
    roam = [r for r in plan["policies"]["ors1"]["rules"] if 8000 in r["ports"] and r["direction"] == "inbound"]
    assert roam[0]["addresses"] == ["10.0.0.15"]
    assert not [r for r in plan["policies"]["ors3"]["rules"] if 8000 in r["ports"]]


def test_near_roaming_peers_stay_in_their_group():
    groups, hostvars = inventory()
    for host, group in (("ors1", "a"), ("ors2", "a"), ("ors3", "b")):
        hostvars[host]["safeq_features"] = ["near_roaming"]
        hostvars[host]["safeq_near_roaming_group"] = group
    plan = build_policies(CATALOG, groups, hostvars)
    near = [r for r in plan["policies"]["ors1"]["rules"] if 7800 in r["ports"] and r["direction"] == "inbound"]
    assert near[0]["addresses"] == ["10.0.0.15"] and near[0]["peers"] == ["safeq_ors_near_roaming_a"]
    assert not [r for r in plan["policies"]["ors3"]["rules"] if 7800 in r["ports"]]


def test_etcd_peers_and_local_ts():
    plan = build_policies(CATALOG, *inventory())
    etcd = [r for r in plan["policies"]["cml1"]["rules"] if 2380 in r["ports"] and r["direction"] == "inbound"]
    assert etcd[0]["addresses"] == ["10.0.0.12"]
    assert not [r for r in plan["policies"]["cml1"]["rules"] if 2379 in r["ports"]]  # loopback only


def test_management_always_present():
    plan = build_policies(CATALOG, *inventory())
    assert plan["policies"]["crs1"]["management"] == {
        "protocol": "tcp", "ports": [22], "addresses": ["10.9.0.0/24", "10.9.0.5"]}
    groups, hostvars = inventory(crs1={"ansible_connection": "winrm", "safeq_management_networks": [],
                                       "safeq_controller_address": None})
    policy = build_policies(CATALOG, groups, hostvars)["policies"]["crs1"]
    assert policy["management"]["ports"] == [5986] and policy["management"]["addresses"] == ["any"]
    assert any("open to any address" in w for w in policy["warnings"])


def test_management_port_cannot_be_a_denied_port():
    groups, hostvars = inventory(cml1={"safeq_management_port": 19898})
    with pytest.raises(PolicyError, match="management port"):
        build_policies(CATALOG, groups, hostvars)


def test_override_onto_denied_port_is_refused():
    groups, hostvars = inventory(cml1={"safeq_port_overrides": {"cmlJmxServerPort": 4099}})
    with pytest.raises(PolicyError, match="collide"):
        build_policies(CATALOG, groups, hostvars)


def test_empty_network_warns_and_creates_no_rule():
    groups, hostvars = inventory()
    hostvars["ors1"]["safeq_workstation_networks"] = []
    plan = build_policies(CATALOG, groups, hostvars)
    assert any("safeq_workstation_networks" in w for w in plan["policies"]["ors1"]["warnings"])


@pytest.mark.parametrize("host,change,message", [
    ("cml1", {"safeq_features": ["teleport"]}, r"hostvars\[cml1\]\.safeq_features: unknown feature 'teleport'"),
    ("cml1", {"safeq_features": "cluster"}, r"hostvars\[cml1\]\.safeq_features: must be a list"),
    ("cml2", {"safeq_port_overrides": {"noSuchPort": 1}}, r"hostvars\[cml2\]\.safeq_port_overrides: unknown property 'noSuchPort'"),
    ("cml2", {"safeq_port_overrides": {"cmlJmxNetworkInterface": 1}}, r"does not set a port"),
    ("cml2", {"safeq_port_overrides": {"cmlJmxServerPort": 70000}}, r"cmlJmxServerPort: port 70000 is outside 1-65535"),
    ("cml2", {"safeq_port_overrides": {"cmlJmxServerPort": 0}}, r"outside 1-65535"),
    ("ors1", {"ansible_host": "ors1.example.com"}, r"hostvars\[ors1\]\.safeq_address: host has no IPv4 address"),
    ("ors1", {"safeq_address": "not-an-ip"}, r"safeq_address: 'not-an-ip' is not an IPv4 address"),
    ("ors1", {"safeq_printer_networks": ["10.2.0.0/33"]}, r"safeq_printer_networks: '10.2.0.0/33' is not"),
    ("ors1", {"safeq_printer_networks": ["fd00::/64"]}, r"IPv6"),
    ("ors1", {"safeq_components": ["fax"]}, r"safeq_components: unknown component 'fax'"),
    ("crs1", {"ansible_host": "10.0.0.11"}, r"address 10.0.0.11 is also used by cml1"),
    ("crs1", {"safeq_management_port": "ssh"}, r"safeq_management_port: 'ssh' is not a port"),
])
def test_bad_input_names_field_and_value(host, change, message):
    groups, hostvars = inventory(**{host: change})
    with pytest.raises(TopologyError, match=message):
        build_policies(CATALOG, groups, hostvars)


def test_terminal_cluster_limits():
    groups = {"safeq_cml": ["c%d" % i for i in range(6)]}
    hostvars = {h: {"ansible_host": "10.3.0.%d" % (i + 1), "safeq_features": ["terminal_ultralight"]}
                for i, h in enumerate(groups["safeq_cml"])}
    cat = CATALOG + [entry("tul", condition="terminal_ultralight", ports=[4095])]
    with pytest.raises(TopologyError, match="6 CML nodes exceed the terminal_ultralight limit of 5"):
        build_policies(cat, groups, hostvars)
    groups["safeq_cml"] = groups["safeq_cml"][:5]
    build_policies(cat, groups, hostvars)


def test_near_roaming_group_limit():
    names = ["o%d" % i for i in range(11)]
    hostvars = {h: {"ansible_host": "10.4.0.%d" % (i + 1), "safeq_features": ["near_roaming"],
                    "safeq_near_roaming_group": "site"} for i, h in enumerate(names)}
    with pytest.raises(TopologyError, match="11 ORS exceed the limit of 10"):
        build_policies(CATALOG, {"safeq_ors": names}, hostvars)


def test_catalog_schema_rejects_bad_entries():
    good = {"schema_version": 1, "seeds": {"s.txt": "t"}, "entries": [entry("a")]}
    validate_catalog(good)
    for change, message in [
        ({"protocol": "sctp"}, r"entries\[0\]\(a\)\.protocol: 'sctp' is not one of"),
        ({"ports": [0]}, r"ports\[0\]: port 0 is outside"),
        ({"ports": ["10-5"]}, r"runs backwards"),
        ({"components": ["fax"]}, r"components: 'fax'"),
        ({"references": ["other.txt"]}, r"not in catalog.seeds"),
        ({"extra": 1}, r"unknown field"),
    ]:
        bad = copy.deepcopy(good)
        bad["entries"][0].update(change)
        with pytest.raises(CatalogError, match=message):
            validate_catalog(bad)
    dup = copy.deepcopy(good)
    dup["entries"].append(entry("a"))
    with pytest.raises(CatalogError, match="duplicate id"):
        validate_catalog(dup)
