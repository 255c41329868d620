# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""evaluate_windows_firewall: who really reaches each policy port on a recorded Windows Firewall state.

The recorded documents live in tests/unit/fixtures/windows_firewall/ (query output shape). Their
"SafeQ Hardening" rules are replaced by the rules rendered from the policy under test, so the
scenarios follow the policy core when it changes.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate_windows_firewall import (
    AddressSet,
    EvaluationError,
    drift,
    evaluate_firewall,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_GROUP,
    DEFAULT_PREFIX,
    firewall_rule_args,
    rule_display_name,
)

FIXTURES = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "windows_firewall"
JAVA_RULE = "Java(TM) Platform SE binary"


# ---- helpers -----------------------------------------------------------------------------------

def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def win_rule(display, name=None, action="Allow", protocol="TCP", ports=("Any",), remote=("Any",), profile="Any",
             store="Local", group="", program="Any", service="Any", remote_ports=("Any",), **extra):
    """One rule as the query prints it."""
    rule = {
        "Name": name or "{%s}" % display, "DisplayName": display, "Group": group, "DisplayGroup": group,
        "Enabled": "True", "Direction": "Inbound", "Action": action, "Profile": profile,
        "PolicyStoreSourceType": store, "PolicyStoreSource": "PersistentStore", "EdgeTraversalPolicy": "Block",
        "Protocol": protocol, "LocalPort": list(ports), "RemotePort": list(remote_ports),
        "RemoteAddress": list(remote), "LocalAddress": ["Any"], "Program": program,
        "ProgramPath": None if program == "Any" else program, "Service": service,
        "Authentication": "NotRequired", "OverrideBlockRules": False, "MissingFilters": [],
    }
    rule.update(extra)
    return rule


def windows_address(token):
    """How Get-NetFirewallAddressFilter shows what win_firewall_rule wrote (subnets in mask notation)."""
    if token == "any":
        return "Any"
    network = ipaddress.ip_network(token, strict=False)
    return str(network.network_address) if network.prefixlen == 32 else "%s/%s" % (network.network_address,
                                                                                   network.netmask)


def rendered_rules(policy):
    """Our inbound rules as the query would print them after win_firewall_rule applied the policy."""
    rules = []
    for args in firewall_rule_args(policy):
        if args["direction"] != "in":
            continue
        rules.append(win_rule(
            args["name"], name="{%s}" % args["name"], action=args["action"].capitalize(), group=args["group"],
            protocol=args["protocol"].upper(), ports=args["localport"].split(","),
            remote=[windows_address(t) for t in args["remoteip"].split(",")],
            remote_ports=["Any" if t == "any" else t for t in args["remoteport"].split(",")]))
    return rules


def with_policy_rules(document, policy):
    document = copy.deepcopy(document)
    document["rules"] = rendered_rules(policy) + [r for r in document["rules"] if r["Group"] != DEFAULT_GROUP]
    return document


def state(rules, tcp=None, udp=None, processes=None, services=None, category="DomainAuthenticated", **profile):
    settings = {"Enabled": "True", "DefaultInboundAction": "Block", "DefaultOutboundAction": "Allow",
                "AllowInboundRules": "True", "AllowLocalFirewallRules": "True",
                "AllowUnicastResponseToMulticast": "True"}
    settings.update(profile)
    document = {
        "version": 1, "computer": "TEST-1",
        "profiles": [dict(settings, Name=name) for name in ("Domain", "Private", "Public")],
        "connection_profiles": [{"InterfaceAlias": "Ethernet0", "InterfaceIndex": 4, "NetworkCategory": category}],
        "rules": rules, "processes": processes or [], "services": services or [],
    }
    if tcp is not None or udp is not None:
        document["tcp"], document["udp"] = tcp or [], udp or []
    return document


def hand_policy(rules, address="10.10.1.11", management_ports=(), management=()):
    """A policy built by hand; no management port unless asked (the hand states have no management rule)."""
    return {"host": "test-1", "address": address, "platform": "windows", "components": ["cml"], "features": [],
            "management": {"protocol": "tcp", "ports": list(management_ports), "addresses": list(management)},
            "rules": rules, "expected_listeners": [], "unresolved": [], "warnings": []}


def allow(name, ports, addresses, protocol="tcp", **extra):
    return dict({"name": name, "action": "allow", "direction": "inbound", "protocol": protocol, "ports": list(ports),
                 "addresses": list(addresses), "peers": [name], "catalog_ids": []}, **extra)


def deny(name, ports, protocol="tcp", exceptions=("loopback",)):
    return {"name": name, "action": "deny", "direction": "inbound", "protocol": protocol, "ports": list(ports),
            "addresses": ["any"], "except": list(exceptions), "peers": ["remote"], "catalog_ids": []}


def findings(result, kind=None, port=None, protocol=None, rule=None):
    return [f for f in result["findings"] if (kind is None or f["kind"] == kind)
            and (port is None or f["port"] == port) and (protocol is None or f["protocol"] == protocol)
            and (rule is None or f["rule"] == rule)]


def policy_rule(policy, catalog_id, action="allow"):
    return next(r for r in policy["rules"] if r["direction"] == "inbound" and r["action"] == action
                and catalog_id in r["catalog_ids"])


def single_port(rule, port):
    assert port in [int(p) for p in rule["ports"] if str(p).isdigit()], rule
    return port


@pytest.fixture(scope="module")
def cml_policy(example_policies):
    cmls = sorted(h for h, p in example_policies.items() if p["platform"] == "windows" and "cml" in p["components"])
    assert cmls, "inventories/example has no Windows CML host"
    return example_policies["cml-prg-1" if "cml-prg-1" in cmls else cmls[0]]


def recorded(cml_policy, name):
    return with_policy_rules(load(name), cml_policy)


# ---- recorded scenarios with the example CML policy --------------------------------------------

def test_clean_hardened_host_passes(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "clean_cml.json"))
    assert result["summary"]["fail"] == 0 and result["summary"]["warn"] == 0, [
        f["message"] for f in result["findings"] if f["status"] != "pass"]
    assert result["broader_rules"] == [] and result["profiles"] == ["Domain"]
    inbound = [r for r in cml_policy["rules"] if r["direction"] == "inbound"]
    for rule in inbound:
        kinds = {f["kind"] for f in findings(result, rule=rule["name"])}
        assert kinds & {"peers_admitted", "deny_port_closed"}, rule["name"]


def test_installer_program_rule_opens_a_peer_only_port(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "installer_rules_cml.json"))
    sync = policy_rule(cml_policy, "is-cluster-db-sync-4111")
    port = single_port(sync, 4111)
    [open_4111] = findings(result, "open_beyond_policy", port, "tcp")
    assert open_4111["status"] == "fail" and open_4111["certain"] is True
    assert open_4111["rules"] == [JAVA_RULE]
    message = open_4111["message"]
    assert "allow rule '%s' (program " % JAVA_RULE in message and "java.exe" in message
    assert "any port, any address) admits any address to tcp/4111" in message
    assert "so tcp/4111 is open beyond" in message and "listens there" in message
    for token in sync["addresses"]:
        assert token in message
    assert sync["name"] in open_4111["policy_rules"]
    ors = policy_rule(cml_policy, "is-ors-cml-6010")
    assert findings(result, "open_beyond_policy", single_port(ors, 6010), "tcp")[0]["rules"] == [JAVA_RULE]
    # the intended peers still get in, so reachability passes
    assert findings(result, "peers_admitted", port, "tcp", sync["name"])[0]["status"] == "pass"
    java = [b for b in result["broader_rules"] if b["display_name"] == JAVA_RULE]
    assert len(java) == 1 and java[0]["can_disable"] and java[0]["store"] == "local" and java[0]["certain"]
    assert java[0]["name"].startswith("TCP Query User") and "tcp/4111" in java[0]["ports"]
    assert java[0]["program"].endswith("java.exe") and java[0]["profiles"] == ["domain"]
    # built-in groups on ports the policy does not use are not broader rules of SafeQ ports
    names = {b["display_name"] for b in result["broader_rules"]}
    assert "File and Printer Sharing (SMB-In)" not in names and "Remote Desktop - User Mode (TCP-In)" not in names


def test_numeric_enum_document_evaluates_the_same(cml_policy):
    strings = evaluate_firewall(cml_policy, recorded(cml_policy, "installer_rules_cml.json"))
    numbers = evaluate_firewall(cml_policy, recorded(cml_policy, "installer_rules_cml_numeric.json"))
    assert numbers == strings


def test_our_block_rule_on_jmx_beats_the_java_program_rule(cml_policy):
    jmx = policy_rule(cml_policy, "ws-jmx-cml-19898", action="deny")
    port = single_port(jmx, 19898)
    document = recorded(cml_policy, "installer_rules_cml.json")
    [closed] = findings(evaluate_firewall(cml_policy, document), kind=None, port=port, protocol="tcp")
    assert closed["kind"] == "deny_port_closed" and closed["status"] == "pass"
    assert closed["rules"] == [rule_display_name(DEFAULT_PREFIX, jmx["name"])]
    assert JAVA_RULE in closed["overridden"] and "beats allow rule '%s'" % JAVA_RULE in closed["message"]
    assert "loopback" in closed["message"]
    # without our block rule the java rule opens JMX to the network (java listens on 127.0.0.1 only,
    # but the firewall judgement does not depend on the binding)
    ours = rule_display_name(DEFAULT_PREFIX, jmx["name"])
    document["rules"] = [r for r in document["rules"] if r["DisplayName"] != ours]
    [opened] = findings(evaluate_firewall(cml_policy, document), port=port, protocol="tcp")
    assert opened["kind"] == "deny_port_open" and opened["status"] == "fail" and opened["rules"] == [JAVA_RULE]
    assert "which the policy keeps to loopback, is open to the network" in opened["message"]


def test_profile_off_makes_every_finding_fail(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "profile_off_cml.json"))
    assert [f["kind"] for f in result["findings"] if f["protocol"] is None] == ["profile_disabled"]
    assert all(f["status"] == "fail" for f in result["findings"])
    assert result["summary"]["pass"] == 0 and result["summary"]["fail"] == len(result["findings"])
    jmx = policy_rule(cml_policy, "ws-jmx-cml-19898", action="deny")
    assert findings(result, "deny_port_open", single_port(jmx, 19898))[0]["message"].startswith(
        "profile Domain is off (it filters nothing)")
    reach = findings(result, "peers_admitted")
    assert reach and all("only because profile Domain is off" in f["message"] for f in reach)


def test_excluded_interface_is_not_filtered(cml_policy):
    document = recorded(cml_policy, "clean_cml.json")
    document["profiles"][0]["DisabledInterfaceAliases"] = ["Ethernet0"]
    result = evaluate_firewall(cml_policy, document)
    [excluded] = findings(result, "interface_excluded")
    assert excluded["status"] == "fail" and "Ethernet0" in excluded["message"]
    assert all(f["status"] == "fail" for f in result["findings"])
    document["profiles"][0]["DisabledInterfaceAliases"] = ["Backup LAN"]  # not an active interface
    assert evaluate_firewall(cml_policy, document)["summary"]["fail"] == 0


def test_default_inbound_allow_fails_but_blocks_still_count(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "default_inbound_allow_cml.json"))
    assert findings(result, "default_inbound_allow")[0]["status"] == "fail"
    assert all(f["status"] == "fail" for f in result["findings"])
    jmx = policy_rule(cml_policy, "ws-jmx-cml-19898", action="deny")
    [closed] = findings(result, port=single_port(jmx, 19898), protocol="tcp")
    assert closed["kind"] == "deny_port_closed"
    assert "beats the DefaultInboundAction Allow of profile Domain" in closed["message"]
    assert "it fails because profile Domain has DefaultInboundAction Allow" in closed["message"]


def test_local_merge_off_ignores_our_rules(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "gpo_merge_off_cml.json"))
    [ignored] = findings(result, "local_rules_ignored")
    ours = [a["name"] for a in firewall_rule_args(cml_policy) if a["direction"] == "in"]
    assert ignored["status"] == "fail" and sorted(ignored["rules"]) == sorted(ours)
    assert "%d rule(s) of group '%s'" % (len(ours), DEFAULT_GROUP) in ignored["message"]
    sync = policy_rule(cml_policy, "is-cluster-db-sync-4111")
    [missing] = findings(result, "peers_not_admitted", single_port(sync, 4111), "tcp", sync["name"])
    assert missing["status"] == "fail" and "local policy merge off" in missing["message"]
    # the local java rule is ignored too, and nothing admits the deny ports
    assert not any(JAVA_RULE in f["rules"] for f in result["findings"])
    assert all(f["status"] == "pass" for f in findings(result, "deny_port_closed"))
    assert not findings(result, "deny_port_open")


def test_gpo_rule_counts_when_local_merge_is_off():
    policy = hand_policy([], management_ports=(5986,), management=("10.10.250.0/24",))
    document = load("gpo_merge_off_cml.json")
    [reach] = findings(evaluate_firewall(policy, document), "peers_admitted", 5986)
    assert reach["rules"] == ["SafeQ servers - WinRM HTTPS (GPO)"]


def test_keyword_address_counts_as_beyond_the_peers(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "local_subnet_cml.json"))
    ors = policy_rule(cml_policy, "is-ors-cml-6010")
    [opened] = findings(result, "open_beyond_policy", single_port(ors, 6010), "tcp")
    assert opened["rules"] == ["YSoft SafeQ ORS connection (installer)"]
    assert "LocalSubnet (keyword, not enumerable)" in opened["message"]
    assert opened["beyond"] == ["LocalSubnet (keyword, not enumerable)"]


def test_allow_rule_in_an_inactive_profile_does_not_count(cml_policy):
    document = recorded(cml_policy, "inactive_profile_cml.json")
    result = evaluate_firewall(cml_policy, document)
    assert result["summary"]["fail"] == 0
    assert not any("DBSync test access (Public)" in f["rules"] for f in result["findings"])
    public = evaluate_firewall(cml_policy, document, profiles=["public"])
    sync = policy_rule(cml_policy, "is-cluster-db-sync-4111")
    assert findings(public, "open_beyond_policy", single_port(sync, 4111))[0]["rules"] == [
        "DBSync test access (Public)"]


def test_block_rule_narrows_a_broad_allow_in_mask_and_range_notation(cml_policy):
    result = evaluate_firewall(cml_policy, recorded(cml_policy, "block_narrows_allow_cml.json"))
    [opened] = findings(result, "open_beyond_policy", 4096, "tcp")
    assert opened["rules"] == ["Legacy print clients"]
    assert "after 'Block legacy ranges' it admits 10.110.0.0-10.149.255.255" in opened["message"]
    beyond = AddressSet.from_tokens(opened["beyond"])
    assert beyond.covers(AddressSet.from_tokens(["10.112.0.1", "10.149.255.255"]))
    for outside in ("10.0.0.1", "10.109.255.255", "10.150.0.0", "10.200.0.1", "10.110.0.1"):
        assert not beyond.intersects(AddressSet.from_tokens([outside])), outside


def test_no_active_profile_evaluates_all_three(cml_policy):
    document = recorded(cml_policy, "installer_rules_cml.json")
    document["connection_profiles"] = []
    result = evaluate_firewall(cml_policy, document)
    assert result["profiles"] == ["Domain", "Private", "Public"]
    assert findings(result, "no_active_profile")[0]["status"] == "warn"
    sync = policy_rule(cml_policy, "is-cluster-db-sync-4111")
    [opened] = findings(result, "open_beyond_policy", single_port(sync, 4111))
    assert opened["profiles"] == ["Domain"] and opened["message"].endswith("[profile Domain]")
    [restricted] = findings(result, "restricted_to_policy", 4111)
    assert restricted["profiles"] == ["Private", "Public"]


# ---- semantics on small hand-made policies -----------------------------------------------------

JAVA = "C:\\Program Files\\YSoft SafeQ 5\\Java\\bin\\java.exe"
JAVA_PROCESS = (("Id", 3100), ("Name", "java.exe"), ("Path", JAVA))


def java_state(listeners=True, owner=JAVA_PROCESS, extra_rules=()):
    owner = dict(owner) if owner else None
    rules = [win_rule(JAVA_RULE, program=JAVA, profile="Domain")] + list(extra_rules)
    if not listeners:
        return state(rules)
    return state(rules, tcp=[{"LocalAddress": "0.0.0.0", "LocalPort": 4111, "OwningProcess": 3100}], udp=[],
                 processes=[owner] if owner else [])


PEERS = ["10.10.1.12", "10.10.1.13"]


@pytest.mark.parametrize("document, kind, certain", [
    (java_state(), "open_beyond_policy", True),
    (java_state(listeners=False), "open_beyond_policy", False),
    (java_state(owner=(("Id", 3100), ("Name", "java.exe"), ("Path", ""))), "open_beyond_policy", False),
    (java_state(owner=None), "open_beyond_policy", False),
    (java_state(owner=(("Id", 3100), ("Name", "etcd.exe"), ("Path", "C:\\etcd\\etcd.exe"))), "restricted_to_policy",
     True),
    (java_state(owner=(("Id", 3100), ("Name", "etcd.exe"), ("Path", ""))), "restricted_to_policy", True),
    (java_state(owner=(("Id", 4), ("Name", "System"), ("Path", ""))), "restricted_to_policy", True),
])
def test_program_rule_is_decided_by_the_listening_process(document, kind, certain):
    policy = hand_policy([allow("cml-peers", [4111], PEERS)])
    if document.get("tcp") and document["processes"] and document["processes"][0]["Id"] == 4:
        document["tcp"][0]["OwningProcess"] = 4
    [finding] = findings(evaluate_firewall(policy, document), port=4111, kind=kind)
    assert finding.get("certain", True) is certain
    if kind == "open_beyond_policy":
        assert ("may admit" in finding["message"]) is not certain
        assert finding["rules"] == [JAVA_RULE]


def test_program_rule_does_not_match_a_port_nobody_listens_on():
    policy = hand_policy([allow("cml-peers", [4111, 6010], PEERS)])
    result = evaluate_firewall(policy, java_state())
    assert findings(result, "open_beyond_policy", 4111) and findings(result, "restricted_to_policy", 6010)


def test_service_rule_matches_the_listening_service():
    rdp = win_rule("Remote Desktop - User Mode (TCP-In)", program="C:\\Windows\\system32\\svchost.exe",
                   service="termservice", ports=["3389"])
    listeners = {"tcp": [{"LocalAddress": "0.0.0.0", "LocalPort": 3389, "OwningProcess": 1100}], "udp": [],
                 "processes": [{"Id": 1100, "Name": "svchost.exe", "Path": "C:\\Windows\\System32\\svchost.exe"}]}
    policy = hand_policy([allow("admins", [3389], ["10.10.250.0/24"])])
    document = state([rdp], services=[{"Name": "TermService", "ProcessId": 1100}], **listeners)
    assert findings(evaluate_firewall(policy, document), "open_beyond_policy", 3389)[0]["certain"] is True
    document = state([rdp], services=[{"Name": "SessionEnv", "ProcessId": 1100}], **listeners)
    assert findings(evaluate_firewall(policy, document), "restricted_to_policy", 3389)


def test_loopback_and_the_host_itself_are_exempt():
    policy = hand_policy([deny("jmx", [9000])])
    local = win_rule("JMX local tools", ports=["9000"], remote=["127.0.0.1", "::1", "10.10.1.11"])
    [closed] = findings(evaluate_firewall(policy, state([local])), port=9000)
    assert closed["kind"] == "deny_port_closed" and closed["status"] == "pass"
    wider = win_rule("JMX local tools", ports=["9000"], remote=["127.0.0.0/8", "10.10.1.11", "10.0.0.5"])
    [opened] = findings(evaluate_firewall(policy, state([wider])), port=9000)
    assert opened["kind"] == "deny_port_open" and opened["beyond"] == ["10.0.0.5"]


def test_protocol_any_matches_tcp_and_udp_but_icmp_matches_neither():
    policy = hand_policy([allow("peer-tcp", [4111], ["10.10.1.12"]),
                          allow("peer-udp", [4111], ["10.10.1.12"], protocol="udp")])
    result = evaluate_firewall(policy, state([win_rule("Anything on 4111", protocol="Any", ports=["4111"])]))
    assert {f["protocol"] for f in findings(result, "open_beyond_policy", 4111)} == {"tcp", "udp"}
    result = evaluate_firewall(policy, state([win_rule("Ping", protocol="ICMPv4")]))
    assert not findings(result, "open_beyond_policy")
    assert {f["protocol"] for f in findings(result, "peers_not_admitted")} == {"tcp", "udp"}


def test_port_ranges_and_lists_split_findings_per_port():
    policy = hand_policy([allow("printers", ["5014-5020"], ["10.111.0.0/20"]), allow("peer", [4111], ["10.10.1.12"])])
    broad = win_rule("Vendor range", ports=["4000-4200", "5016"])
    result = evaluate_firewall(policy, state([broad]))
    assert [f["port"] for f in findings(result, "open_beyond_policy")] == [4111, 5016]
    assert [f["port"] for f in findings(result, "restricted_to_policy")] == ["5014-5015", "5017-5020"]
    assert [f["port"] for f in findings(result, "peers_not_admitted", rule="printers")] == ["5014-5015", "5017-5020"]
    assert [f["port"] for f in findings(result, "peers_admitted", rule="printers")] == [5016]
    result = evaluate_firewall(policy, state([win_rule("Vendor range", ports=["4112-4200"])]))
    assert not findings(result, "open_beyond_policy")


def test_remote_port_condition_does_not_narrow_exposure_but_gates_the_peers():
    policy = hand_policy([allow("replies", ["1024-65535"], ["10.111.0.0/20"], protocol="udp", remote_ports=[64099])])
    ours = win_rule("SafeQ Hardening - replies", group=DEFAULT_GROUP, protocol="UDP", ports=["1024-65535"],
                    remote=["10.111.0.0/255.255.240.0"], remote_ports=["64099"])
    result = evaluate_firewall(policy, state([ours]))
    assert result["summary"]["fail"] == 0 and findings(result, "peers_admitted")[0]["rules"] == [ours["DisplayName"]]
    dhcp = win_rule("Any source port 67", protocol="UDP", ports=["1024-65535"], remote_ports=["67"])
    result = evaluate_firewall(policy, state([ours, dhcp]))
    [opened] = findings(result, "open_beyond_policy")
    assert opened["certain"] and "only from remote ports 67, which the sender chooses" in opened["message"]
    peers_policy = hand_policy([allow("clients", [4111], ["10.10.1.12"])])
    gated = win_rule("Only from 64099", ports=["4111"], remote=["10.10.1.12"], remote_ports=["64099"])
    assert findings(evaluate_firewall(peers_policy, state([gated])), "peers_maybe_admitted", 4111)


def test_mask_and_range_notation_match_the_policy_cidrs():
    policy = hand_policy([allow("printers", [4096], ["10.111.0.0/20", "10.121.0.1", "10.121.0.2"])])
    exact = win_rule("Printers", ports=["4096"], remote=["10.111.0.0/255.255.240.0", "10.121.0.1-10.121.0.2"])
    result = evaluate_firewall(policy, state([exact]))
    assert result["summary"]["fail"] == 0 and findings(result, "peers_admitted", 4096)
    short = win_rule("Printers", ports=["4096"], remote=["10.111.0.0/255.255.248.0", "10.121.0.1-10.121.0.3"])
    result = evaluate_firewall(policy, state([short]))
    assert findings(result, "open_beyond_policy", 4096)[0]["beyond"] == ["10.121.0.3"]
    assert findings(result, "peers_not_admitted", 4096)[0]["missing"] == ["10.111.0.0/20"]
    assert AddressSet.from_tokens(["10.0.0.0/255.0.0.0"]) == AddressSet.from_tokens(["10.0.0.0-10.255.255.255"])


def test_block_rule_cuts_an_intended_peer():
    policy = hand_policy([allow("peers", [4111], PEERS)])
    ours = win_rule("SafeQ Hardening - peers", group=DEFAULT_GROUP, ports=["4111"], remote=PEERS)
    block = win_rule("Quarantine", action="Block", protocol="Any", remote=["10.10.1.13"])
    [missing] = findings(evaluate_firewall(policy, state([ours, block])), "peers_not_admitted", 4111)
    assert missing["missing"] == ["10.10.1.13"] and missing["rules"] == ["Quarantine"]
    assert "blocked by block rule 'Quarantine'" in missing["message"]


def test_override_block_rules_are_evaluated_as_plain_allow_rules():
    policy = hand_policy([deny("jmx", [19898])])
    bypass = win_rule("Monitoring bypass", action="AllowBypass", ports=["19898"], OverrideBlockRules=True)
    block = win_rule("SafeQ Hardening - jmx", group=DEFAULT_GROUP, action="Block", ports=["19898"])
    result = evaluate_firewall(policy, state([bypass, block]))
    assert findings(result, port=19898)[0]["kind"] == "deny_port_closed"
    [warning] = findings(result, "override_block_rules")
    assert warning["status"] == "warn" and "IPsec" in warning["message"]


def test_uncertain_block_rule_does_not_close_a_port():
    policy = hand_policy([deny("jmx", [19898])])
    opened = win_rule("Everything", ports=["19898"])
    program_block = win_rule("Block java", action="Block", ports=["19898"], program=JAVA)
    [finding] = findings(evaluate_firewall(policy, state([opened, program_block])), port=19898)
    assert finding["kind"] == "deny_port_open"


def test_winrm_http_in_from_any_on_the_management_port():
    policy = hand_policy([], management_ports=(5985,), management=("10.10.250.5",))
    result = evaluate_firewall(policy, load("installer_rules_cml.json"))
    [opened] = findings(result, "open_beyond_policy", 5985)
    assert opened["rules"] == ["Windows Remote Management (HTTP-In)"] and opened["certain"]
    assert opened["rule"] == "management-in-tcp" and "System (pid 4)" in opened["message"]
    [winrm] = [b for b in result["broader_rules"] if b["name"] == "WINRM-HTTP-In-TCP"]
    assert winrm["display_group"] == "Windows Remote Management" and winrm["ports"] == ["tcp/5985"]


def test_inbound_rules_ignored_and_unicast_response_off():
    discovery = allow("printer-replies", ["1024-65535"], ["10.111.0.0/20"], protocol="udp",
                      catalog_ids=["prn-out-tp-discovery-64099"])
    policy = hand_policy([allow("peers", [4111], PEERS), discovery])
    ours = win_rule("SafeQ Hardening - peers", group=DEFAULT_GROUP, ports=["4111"], remote=PEERS)
    result = evaluate_firewall(policy, state([ours], AllowInboundRules="False"))
    assert findings(result, "inbound_rules_ignored")[0]["status"] == "fail"
    assert findings(result, "peers_not_admitted", 4111)[0]["status"] == "fail"
    assert all(f["status"] == "fail" for f in result["findings"] if f["protocol"])
    result = evaluate_firewall(policy, state([ours], AllowUnicastResponseToMulticast="False"))
    assert findings(result, "unicast_response_off")[0]["status"] == "warn"
    plain = hand_policy([allow("peers", [4111], PEERS)])
    assert not findings(evaluate_firewall(plain, state([ours], AllowUnicastResponseToMulticast="False")),
                        "unicast_response_off")


def test_missing_filters_make_a_rule_may_admit():
    policy = hand_policy([allow("peers", [4111], PEERS)])
    broken = win_rule("Half read", Protocol=None, LocalPort=None, RemotePort=None, MissingFilters=["port"])
    result = evaluate_firewall(policy, state([broken]))
    [opened] = findings(result, "open_beyond_policy", 4111)
    assert opened["certain"] is False and "may admit" in opened["message"]
    assert findings(result, "rule_filters_missing")[0]["rules"] == ["Half read"]


@pytest.mark.parametrize("policy, field", [
    ("text", "policy: must be a mapping"),
    ({"host": "x", "rules": "none"}, "policy[x].rules"),
    (hand_policy([allow("p", ["a-b"], PEERS)]), "policy[test-1].rules[0].ports[0]"),
    (hand_policy([allow("p", [80], ["10.0.0.300"])]), "policy[test-1].rules[0].addresses"),
    (hand_policy([dict(allow("p", [80], PEERS), protocol="sctp")]), "policy[test-1].rules[0].protocol"),
])
def test_malformed_policy_names_the_field(policy, field):
    with pytest.raises(EvaluationError) as error:
        evaluate_firewall(policy, state([]))
    assert field in str(error.value)


def test_unknown_profile_override_is_rejected():
    with pytest.raises(EvaluationError):
        evaluate_firewall(hand_policy([]), state([]), profiles=["work"])


# ---- drift -------------------------------------------------------------------------------------

def test_drift_in_sync_after_apply(cml_policy):
    desired = firewall_rule_args(cml_policy)
    result = drift(desired, recorded(cml_policy, "installer_rules_cml.json"))
    inbound = [a["name"] for a in desired if a["direction"] == "in"]
    assert result["summary"]["fail"] == 0 and result["summary"]["pass"] == len(inbound)
    assert result["unchecked"] == [a["name"] for a in desired if a["direction"] != "in"]


def test_drift_missing_extra_changed(cml_policy):
    desired = firewall_rule_args(cml_policy)
    inbound = [a for a in desired if a["direction"] == "in"]
    document = recorded(cml_policy, "clean_cml.json")
    gone = inbound[1]["name"]
    touched = [a["name"] for a in inbound if a["action"] == "allow" and a["protocol"] == "tcp"][-1]
    document["rules"] = [r for r in document["rules"] if r["DisplayName"] != gone]
    changed = next(r for r in document["rules"] if r["DisplayName"] == touched)
    changed["RemoteAddress"] = ["Any"]
    changed["LocalPort"] = changed["LocalPort"] + ["1"]
    changed["Profile"] = "Domain"
    stale = rule_display_name(DEFAULT_PREFIX, "allow-in-tcp-old-peers")
    document["rules"].append(win_rule(stale, group=DEFAULT_GROUP, ports=["7777"], remote=["10.99.0.1"]))
    document["rules"].append(win_rule(rule_display_name(DEFAULT_PREFIX, "not-ours"), group="Other", ports=["1"]))
    result = drift(desired, document)
    by_kind = {}
    for finding in result["findings"]:
        by_kind.setdefault(finding["kind"], []).append(finding)
    assert [f["rule"] for f in by_kind["missing"]] == [gone] and by_kind["missing"][0]["status"] == "fail"
    [extra] = by_kind["extra"]
    assert extra["rule"] == stale and extra["status"] == "fail" and "stale" in extra["message"]
    [diff] = by_kind["changed"]
    assert diff["rule"] == touched and diff["status"] == "fail"
    assert {d["field"] for d in diff["differences"]} == {"remoteip", "localport", "profiles"}
    assert "remoteip is any, want" in diff["message"]
    assert len(by_kind["in_sync"]) == len(inbound) - 2


def test_drift_reads_windows_notation_as_equal():
    desired = [{"name": "SafeQ Hardening - printers", "group": DEFAULT_GROUP, "direction": "in", "action": "allow",
                "protocol": "tcp", "localport": "4096,5014-5020", "remoteport": "any", "localip": "any",
                "remoteip": "10.111.0.0/20,10.121.0.7", "program": "any", "service": "any",
                "profiles": ["domain", "private", "public"], "enabled": True, "state": "present"}]
    actual = win_rule("SafeQ Hardening - printers", group=DEFAULT_GROUP, ports=["5014-5020", "4096"],
                      remote=["10.121.0.7/255.255.255.255", "10.111.0.0/255.255.240.0"], Profile=2147483647)
    assert drift(desired, state([actual]))["findings"][0]["kind"] == "in_sync"
    block = win_rule("SafeQ Hardening - printers", group=DEFAULT_GROUP, action="Block", ports=["4096", "5014-5020"],
                     remote=["10.111.0.0/20", "10.121.0.7"])
    [changed] = drift(desired, state([block]))["findings"]
    assert changed["differences"] == [{"field": "action", "desired": "allow", "actual": "block"}]


def test_drift_absent_rules_and_duplicates():
    name = "SafeQ Hardening - old"
    document = state([win_rule(name, group=DEFAULT_GROUP, ports=["1"]), win_rule(name, group=DEFAULT_GROUP, ports=["1"])])
    result = drift([{"name": name, "state": "absent"}], document)
    assert [f["kind"] for f in result["findings"]] == ["extra", "extra"]
    present = [{"name": name, "group": DEFAULT_GROUP, "direction": "in", "action": "allow", "protocol": "tcp",
                "localport": "1", "remoteip": "any", "profiles": ["domain", "private", "public"]}]
    kinds = [f["kind"] for f in drift(present, document)["findings"]]
    assert kinds == ["duplicate", "in_sync"]
