# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy core on synthetic topologies with the real catalog: each vendor row reaches exactly the hosts that need it."""

from __future__ import annotations

import pytest
from inventory_builder import Inventory, covers, flows_of, inbound, outbound, standard

from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import PolicyError, format_ports, merge_ports
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import TopologyError

CML = ["10.0.1.11", "10.0.1.12/31"]  # 10.0.1.11-13 collapsed exactly


def test_ports_merge_and_format():
    assert merge_ports([(5, 5), (1, 3), (4, 4), (10, 12), (11, 20)]) == [(1, 5), (10, 20)]
    assert format_ports([(20222, 20222), (20223, 20225), (9000, 9000)]) == [9000, "20222-20225"]


def test_cluster_ports_only_between_the_cml_nodes_and_mirrored():
    plan = standard().plan()
    cml1 = plan["policies"]["cml1"]
    for port in (4099, 4111, 443):
        assert ("allow", CML) in inbound(cml1, port), port
    assert inbound(cml1, 4111) == [("allow", CML)]
    assert ("allow", CML) in outbound(cml1, 4111)
    assert "cluster" in cml1["features"]  # derived from three CML nodes
    assert inbound(plan["policies"]["ors1"], 4111) == []


def test_single_cml_has_no_cluster_ports():
    inv = Inventory(safeq_features=["workstation_client"])
    inv.add("cml1", ["cml"], "10.0.1.11").add("ors1", ["ors"], "10.0.2.21")
    plan = inv.plan()
    assert "cluster" not in plan["policies"]["cml1"]["features"]
    assert inbound(plan["policies"]["cml1"], 4111) == []
    assert inbound(plan["policies"]["cml1"], 6010) == [("allow", ["10.0.2.21"])]


def test_ors_to_cml_6010_and_mirror():
    plan = standard().plan()
    assert inbound(plan["policies"]["cml2"], 6010) == [("allow", ["10.0.2.21", "10.0.2.22/31"])]
    assert outbound(plan["policies"]["ors1"], 6010) == [("allow", CML)]


# ---- defect 1: a row can name several features (any-of) -----------------------------------------

@pytest.mark.parametrize("feature", ["embedded_xerox", "embedded_toshiba"])
def test_internal_ldap_389_for_xerox_and_toshiba(feature):
    inv = standard(features=[feature])
    plan = inv.plan()
    assert ("allow", ["10.101.0.0/16"]) in inbound(plan["policies"]["ors1"], 389)


@pytest.mark.parametrize("feature", ["embedded_sqta", "embedded_browser"])
def test_terminal_application_5021_5022_for_sqta_and_browser(feature):
    plan = standard(features=[feature]).plan()
    for port in (5021, 5022):
        assert ("allow", ["10.101.0.0/16"]) in inbound(plan["policies"]["cml1"], port)


def test_embedded_remote_configuration_for_km_xerox_sharp_not_hp():
    for feature in ("embedded_km", "embedded_xerox", "embedded_sharp"):
        plan = standard(features=[feature]).plan()
        assert outbound(plan["policies"]["ors1"], 50001), feature
    plan = standard(features=["embedded_hp"]).plan()
    assert not outbound(plan["policies"]["ors1"], 50001)
    assert outbound(plan["policies"]["ors1"], 161, "udp")  # embedded_hp implies embedded_terminal (install check)


def test_terminal_ultralight_opens_4096_and_has_its_limit():
    plan = standard(features=["terminal_ultralight"]).plan()
    assert ("allow", ["10.101.0.0/16"]) in inbound(plan["policies"]["cml1"], 4096)


def test_embedded_ldap_port_can_be_moved_to_390():
    inv = standard(features=["embedded_toshiba"])
    inv.set("ors1", safeq_port_overrides={"embeddedLdapPort": 390})
    plan = inv.plan()
    assert ("allow", ["10.101.0.0/16"]) in inbound(plan["policies"]["ors1"], 390)
    assert not inbound(plan["policies"]["ors1"], 389)
    assert inbound(plan["policies"]["ors2"], 389)


def test_ap_connector_ipps_port_can_be_moved():
    inv = standard()
    inv.set("apc1", safeq_port_overrides={"apConnectorIppsPort": 8051})
    policy = inv.plan()["policies"]["apc1"]
    assert inbound(policy, 8051) == [("allow", ["10.100.0.0/16"])]
    assert inbound(policy, 8050) == []


# ---- defect 2: a feature set on one side of an inter-server flow ---------------------------------

def test_central_reporting_on_cml_group_only_opens_4139_on_the_crs():
    inv = standard(features=["workstation_client"])
    for host in ("cml1", "cml2", "cml3"):
        inv.set(host, safeq_features=["workstation_client", "central_reporting"])
    plan = inv.plan()
    assert inbound(plan["policies"]["crs1"], 4139) == [("allow", CML)]
    assert outbound(plan["policies"]["cml1"], 4139) == [("allow", ["10.0.3.31"])]
    assert ("allow", ["10.100.0.0/16"]) in inbound(plan["policies"]["crs1"], 2382)


def test_central_reporting_without_a_crs_warns_with_feature_and_missing_peer():
    inv = Inventory(safeq_features=["central_reporting"])
    inv.add("cml1", ["cml"], "10.0.1.11")
    plan = inv.plan()
    messages = [w["message"] for w in plan["warnings"]]
    assert any("central_reporting" in m and "no crs host" in m and "is-reporting-4139" in m for m in messages), messages


def test_near_roaming_without_group_is_an_error_naming_the_host():
    inv = standard()
    inv.set("ors1", safeq_features=["near_roaming"])
    with pytest.raises(TopologyError, match=r"hostvars\[ors1\]\.safeq_near_roaming_group"):
        inv.plan()


def test_near_roaming_peers_stay_in_their_group():
    inv = standard()
    for host, group in (("ors1", "a"), ("ors2", "a"), ("ors3", "b")):
        inv.set(host, safeq_near_roaming_group=group, safeq_port_overrides={"nearRoamingMulticastPort": 45588})
    plan = inv.plan()
    assert inbound(plan["policies"]["ors1"], 7800) == [("allow", ["10.0.2.21", "10.0.2.22"])]
    assert inbound(plan["policies"]["ors3"], 7800) == []  # alone in group b


# ---- defect 3: overrides per component setting ----------------------------------------------

def test_override_of_one_components_port_keeps_the_others():
    inv = standard()
    inv.groups["safeq_crs"].append("ors1")
    inv.set("ors1", safeq_port_overrides={"orsJmxServerPort": 9899})
    policy = inv.plan()["policies"]["ors1"]
    deny = [r for r in policy["rules"] if r["action"] == "deny" and r["name"] == "deny-in-tcp-remote"][0]
    assert covers(deny["ports"], 9899) and covers(deny["ports"], 9898)
    listeners = [e for e in policy["expected_listeners"] if e["catalog_id"] == "ws-jmx-ors-crs-9898"][0]
    assert listeners["ports"] == ["9898-9899"] and listeners["bind"] == "localhost"


def test_jmx_override_follows_the_host_only():
    inv = standard()
    inv.set("cml1", safeq_port_overrides={"cmlJmxServerPort": 19899})
    plan = inv.plan()
    assert inbound(plan["policies"]["cml1"], 19899) == [("deny", ["any"])]
    assert inbound(plan["policies"]["cml1"], 19898) == []
    assert inbound(plan["policies"]["cml2"], 19898) == [("deny", ["any"])]


# ---- defect 4: clusters have an identity ------------------------------------------------------

def test_two_cml_installations_stay_apart():
    inv = Inventory(safeq_features=["job_roaming"])
    for site, base in (("prague", 1), ("vienna", 2)):
        for i in range(2):
            inv.add("cml-%s-%d" % (site, i), ["cml", "etcd"], "10.%d.1.%d" % (base, 11 + i), safeq_cml_cluster=site)
        inv.add("ors-%s" % site, ["ors"], "10.%d.2.21" % base, safeq_cml_cluster=site)
    plan = inv.plan()
    prague = plan["policies"]["cml-prague-0"]
    assert inbound(prague, 4111) == [("allow", ["10.1.1.11", "10.1.1.12"])]
    assert inbound(prague, 6010) == [("allow", ["10.1.2.21"])]
    assert inbound(prague, 2380) == [("allow", ["10.1.1.11", "10.1.1.12"])]
    assert outbound(plan["policies"]["ors-vienna"], 6010) == [("allow", ["10.2.1.11", "10.2.1.12"])]


def test_cml_etcd_and_near_roaming_ors_etcd_are_separate_clusters():
    inv = standard()
    for host in ("ors1", "ors2"):
        inv.groups["safeq_etcd"].append(host)
        inv.set(host, safeq_near_roaming_group="brno", safeq_port_overrides={"nearRoamingMulticastPort": 45588})
    plan = inv.plan()
    assert inbound(plan["policies"]["cml1"], 2380) == [("allow", CML)]
    assert inbound(plan["policies"]["ors1"], 2380) == [("allow", ["10.0.2.21", "10.0.2.22"])]
    view = plan["topology_view"]["etcd_clusters"]
    assert view == {"default-cml": ["cml1", "cml2", "cml3"], "default-brno": ["ors1", "ors2"]}


def test_an_ors_of_a_cluster_without_cml_warns():
    inv = standard()
    inv.set("ors3", safeq_cml_cluster="elsewhere")
    plan = inv.plan()
    assert any("'elsewhere' has no CML host" in w["message"] for w in plan["warnings"])
    assert outbound(plan["policies"]["ors3"], 6010) == []


# ---- defect 5: every applicable row reaches the flow matrix -------------------------------------

def test_payment_machine_rows_listed_not_enforced():
    inv = standard(features=["payment_system"], safeq_payment_servers=["10.9.0.60"],
                   safeq_payment_machine_networks=["10.102.0.0/24"])
    plan = inv.plan()
    names = {4196: "mgmt-4196", 4197: "mgmt-ssl-4197", 4198: "main-4198", 4199: "main-ssl-4199"}
    for port in (4196, 4197, 4198, 4199):
        rows = flows_of(plan, "oth-payment-%s" % names[port])
        assert len(rows) == 1 and rows[0]["enforced"] is False and rows[0]["ports"] == [port]
        assert rows[0]["source"]["addresses"] == ["10.102.0.0/24"] and rows[0]["destination"]["addresses"] == ["10.9.0.60"]


def test_unresolved_sql_port_is_in_the_flow_matrix():
    plan = standard().plan()
    rows = flows_of(plan, "oth-sql-dynamic")
    assert rows and all(r["unresolved"] and r["ports"] == [] and not r["enforced"] for r in rows)
    assert {u["setting"] for u in plan["policies"]["cml1"]["unresolved"]} == {"databaseTcpPort"}


def test_denied_and_local_rows_are_listed():
    plan = standard().plan()
    assert all(f["action"] == "deny" for f in flows_of(plan, "ws-jmx-cml-19898"))
    assert all(f["action"] == "local" for f in flows_of(plan, "is-etcd-client-2379"))


# ---- defect 6: multicast and broadcast ----------------------------------------------------------

def test_near_roaming_multicast_in_and_out():
    inv = standard()
    for host in ("ors1", "ors2"):
        inv.set(host, safeq_near_roaming_group="brno", safeq_port_overrides={"nearRoamingMulticastPort": 45588})
    plan = inv.plan()
    rule = [r for r in plan["policies"]["ors1"]["rules"] if r["protocol"] == "udp" and covers(r["ports"], 45588)
            and r["direction"] == "inbound"][0]
    assert rule["addresses"] == ["10.0.2.21", "10.0.2.22"] and rule["local_addresses"] == ["224.0.0.0/4"]
    assert outbound(plan["policies"]["ors1"], 45588, "udp") == [("allow", ["224.0.0.0/4"])]
    assert all(f["cast"] == "multicast" for f in flows_of(plan, "is-near-roaming-multicast"))


def test_bonjour_queries_come_in_on_the_ap_connector():
    policy = standard().plan()["policies"]["apc1"]
    assert outbound(policy, 5353, "udp") == [("allow", ["224.0.0.251"])]
    assert inbound(policy, 5353, "udp") == [("allow", ["10.100.0.0/16"])]


def test_terminal_discovery_broadcast_gets_replies_back():
    plan = standard(features=["terminal_discovery"]).plan()
    policy = plan["policies"]["cml1"]
    assert outbound(policy, 64099, "udp") == [("allow", ["10.101.0.0/16", "255.255.255.255"])]
    replies = [r for r in policy["rules"] if r.get("remote_ports") == [64099]]
    assert len(replies) == 1 and replies[0]["direction"] == "inbound"
    assert replies[0]["addresses"] == ["10.101.0.0/16"] and replies[0]["ports"] == ["1024-65535"]
    assert all(f["cast"] == "broadcast" for f in flows_of(plan, "prn-out-tp-discovery-64099"))


# ---- defect 10: listeners judged by what the page binds to localhost ----------------------------

def test_expected_listeners_bind_and_exposure():
    plan = standard().plan()
    expected = {e["catalog_id"]: e for e in plan["policies"]["cml1"]["expected_listeners"]}
    assert expected["ws-jmx-cml-19898"]["bind"] == "localhost" and expected["ws-jmx-cml-19898"]["exposure"] == "fail"
    assert expected["is-etcd-client-2379"]["bind"] == "localhost"
    assert expected["is-rmi-20222"]["exposure"] == "warn"
    assert expected["ws-tomcat-shutdown-8005"]["exposure"] == "warn"
    # 5556: the AP Connector uses it from the network, so it is expected on any address
    assert expected["is-ts-server-5556"]["bind"] == "any"


def test_5556_is_localhost_without_an_ap_connector():
    inv = Inventory()
    inv.add("cml1", ["cml"], "10.0.1.11")
    expected = {e["catalog_id"]: e for e in inv.plan()["policies"]["cml1"]["expected_listeners"]}
    assert expected["is-ts-server-5556"]["bind"] == "localhost"


# ---- management guard and protected ports --------------------------------------------------

def test_management_addresses_collapse_controller_inside_network():
    policy = standard().plan()["policies"]["cml1"]
    assert policy["management"] == {"protocol": "tcp", "ports": [22], "addresses": ["10.250.0.0/24"]}


def test_override_that_opens_winrm_to_printers_fails():
    inv = standard(features=["terminal_professional"])
    inv.set("cml1", safeq_port_overrides={"preview-provider-port": 22})
    with pytest.raises(PolicyError, match=r"hostvars\[cml1\]\.safeq_port_overrides\.preview-provider-port=22.*management port 22"):
        inv.plan()


def test_override_range_over_system_ports_fails():
    inv = standard(features=["ftp_passive"])
    inv.set("ors1", safeq_port_overrides={"ftpPassivePorts": "1-8004"})
    with pytest.raises(PolicyError) as info:
        inv.plan()
    assert "ftpPassivePorts=1-8004" in str(info.value) and "3389 (Remote Desktop)" in str(info.value)


def test_jmx_override_onto_the_management_port_names_the_property():
    inv = standard()
    inv.set("cml2", safeq_port_overrides={"cmlJmxServerPort": 22})
    with pytest.raises(PolicyError, match=r"hostvars\[cml2\]\.safeq_port_overrides\.cmlJmxServerPort=22"):
        inv.plan()


def test_rule_counts_stay_small_and_names_unique(example_plan):
    for host, policy in example_plan["policies"].items():
        names = [r["name"] for r in policy["rules"]]
        assert len(names) == len(set(names)) and len(names) <= 25, host
