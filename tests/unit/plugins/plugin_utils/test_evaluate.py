# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""judge_listeners (plugins/plugin_utils/evaluate.py), the listener filters, and the plan's expected listeners."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from inventory_builder import Inventory

from ansible_collections.safeq.hardening.plugins.filter.listener_judge import listener_judge
from ansible_collections.safeq.hardening.plugins.filter.listener_records import listener_records
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate import (
    EvaluateError,
    interface_properties,
    judge_listeners,
)
from ansible_collections.safeq.hardening.plugins.filter.listener_findings import listener_findings

JMX_SETTINGS = [
    {"property": "cmlJmxServerPort", "location": "system_settings", "controls": "port", "component": None},
    {"property": "cmlJmxNetworkInterface", "location": "system_settings", "controls": "interface", "component": None},
]
RMI_SETTINGS = [
    {"property": "jmxRmiServerPort", "location": "system_settings", "controls": "port", "component": "cml"},
    {"property": "cmlJmxNetworkInterface", "location": "system_settings", "controls": "interface", "component": "cml"},
    {"property": "jmxRmiServerPort", "location": "system_settings", "controls": "port", "component": "ors"},
    {"property": "orsJmxNetworkInterface", "location": "system_settings", "controls": "interface", "component": "ors"},
]
JMX = {"port": 19898, "protocol": "tcp", "bind": "localhost", "catalog_id": "ws-jmx-cml-19898", "settings": JMX_SETTINGS}
RMI = {"port": 9000, "protocol": "tcp", "bind": "localhost", "catalog_id": "ws-jmx-rmi-9000", "settings": RMI_SETTINGS}
WEB = {"port": 443, "protocol": "tcp", "bind": "any", "catalog_id": "ws-admin-web", "settings": []}
SAFEQ = ["^java(\\.exe)?$", "safeq"]


def rec(address, port, process="java", pid=3120, protocol="tcp"):
    return {"protocol": protocol, "address": address, "port": port, "pid": pid, "process": process}


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_bind_is_fine(address):
    assert judge_listeners([rec(address, 19898)], [JMX]) == []


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.10.1.11", "fe80::1"])
def test_non_loopback_bind_names_the_property(address):
    findings = judge_listeners([rec(address, 19898)], [JMX])
    assert len(findings) == 1
    f = findings[0]
    assert (f["kind"], f["status"], f["port"], f["address"]) == ("exposed", "fail", 19898, address)
    assert f["properties"] == ["cmlJmxNetworkInterface"] and f["catalog_ids"] == ["ws-jmx-cml-19898"]
    assert "set cmlJmxNetworkInterface to 127.0.0.1" in f["message"]


def test_component_filters_the_property():
    assert judge_listeners([rec("0.0.0.0", 9000)], [RMI], components=["ors"])[0]["properties"] == [
        "orsJmxNetworkInterface"]
    both = judge_listeners([rec("0.0.0.0", 9000)], [RMI])[0]["properties"]
    assert both == ["cmlJmxNetworkInterface", "orsJmxNetworkInterface"]
    assert interface_properties(RMI_SETTINGS, ["crs"]) == []


def test_no_property_documented():
    exp = dict(JMX, settings=[], catalog_id="ws-jmx-ors-web-9999", port=9999)
    f = judge_listeners([rec("0.0.0.0", 9999)], [exp])[0]
    assert f["properties"] == [] and "no vendor property" in f["message"]


def test_any_bind_is_not_exposed_and_protocol_matters():
    assert judge_listeners([rec("0.0.0.0", 443), rec("0.0.0.0", 19898, protocol="udp")], [WEB, JMX]) == []


def test_before_installation_every_listener_is_a_conflict():
    findings = judge_listeners([rec("0.0.0.0", 443, process="httpd", pid=77)], [WEB], owner_patterns=SAFEQ,
                               installed=False)
    assert [(f["kind"], f["status"], f["process"]) for f in findings] == [("conflict", "fail", "httpd")]
    assert "before SafeQ is installed" in findings[0]["message"]
    # even a java process: SafeQ is not there yet
    assert judge_listeners([rec("0.0.0.0", 443)], [WEB], owner_patterns=SAFEQ, installed=False)[0]["kind"] == "conflict"


def test_after_installation_owner_decides():
    records = [rec("0.0.0.0", 443), rec("0.0.0.0", 19898, process="tomcat9", pid=88),
               rec("::", 443, process=None, pid=None)]
    findings = judge_listeners(records, [WEB, JMX], owner_patterns=SAFEQ, installed=True)
    kinds = sorted((f["kind"], f["port"], f["address"]) for f in findings)
    assert kinds == [("conflict", 19898, "0.0.0.0"), ("unknown_owner", 443, "::")]
    assert {f["status"] for f in findings} == {"fail", "warn"}


def test_safeq_owned_exposed_port_is_exposed_not_conflict():
    findings = judge_listeners([rec("0.0.0.0", 19898)], [JMX], owner_patterns=SAFEQ, installed=True)
    assert [f["kind"] for f in findings] == ["exposed"]


def test_ranges_and_duplicates_merge_catalog_ids():
    expected = [{"ports": ["5014-5019"], "protocol": "tcp", "bind": "any", "catalog_id": "prn-in-km"},
                {"port": 5015, "protocol": "tcp", "bind": "any", "catalog_id": "other"}]
    findings = judge_listeners([rec("0.0.0.0", 5015, process="nginx")], expected, owner_patterns=SAFEQ,
                               installed=False)
    assert len(findings) == 1 and findings[0]["catalog_ids"] == ["prn-in-km", "other"]


def test_report_missing():
    findings = judge_listeners([], [JMX, {"port": "20222-20225", "protocol": "tcp", "bind": "any"}],
                               report_missing=True)
    assert [(f["kind"], f["status"], f["port"]) for f in findings] == [
        ("not_listening", "info", "19898"), ("not_listening", "info", "20222-20225")]


@pytest.mark.parametrize("expected, match", [
    ([{"protocol": "tcp"}], "needs port"),
    ([{"port": "x", "protocol": "tcp"}], "not a port"),
    ([{"port": "9-1", "protocol": "tcp"}], "not a port"),
    ([{"port": 1, "protocol": "sctp"}], "not tcp or udp"),
    ([{"port": 1, "bind": "lan"}], "not localhost or any"),
    (["x"], "must be a mapping"),
])
def test_bad_expected(expected, match):
    with pytest.raises(EvaluateError, match=match):
        judge_listeners([], expected)


def _policy(host, group, features, **variables):
    inv = Inventory(safeq_features=features)
    inv.add(host, [group], "10.0.1.11", **variables)
    return inv.plan()["policies"][host]


def test_with_the_plan():
    policy = _policy("cml1", "cml", ["workstation_client"])
    expected = policy["expected_listeners"]
    ports = {(e["protocol"], p) for e in expected for p in e["ports"]}
    assert {("tcp", 80), ("tcp", 443), ("tcp", 19898), ("tcp", 9100), ("tcp", 515), ("tcp", 20222)} <= ports
    assert ("tcp", 8000) not in ports  # ORS job roaming
    assert not any(e["catalog_id"].startswith("prn-out") for e in expected)  # outbound rows are not listeners
    binds = {e["catalog_id"]: (e["bind"], e["exposure"]) for e in expected}
    assert binds["ws-jmx-cml-19898"] == ("localhost", "fail")
    assert binds["ws-tomcat-shutdown-8005"] == ("any", "warn") and binds["is-rmi-20222"] == ("any", "warn")
    records = [rec("0.0.0.0", 19898), rec("0.0.0.0", 9797), rec("0.0.0.0", 20222), rec("127.0.0.1", 9000)]
    findings = listener_findings(records, policy)
    assert {(f["port"], f["status"], tuple(f["properties"])) for f in findings} == {
        (19898, "fail", ("cmlJmxNetworkInterface",)), (9797, "fail", ("dbSyncJmxNetworkInterface",)),
        (20222, "warn", ())}
    # worded by what was observed: the socket and its address, not a claim about reachability
    assert all("listens on a non-loopback address" in f["message"] for f in findings)
    assert listener_findings([rec("127.0.0.1", 19898)], policy, passes=True)[0]["status"] == "pass"


def test_plan_follows_overrides_and_leaves_symbolic_ports_out():
    policy = _policy("ors1", "ors", ["ftp_passive"], safeq_port_overrides={"orsJmxServerPort": 19899})
    ports = {p for e in policy["expected_listeners"] if e["catalog_id"] == "ws-jmx-ors-crs-9898" for p in e["ports"]}
    assert ports == {19899}
    assert not [e for e in policy["expected_listeners"] if e["catalog_id"] == "prn-in-ftp-passive"]
    assert [u["setting"] for u in policy["unresolved"]] == ["ftpPassivePorts"]
    policy = _policy("ors1", "ors", ["ftp_passive"], safeq_port_overrides={"ftpPassivePorts": "50000-50100"})
    ftp = [e for e in policy["expected_listeners"] if e["catalog_id"] == "prn-in-ftp-passive"]
    assert [(e["ports"], e["protocol"], e["bind"]) for e in ftp] == [(["50000-50100"], "tcp", "any")]


def test_component_option_keeps_each_component_to_its_ports():
    inv = Inventory()
    inv.add("h1", ["ors", "crs"], "10.0.1.11")
    policy = inv.plan()["policies"]["h1"]
    records = [rec("0.0.0.0", 9898)]
    assert [f["properties"] for f in listener_findings(records, policy, component="crs")] == [["crsJmxNetworkInterface"]]
    assert [f["properties"] for f in listener_findings(records, policy, component="ors")] == [["orsJmxNetworkInterface"]]


def test_filters():
    registered = {"listeners": [rec("0.0.0.0", 19898)]}
    records = listener_records(registered)
    assert records[0]["family"] == "ipv4"
    findings = listener_judge(registered, expected=[JMX])
    assert findings[0]["properties"] == ["cmlJmxNetworkInterface"]
    with pytest.raises(AnsibleFilterError, match="listener_judge"):
        listener_judge(registered, expected=[{"port": "bad"}])
    with pytest.raises(AnsibleFilterError, match="listener_records"):
        listener_records({"nothing": 1})
