# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""render_windows: Policy object -> community.windows.win_firewall_rule arguments, and the Windows filters."""

from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.filter.windows_component_mismatch import windows_component_mismatch
from ansible_collections.safeq.hardening.plugins.filter.windows_firewall_rules import windows_firewall_rules
from ansible_collections.safeq.hardening.plugins.filter.jmx_settings import jmx_settings
from ansible_collections.safeq.hardening.plugins.plugin_utils.jmx import jmx_interface_settings
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DESCRIPTION_MAX,
    MAX_RULES_PER_HOST,
    WindowsRenderError,
    component_mismatches,
    firewall_rule_args,
)

# A CML + etcd node as the policy core emits it (docs/design.md "Policy object").
POLICY = {
    "host": "cml1",
    "address": "10.10.1.11",
    "platform": "windows",
    "components": ["cml", "etcd"],
    "features": ["cluster", "workstation_client"],
    "management": {"protocol": "tcp", "ports": [5986], "addresses": ["10.10.0.0/24", "10.10.0.5"]},
    "rules": [
        {"name": "deny-in-tcp-not-self", "action": "deny", "direction": "inbound", "protocol": "tcp",
         "ports": ["20222-20225"], "addresses": ["any"], "peers": ["not-self"],
         "catalog_ids": ["is-rmi-20222", "is-rmi-20223", "is-rmi-20224", "is-rmi-20225"],
         "except": ["loopback", "self"]},
        {"name": "deny-in-tcp-remote", "action": "deny", "direction": "inbound", "protocol": "tcp",
         "ports": [8005, 9000, "9002", 19898], "addresses": ["any"], "peers": ["remote"],
         "catalog_ids": ["ws-jmx-cml-19898", "ws-jmx-rmi-9000", "ws-tomcat-shutdown-8005"],
         "except": ["loopback"]},
        {"name": "allow-in-tcp-safeq_cml", "action": "allow", "direction": "inbound", "protocol": "tcp",
         "ports": [443, 4099, 4111, 6020], "addresses": ["10.10.1.12", "10.10.1.13"],
         "peers": ["safeq_cml"], "catalog_ids": ["is-cluster-sync-4099"]},
        {"name": "allow-in-tcp-workstation_networks", "action": "allow", "direction": "inbound", "protocol": "tcp",
         "ports": [80, 443, "4096-4099", 9100], "addresses": ["10.110.0.0/16"], "peers": ["workstation_networks"],
         "catalog_ids": ["ws-admin-web", "ws-client-9100"]},
        {"name": "allow-out-udp-database_servers", "action": "allow", "direction": "outbound", "protocol": "udp",
         "ports": [1434], "addresses": ["10.10.2.50"], "peers": ["database_servers"],
         "catalog_ids": ["oth-sql-browser-1434"]},
        {"name": "allow-out-tcp-smtp_servers", "action": "allow", "direction": "outbound", "protocol": "tcp",
         "ports": [25], "addresses": [], "peers": ["smtp_servers"], "catalog_ids": ["oth-smtp-25"]},
    ],
    "unresolved": [],
    "warnings": [],
}


def policy(**changes):
    result = copy.deepcopy(POLICY)
    result.update(changes)
    return result


def with_rule(index, **changes):
    result = policy()
    result["rules"][index].update(changes)
    return result


# ---- firewall_rule_args ------------------------------------------------------------------------

def test_rules_in_policy_order_after_the_management_rule():
    rules = firewall_rule_args(POLICY)
    assert [r["name"] for r in rules] == [
        "SafeQ Hardening - management-in-tcp",
        "SafeQ Hardening - deny-in-tcp-not-self",
        "SafeQ Hardening - deny-in-tcp-remote",
        "SafeQ Hardening - allow-in-tcp-safeq_cml",
        "SafeQ Hardening - allow-in-tcp-workstation_networks",
        "SafeQ Hardening - allow-out-udp-database_servers",
    ]  # the smtp rule has no address: it matches nothing and is left out
    assert len(rules) <= MAX_RULES_PER_HOST


def test_management_rule():
    mgmt = firewall_rule_args(POLICY)[0]
    assert mgmt == {
        "name": "SafeQ Hardening - management-in-tcp", "group": "SafeQ Hardening",
        "description": "safeq.hardening: allow in tcp management (Ansible WinRM) 5986",
        "direction": "in", "action": "allow", "protocol": "tcp", "localport": "5986", "remoteport": "any",
        "localip": "any", "remoteip": "10.10.0.0/24,10.10.0.5", "program": "any", "service": "any",
        "profiles": ["domain", "private", "public"], "enabled": True, "state": "present",
    }


def test_management_open_to_any_and_port_ranges():
    mgmt = firewall_rule_args(policy(management={"protocol": "tcp", "ports": ["5985-5986"],
                                                 "addresses": ["any"]}))[0]
    assert mgmt["localport"] == "5985-5986" and mgmt["remoteip"] == "any"


def test_deny_becomes_block_from_any_remote_address():
    rules = {r["name"]: r for r in firewall_rule_args(POLICY)}
    remote = rules["SafeQ Hardening - deny-in-tcp-remote"]
    assert remote["action"] == "block" and remote["direction"] == "in"
    assert remote["localport"] == "8005,9000,9002,19898" and remote["remoteport"] == "any"
    assert remote["remoteip"] == "any"
    assert "Windows Firewall does not filter" in remote["description"]
    assert "ws-jmx-cml-19898" in remote["description"]
    rmi = rules["SafeQ Hardening - deny-in-tcp-not-self"]
    assert rmi["localport"] == "20222-20225" and rmi["remoteip"] == "any" and rmi["action"] == "block"


def test_inbound_and_outbound_port_fields():
    rules = {r["name"]: r for r in firewall_rule_args(POLICY)}
    inbound = rules["SafeQ Hardening - allow-in-tcp-workstation_networks"]
    assert (inbound["localport"], inbound["remoteport"]) == ("80,443,4096-4099,9100", "any")
    assert inbound["remoteip"] == "10.110.0.0/16" and inbound["action"] == "allow"
    outbound = rules["SafeQ Hardening - allow-out-udp-database_servers"]
    assert (outbound["direction"], outbound["localport"], outbound["remoteport"]) == ("out", "any", "1434")
    assert outbound["protocol"] == "udp" and outbound["remoteip"] == "10.10.2.50"


def test_prefix_group_profiles():
    rules = firewall_rule_args(POLICY, prefix="ACME SafeQ", group="ACME", profiles=["public", "domain"])
    assert all(r["name"].startswith("ACME SafeQ - ") and r["group"] == "ACME" for r in rules)
    assert all(r["profiles"] == ["domain", "public"] for r in rules)


def test_state_absent_names_the_same_rules_management_last():
    present = firewall_rule_args(POLICY)
    absent = firewall_rule_args(POLICY, state="absent")
    assert absent == [{"name": r["name"], "state": "absent"} for r in present[1:] + present[:1]]
    assert absent[-1]["name"] == "SafeQ Hardening - management-in-tcp"


def test_output_is_deterministic():
    assert firewall_rule_args(copy.deepcopy(POLICY)) == firewall_rule_args(POLICY)


@pytest.mark.parametrize("changed,field", [
    (with_rule(1, ports=[5986]), "rules[1](deny-in-tcp-remote).ports"),
    (with_rule(1, ports=["5980-5990"]), "rules[1](deny-in-tcp-remote).ports"),
    (with_rule(1, ports=["any"]), "rules[1](deny-in-tcp-remote).ports"),
])
def test_block_rule_never_covers_the_management_port(changed, field):
    with pytest.raises(WindowsRenderError, match="management port") as err:
        firewall_rule_args(changed)
    assert field in str(err.value) and "management.ports" in str(err.value)


def test_deny_on_the_management_port_is_fine_for_another_protocol_or_direction():
    assert firewall_rule_args(with_rule(1, ports=[5986], protocol="udp"))
    assert firewall_rule_args(with_rule(1, ports=[5986], direction="outbound", **{"except": []}))


@pytest.mark.parametrize("changed,match", [
    (with_rule(1, **{"except": ["loopback", "10.0.0.0/8"]}), r"rules\[1\]\(deny-in-tcp-remote\)\.except"),
    (with_rule(2, **{"except": ["loopback"]}), r"rules\[2\]\(allow-in-tcp-safeq_cml\)\.except"),
    (with_rule(2, ports=[70000]), r"rules\[2\]\(allow-in-tcp-safeq_cml\)\.ports\[0\]: '70000' is outside"),
    (with_rule(2, ports=["9-1"]), r"\.ports\[0\]: range '9-1' runs backwards"),
    (with_rule(2, ports=[]), r"\.ports: must be a non-empty list"),
    (with_rule(2, ports=["RPC"]), r"\.ports\[0\]"),
    (with_rule(2, ports=[True]), r"\.ports\[0\]"),
    (with_rule(2, addresses=["10.0.0.0/33"]), r"\.addresses\[0\]"),
    (with_rule(2, addresses=["any", "10.0.0.1"]), r"\.addresses: 'any' must be the only item"),
    (with_rule(2, action="reject"), r"\.action: 'reject'"),
    (with_rule(2, direction="both"), r"\.direction"),
    (with_rule(2, protocol="icmp"), r"\.protocol"),
    (with_rule(2, name="allow|everything"), r"contains '\|'"),
    (with_rule(3, name="ALLOW-IN-TCP-SAFEQ_CML"), r"case-insensitively"),
    (with_rule(2, name="management-in-tcp"), r"case-insensitively"),
    (policy(management={"protocol": "tcp", "ports": [5986], "addresses": []}), r"management\.addresses: empty"),
    (policy(management={"protocol": "tcp", "ports": ["any"], "addresses": ["any"]}), r"management\.ports"),
    (policy(management=None), r"\.management: missing"),
    (policy(rules=None), r"\.rules: must be a list"),
])
def test_errors_name_the_field(changed, match):
    with pytest.raises(WindowsRenderError, match=match):
        firewall_rule_args(changed)


@pytest.mark.parametrize("kwargs,match", [
    ({"state": "gone"}, "state"),
    ({"profiles": ["home"]}, "profiles"),
    ({"profiles": []}, "profiles"),
    ({"prefix": "a|b"}, "prefix"),
    ({"prefix": " padded "}, "prefix"),
    ({"group": ""}, "group"),
])
def test_option_errors(kwargs, match):
    with pytest.raises(WindowsRenderError, match=match):
        firewall_rule_args(POLICY, **kwargs)


def test_description_is_truncated_with_a_count():
    many = ["catalog-entry-%03d" % i for i in range(80)]
    rules = firewall_rule_args(with_rule(2, catalog_ids=many))
    description = rules[3]["description"]
    assert len(description) <= DESCRIPTION_MAX
    assert description.startswith("safeq.hardening: allow in tcp safeq_cml; catalog: catalog-entry-000, ")
    kept = description.split("catalog: ")[1].split(" (+")[0].split(", ")
    assert description.endswith("(+%d more)" % (80 - len(kept)))


# ---- services vs components ------------------------------------------------------------------

def svc(name, state="started"):
    return {"name": name, "state": state, "start_mode": "auto"}


def test_component_mismatches():
    assert component_mismatches([svc("YSoftSafeQCML"), svc("YSoftSafeQCMLDBS"), svc("YSoftEtcd"),
                                 svc("YSoftSafeQTerminalServer"), svc("YSoftWeb"), svc("YSoftOther")],
                                ["cml", "etcd"]) == []
    messages = component_mismatches([svc("YSoftSafeQORS"), svc("YSoftEtcd", "stopped")], ["cml", "etcd"])
    assert messages == [
        "inventory puts this host in safeq_cml but service YSoftSafeQCML is not installed",
        "service YSoftEtcd (component etcd) is installed but stopped; listener checks will not see its ports",
        "service YSoftSafeQORS is installed but the host is in none of safeq_ors",
    ]
    # crs and ap_connector have no known service: nothing to compare
    assert component_mismatches([], ["crs", "ap_connector"]) == []
    # names are compared case-insensitively, as Windows does
    assert component_mismatches([svc("ysoftsafeqcml")], ["cml"]) == []


# ---- JMX interface settings ------------------------------------------------------------------

FILES = {"cmldb-cluster.conf": "C:\\SafeQ\\cmldb-cluster.conf", "crs.conf": "C:\\SafeQ\\crs.conf"}


def test_jmx_settings_per_component(catalog_entries):
    both = jmx_interface_settings(["ors", "crs"], catalog_entries, FILES)
    ors = jmx_interface_settings(["ors", "crs"], catalog_entries, FILES, component="ors")
    crs = jmx_interface_settings(["ors", "crs"], catalog_entries, FILES, component="crs")
    assert [s["property"] for s in ors] == ["orsJmxNetworkInterface"]
    assert [s["property"] for s in crs] == ["crsJmxNetworkInterface"]
    assert sorted(s["property"] for s in both) == sorted(s["property"] for s in ors + crs)


def test_jmx_settings_from_the_catalog(catalog_entries):
    cml = jmx_interface_settings(["cml", "etcd"], catalog_entries, FILES)
    assert [(s["property"], s["location"], s["path"]) for s in cml] == [
        ("dbSyncJmxNetworkInterface", "cmldb-cluster.conf", "C:\\SafeQ\\cmldb-cluster.conf"),
        ("cmlJmxNetworkInterface", "system_settings", None),
        ("ldapJmxNetworkInterface", "system_settings", None),
    ]
    assert all(s["value"] == "127.0.0.1" and s["catalog_ids"] for s in cml)
    assert "set cmlJmxNetworkInterface=127.0.0.1 in SafeQ system settings" in cml[1]["instruction"]
    ors = jmx_interface_settings(["ors"], catalog_entries, FILES)
    assert [(s["property"], s["path"]) for s in ors] == [("orsJmxNetworkInterface", None)]
    crs = jmx_interface_settings(["crs"], catalog_entries, FILES)
    assert [(s["property"], s["path"]) for s in crs] == [("crsJmxNetworkInterface", "C:\\SafeQ\\crs.conf")]
    assert jmx_interface_settings(["ap_connector"], catalog_entries, FILES) == []
    # a file without a configured path is reported, not edited
    assert jmx_interface_settings(["crs"], catalog_entries, {})[0]["path"] is None


# ---- filters: argument validation and error wrapping -----------------------------------------

def test_filters_return_the_pure_results(catalog_entries):
    assert windows_firewall_rules(POLICY) == firewall_rule_args(POLICY)
    assert windows_firewall_rules(POLICY, state="absent", profiles=("domain",)) == \
        firewall_rule_args(POLICY, state="absent")
    assert windows_component_mismatch([svc("YSoftSafeQCML")], ["cml"]) == []
    jmx = jmx_settings({"components": ["crs"]}, files=FILES)
    assert jmx == jmx_interface_settings(["crs"], catalog_entries, FILES)


@pytest.mark.parametrize("call,match", [
    (lambda: windows_firewall_rules(POLICY, state="gone"), "state"),
    (lambda: windows_firewall_rules(POLICY, profiles=["home"]), "profiles"),
    (lambda: windows_firewall_rules("not a policy"), "_input"),
    (lambda: windows_firewall_rules(with_rule(1, ports=[5986])), "management port"),
    (lambda: windows_firewall_rules(POLICY, prefix="a|b"), "prefix"),
    (lambda: windows_component_mismatch("nope", ["cml"]), "_input"),
    (lambda: windows_component_mismatch([], None), "components"),
    (lambda: jmx_settings({"components": "cml"}), "components"),
    (lambda: jmx_settings({"components": ["cml"]}, files="x"), "files"),
    (lambda: jmx_settings({"components": ["cml"]}, catalog_path="/nonexistent.yml"), "nonexistent"),
])
def test_filter_errors_name_the_argument(call, match):
    with pytest.raises(AnsibleFilterError, match=match):
        call()
