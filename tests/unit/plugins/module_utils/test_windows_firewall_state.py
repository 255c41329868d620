# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""windows_firewall_state: the read-only query and the parser of the document it prints."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import (
    STATE_FORMAT,
    WINDOWS_FIREWALL_STATE_COMMAND,
    FirewallStateError,
    address_token_text,
    parse_address_token,
    parse_port_token,
    parse_state,
)

FIXTURES = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "windows_firewall"
COMMAND = WINDOWS_FIREWALL_STATE_COMMAND


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def minimal(**rule):
    base = {"Name": "r1", "DisplayName": "Rule 1", "Action": "Allow", "Direction": "Inbound", "Enabled": "True",
            "Profile": "Any", "PolicyStoreSourceType": "Local", "Protocol": "TCP", "LocalPort": ["4111"],
            "RemotePort": ["Any"], "RemoteAddress": ["Any"], "LocalAddress": ["Any"], "Program": "Any",
            "Service": "Any"}
    base.update(rule)
    return {"profiles": [{"Name": "Domain", "Enabled": "True", "DefaultInboundAction": "Block"}], "rules": [base]}


# ---- the query ---------------------------------------------------------------------------------

def test_query_reads_the_active_store_with_bulk_filters():
    for cmdlet in ("Get-NetFirewallPortFilter", "Get-NetFirewallAddressFilter", "Get-NetFirewallApplicationFilter",
                   "Get-NetFirewallServiceFilter", "Get-NetFirewallSecurityFilter"):
        assert "%s -All -PolicyStore ActiveStore" % cmdlet in COMMAND
    assert "Get-NetFirewallRule -PolicyStore ActiveStore -Enabled True" in COMMAND
    # every inbound rule, and the outbound rules of our own group (compared by drift)
    assert "[string]$_.Direction -eq 'Inbound' -or [string]$_.Group -eq 'SafeQ Hardening'" in COMMAND
    assert "Get-NetFirewallProfile -PolicyStore ActiveStore" in COMMAND
    for cmdlet in ("Get-NetConnectionProfile", "Get-NetTCPConnection -State Listen", "Get-NetUDPEndpoint",
                   "Win32_Process", "Win32_Service"):
        assert cmdlet in COMMAND
    assert "AssociatedNetFirewallRule" not in COMMAND  # one filter query per rule is slow on big hosts
    assert "[string]$filter.InstanceID" in COMMAND and "$portFilters[$id]" in COMMAND


def test_query_is_read_only_and_prints_names_not_numbers():
    verbs = set(re.findall(r"\b([A-Z][a-z]+)-[A-Z][A-Za-z]+", COMMAND))
    assert verbs <= {"Get", "ConvertTo", "Where", "ForEach", "Select"}, verbs
    assert "$Ansible.Changed = $false" in COMMAND
    for enum in ("Action", "Direction", "Enabled", "Profile", "PolicyStoreSourceType", "EdgeTraversalPolicy",
                 "DefaultInboundAction", "AllowLocalFirewallRules", "AllowUnicastResponseToMulticast",
                 "NetworkCategory"):
        assert re.search(r"%s = \[string\]\$_\.%s\b" % (enum, enum), COMMAND), enum
    assert re.search(r"ConvertTo-Json -Depth [6-9] -Compress", COMMAND)
    assert "ExpandEnvironmentVariables" in COMMAND


def test_fixtures_use_exactly_the_keys_the_query_prints():
    printed = set(re.findall(r"^\s*(\w+) = ", COMMAND, re.MULTILINE)) | set(re.findall(r"\{ (\w+) = ", COMMAND))
    printed |= set(re.findall(r"; (\w+) = ", COMMAND))
    for path in sorted(FIXTURES.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        keys = set(document)
        for section in ("profiles", "connection_profiles", "rules", "tcp", "udp", "processes", "services"):
            items = document[section] if isinstance(document[section], list) else [document[section]]
            for item in items:
                keys |= set(item)
        assert keys <= printed, (path.name, sorted(keys - printed))


# ---- documents ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_fixture_parses(path):
    state = parse_state(path.read_text(encoding="utf-8"))
    assert state["format"] == STATE_FORMAT
    assert set(state["profiles"]) == {"domain", "private", "public"}
    assert state["active_profiles"] == ["domain"]
    assert state["rules"] and all(r["direction"] == "inbound" for r in state["rules"])
    assert state["listeners"] and all(isinstance(r["port"], int) for r in state["listeners"])
    assert parse_state(state) is state  # already normalized


def test_numeric_enums_single_objects_and_star_mean_the_same():
    strings = parse_state(load("installer_rules_cml.json"))
    numbers = parse_state(load("installer_rules_cml_numeric.json"))
    assert numbers == strings
    raw = load("installer_rules_cml_numeric.json")
    assert isinstance(raw["connection_profiles"], dict) and raw["profiles"][0]["Enabled"] == 1
    assert any(r["RemoteAddress"] == "*" for r in raw["rules"])
    assert {r["Profile"] for r in raw["rules"]} >= {0, 2147483647, 1, 3}


def test_rule_fields_are_normalized():
    state = parse_state(load("installer_rules_cml.json"))
    java = next(r for r in state["rules"] if r["display_name"] == "Java(TM) Platform SE binary"
                and r["protocol"] == "tcp")
    assert java["action"] == "allow" and java["profiles"] == ["domain"] and java["store"] == "local"
    assert java["local_ports"] == ["any"] and java["remote_addresses"] == ["any"]
    assert java["program_path"].endswith("java.exe")
    winrm = next(r for r in state["rules"] if r["name"] == "WINRM-HTTP-In-TCP")
    assert winrm["profiles"] == ["domain", "private"] and winrm["program"] == "System"
    rdp = next(r for r in state["rules"] if r["name"] == "RemoteDesktop-UserMode-In-TCP")
    assert rdp["service"] == "termservice" and rdp["program_path"] == "C:\\Windows\\system32\\svchost.exe"
    teredo = next(r for r in state["rules"] if r["name"] == "CoreNet-Teredo-In")
    assert teredo["local_ports"] == ["Teredo"] and teredo["edge_traversal"] == "allow"
    ours = [r for r in state["rules"] if r["group"] == "SafeQ Hardening"]
    assert ours and all("/" not in a or a.split("/")[1].isdigit() for r in ours for a in r["remote_addresses"])
    assert state["processes"][4]["path"] is None and state["services"][1100] == ["TermService"]


def test_profile_settings_and_connection_categories():
    document = {"profiles": [
        {"Name": "Domain", "Enabled": 0, "DefaultInboundAction": 2, "AllowLocalFirewallRules": 2},
        {"Name": "Private", "Enabled": "NotConfigured", "DefaultInboundAction": "NotConfigured",
         "AllowLocalFirewallRules": "False", "AllowUnicastResponseToMulticast": False},
        {"Name": "Public", "Enabled": True, "DefaultInboundAction": 4, "AllowInboundRules": "False"},
    ], "connection_profiles": [{"InterfaceAlias": "a", "NetworkCategory": 1},
                               {"InterfaceAlias": "b", "NetworkCategory": "Public"}], "rules": []}
    state = parse_state(document)
    assert state["profiles"]["domain"]["enabled"] is False
    assert state["profiles"]["domain"]["default_inbound_action"] == "allow"
    assert state["profiles"]["domain"]["allow_local_firewall_rules"] is None  # NotConfigured
    assert state["profiles"]["private"]["enabled"] is None
    assert state["profiles"]["private"]["allow_local_firewall_rules"] is False
    assert state["profiles"]["private"]["allow_unicast_response_to_multicast"] is False
    assert state["profiles"]["public"]["allow_inbound_rules"] is False
    assert state["active_profiles"] == ["private", "public"]
    assert state["listeners"] is None  # no tcp/udp lists: listeners unknown
    assert state["profiles"]["domain"]["disabled_interface_aliases"] == []
    document["profiles"][0]["DisabledInterfaceAliases"] = "NotConfigured"
    assert parse_state(document)["profiles"]["domain"]["disabled_interface_aliases"] == []
    document["profiles"][0]["DisabledInterfaceAliases"] = ["Ethernet 2", "Backup"]
    assert parse_state(document)["profiles"]["domain"]["disabled_interface_aliases"] == ["Ethernet 2", "Backup"]


@pytest.mark.parametrize("value, expected", [
    ("Any", ["domain", "private", "public"]), (0, ["domain", "private", "public"]),
    (2147483647, ["domain", "private", "public"]), ("Domain, Public", ["domain", "public"]), (3, ["domain", "private"]),
    (["Private", "Public"], ["private", "public"]), ("NotApplicable", []),
])
def test_profile_values(value, expected):
    assert parse_state(minimal(Profile=value))["rules"][0]["profiles"] == expected


@pytest.mark.parametrize("field, value, key, expected", [
    ("Action", 2, "action", "allow"), ("Action", 4, "action", "block"), ("Action", "AllowBypass", "action", "allow"),
    ("Direction", 2, "direction", "outbound"), ("Enabled", 2, "enabled", False), ("Enabled", 1, "enabled", True),
    ("PolicyStoreSourceType", 2, "store", "group_policy"), ("PolicyStoreSourceType", "MDM", "store", "mdm"),
    ("EdgeTraversalPolicy", 3, "edge_traversal", "defer_to_app"), ("Protocol", "17", "protocol", "udp"),
    ("Protocol", "Any", "protocol", "any"), ("Protocol", "ICMPv4", "protocol", "icmpv4"),
    ("Protocol", 256, "protocol", "any"),
])
def test_enum_values(field, value, key, expected):
    assert parse_state(minimal(**{field: value}))["rules"][0][key] == expected


def test_allow_bypass_is_an_allow_that_overrides_block_rules():
    assert parse_state(minimal(Action=3))["rules"][0]["override_block_rules"] is True
    assert parse_state(minimal(OverrideBlockRules=True))["rules"][0]["override_block_rules"] is True
    assert parse_state(minimal())["rules"][0]["override_block_rules"] is False


def test_filter_values_as_string_list_or_comma_text():
    rule = parse_state(minimal(LocalPort="4111,5014-5020", RemoteAddress=["10.0.0.0/255.255.0.0", "LocalSubnet"],
                               RemotePort="*", LocalAddress="*"))["rules"][0]
    assert rule["local_ports"] == ["4111", "5014-5020"]
    assert rule["remote_addresses"] == ["10.0.0.0/16", "LocalSubnet"]
    assert rule["remote_ports"] == ["any"] and rule["local_addresses"] == ["any"]


def test_missing_filters_are_read_as_any_and_recorded():
    rule = parse_state(minimal(Protocol=None, LocalPort=None, RemoteAddress=None, MissingFilters=["port"]))["rules"][0]
    assert rule["protocol"] == "any" and rule["local_ports"] == ["any"] and rule["remote_addresses"] == ["any"]
    assert rule["missing_filters"] == ["port", "address"]


def test_program_variables_are_expanded_when_the_document_has_no_path():
    rule = parse_state(minimal(Program="%ProgramFiles%\\YSoft\\java.exe"))["rules"][0]
    assert rule["program_path"] == "C:\\Program Files\\YSoft\\java.exe"


@pytest.mark.parametrize("token, text", [
    ("10.0.0.1", "10.0.0.1"), ("10.0.0.1/255.255.255.255", "10.0.0.1"), ("10.0.0.0/255.255.0.0", "10.0.0.0/16"),
    ("10.0.0.5/24", "10.0.0.0/24"), ("10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.9"),
    ("10.0.0.0-10.0.0.255", "10.0.0.0/24"), ("localsubnet", "LocalSubnet"), ("LocalSubnet6", "LocalSubnet6"),
    ("INTRANETREMOTEACCESS", "IntranetRemoteAccess"), ("CaptivePortal", "CaptivePortal"),
    ("fe80::1-fe80::9", "fe80::1-fe80::9"), ("*", "any"), ("Any", "any"),
])
def test_address_tokens(token, text):
    assert address_token_text(parse_address_token(token)) == text


@pytest.mark.parametrize("token", ["10.0.0.300", "10.0.0.9-10.0.0.1", "10.0.0.1-fe80::1", "1.2.3", "fe80::zz"])
def test_bad_address_tokens(token):
    with pytest.raises(FirewallStateError):
        parse_address_token(token)


@pytest.mark.parametrize("token, parsed", [
    ("Any", ("any",)), ("80", ("range", 80, 80)), ("5000-5020", ("range", 5000, 5020)),
    ("RPC-EPMap", ("keyword", "RPCEPMap")), ("rpc", ("keyword", "RPC")), ("IPHTTPS", ("keyword", "IPHTTPSIn")),
    ("PlayToDiscovery", ("keyword", "PlayToDiscovery")), ("mdns", ("keyword", "mDNS")),
    ("Teredo", ("keyword", "Teredo")),
])
def test_port_tokens(token, parsed):
    assert parse_port_token(token) == parsed


@pytest.mark.parametrize("token", ["70000", "20-10", "1.5", ""])
def test_bad_port_tokens(token):
    with pytest.raises(FirewallStateError):
        parse_port_token(token)


def test_accepts_text_bytes_and_the_win_powershell_output_list():
    document = load("clean_cml.json")
    text = json.dumps(document)
    expected = parse_state(document)
    assert parse_state(text) == expected
    assert parse_state(("\ufeff" + text).encode("utf-8")) == expected
    assert parse_state([text]) == expected


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("profiles"), "profiles: missing"),
    (lambda d: d.pop("rules"), "rules: missing"),
    (lambda d: d["rules"].append("text"), "rules[13]: must be an object"),
    (lambda d: d["rules"][0].update(Action=7), "rules[0].Action"),
    (lambda d: d["rules"][0].update(Profile=8), "rules[0].Profile"),
    (lambda d: d["rules"][0].update(RemoteAddress=["10.0.0.300"]), "rules[0].RemoteAddress[0]"),
    (lambda d: d["rules"][0].update(LocalPort=["70000"]), "rules[0].LocalPort[0]"),
    (lambda d: d["rules"][0].update(Protocol="SCTP"), "rules[0].Protocol"),
    (lambda d: d["profiles"][0].update(Name="Work"), "profiles[0].Name"),
    (lambda d: d["profiles"][0].update(Enabled="Maybe"), "profiles[0].Enabled"),
    (lambda d: d["connection_profiles"][0].update(NetworkCategory=7), "connection_profiles[0].NetworkCategory"),
    (lambda d: d["tcp"][0].update(LocalPort="http"), "tcp[0].LocalPort"),
    (lambda d: d.update(processes=[{"Id": "x"}]), "processes[0].Id"),
])
def test_malformed_documents_name_the_field(change, field):
    document = copy.deepcopy(load("clean_cml.json"))
    change(document)
    with pytest.raises(FirewallStateError) as error:
        parse_state(document)
    assert field in str(error.value)


@pytest.mark.parametrize("document", ["{not json", "[1, 2]", "42", b"\xff\xfe"])
def test_not_a_document(document):
    with pytest.raises(FirewallStateError):
        parse_state(document)
