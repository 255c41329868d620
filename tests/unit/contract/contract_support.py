# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the Windows contract tests: plays, simulated hosts, recorded state documents."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
_COLLECTIONS = str(ROOT / ".collections")
if _COLLECTIONS not in sys.path:  # tests/conftest.py normally did this already
    sys.path.insert(0, _COLLECTIONS)

HERE = Path(__file__).resolve().parent
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "windows_firewall"
FIREWALL_ROLE = ROOT / "roles" / "firewall"
OUR_GROUP = "SafeQ Hardening"
BACKUP_LIST = "C:\\ProgramData\\safeq_hardening\\disabled-rules.json"

# A small all-Windows inventory (3 CML + etcd, 2 ORS, CRS, AP Connector) for the policy core.
SAMPLE_GROUPS = {
    "safeq_cml": ["cml1", "cml2", "cml3"],
    "safeq_etcd": ["cml1", "cml2", "cml3"],
    "safeq_ors": ["ors1", "ors2"],
    "safeq_crs": ["crs1"],
    "safeq_ap_connector": ["apc1"],
}
_SAMPLE_COMMON = {
    "ansible_connection": "winrm",
    "ansible_winrm_scheme": "https",
    "safeq_controller_address": "10.10.250.5",
    "safeq_management_networks": ["10.10.250.0/24"],
    "safeq_workstation_networks": ["10.110.0.0/16", "10.120.0.0/16"],
    "safeq_printer_networks": ["10.111.0.0/20"],
    "safeq_ldap_servers": ["10.10.0.10"],
    "safeq_database_servers": ["10.10.2.50"],
    "safeq_smtp_servers": ["10.10.0.25"],
    "safeq_features": ["workstation_client", "central_reporting", "ldap_sync", "job_roaming", "smtp"],
}
SAMPLE_HOSTVARS = {
    name: dict(_SAMPLE_COMMON, ansible_host=address)
    for name, address in (("cml1", "10.10.1.11"), ("cml2", "10.10.1.12"), ("cml3", "10.10.1.13"),
                          ("ors1", "10.20.1.21"), ("ors2", "10.20.1.22"), ("crs1", "10.10.1.31"),
                          ("apc1", "10.10.1.41"))
}

# Host kinds of the counts table, by the component that names the server.
KINDS = (("cml", "CML"), ("ors", "ORS"), ("crs", "CRS"), ("ap_connector", "AP Connector"), ("etcd", "etcd"))

# Where the simulated hosts have the SafeQ services and configuration files (the layout of a host is
# an assumption; what is tested is that the roles find files below the services' install folders).
SERVICE_EXECUTABLES = {
    "YSoftSafeQCML": '"C:\\SafeQ5\\Management\\tomcat\\bin\\tomcat9.exe" //RS//YSoftSafeQCML',
    "YSoftSafeQCMLDBS": '"C:\\SafeQ5\\Management\\dbsync\\bin\\prunsrv.exe" //RS//YSoftSafeQCMLDBS',
    "YSoftSafeQLDAPReplicator": '"C:\\SafeQ5\\Management\\ldap\\bin\\prunsrv.exe" //RS//YSoftSafeQLDAPReplicator',
    "YSoftSafeQORS": '"C:\\SafeQORS\\Spooler\\bin\\prunsrv.exe" //RS//YSoftSafeQORS',
    "YSoftEtcd": 'C:\\SafeQ5\\etcd\\etcd.exe --config-file C:\\SafeQ5\\etcd\\etcd.conf',
}
CONF_COMPONENTS = ("cml", "crs")  # components whose JMX setting lives in a configuration file
CONF_FILES = {
    "cmldb-cluster.conf": "C:\\SafeQ5\\Management\\dbsync\\conf\\cmldb-cluster.conf",
    "crs.conf": "C:\\Program Files\\YSoft SafeQ 5\\CRS\\conf\\crs.conf",
}


def load_yaml(path):
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def role_defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (load_yaml(path) or {}) if path.is_file() else {}


def playbook_play(name, index=0):
    """(roles, host groups) of a play of playbooks/<name>.yml."""
    play = load_yaml(ROOT / "playbooks" / ("%s.yml" % name))[index]
    roles = [r["role"] if isinstance(r, dict) else r for r in play.get("roles") or []]
    return roles, [g.strip() for g in str(play["hosts"]).split(":")]


def play_hosts(groups, patterns):
    return sorted({h for pattern in patterns for h in groups.get(pattern, [])})


def host_kind(policy):
    components = set(policy["components"])
    return next(label for component, label in KINDS if component in components)


# ---- recorded state documents ----------------------------------------------------------------

def load_fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def windows_address(token):
    """How Get-NetFirewallAddressFilter shows what win_firewall_rule wrote (subnets in mask notation)."""
    if token == "any":
        return "Any"
    network = ipaddress.ip_network(token, strict=False)
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else "%s/%s" % (
        network.network_address, network.netmask)


def recorded_rules(rule_args):
    """Our enabled rules as the state query (version 2) prints them after win_firewall_rule applied them."""
    rules = []
    for args in rule_args:
        if args.get("state", "present") != "present":
            continue
        rules.append({
            "Name": "{%s}" % args["name"], "DisplayName": args["name"], "Group": args["group"],
            "DisplayGroup": args["group"], "Enabled": "True",
            "Direction": "Inbound" if args.get("direction") == "in" else "Outbound",
            "Action": args["action"].capitalize(),
            "Profile": "Any" if sorted(args["profiles"]) == ["domain", "private", "public"]
            else ", ".join(p.capitalize() for p in args["profiles"]),
            "PolicyStoreSourceType": "Local", "PolicyStoreSource": "PersistentStore", "EdgeTraversalPolicy": "Block",
            "Protocol": args["protocol"].upper(), "LocalPort": ["Any" if t == "any" else t for t in args["localport"].split(",")],
            "RemotePort": ["Any" if t == "any" else t for t in args["remoteport"].split(",")],
            "RemoteAddress": [windows_address(t) for t in args["remoteip"].split(",")],
            "LocalAddress": [windows_address(t) for t in args["localip"].split(",")],
            "Program": "Any", "ProgramPath": None, "Service": "Any", "Authentication": "NotRequired",
            "OverrideBlockRules": False, "MissingFilters": [],
        })
    return rules


def without_our_rules(document, host=None):
    """The document as before the first run: no rule of our group."""
    document = copy.deepcopy(document)
    document["rules"] = [r for r in document["rules"] if r.get("Group") != OUR_GROUP]
    document["version"] = 2  # the query lists our group's outbound rules too
    if host:
        document["computer"] = host.upper()
    return document


def with_our_rules(document, rule_args, host=None):
    """The document after harden applied ``rule_args`` (our recorded rules replaced by them)."""
    document = without_our_rules(document, host)
    document["rules"] = recorded_rules(rule_args) + document["rules"]
    return document


def winrm_https_rule(addresses=("Any",)):
    """Another (not our) allow rule that admits the controller to WinRM over HTTPS."""
    return {
        "Name": "WINRM-HTTPS-In-TCP", "DisplayName": "Windows Remote Management (HTTPS-In)", "Group": "",
        "DisplayGroup": "", "Enabled": "True", "Direction": "Inbound", "Action": "Allow", "Profile": "Any",
        "PolicyStoreSourceType": "Local", "PolicyStoreSource": "PersistentStore", "EdgeTraversalPolicy": "Block",
        "Protocol": "TCP", "LocalPort": ["5986"], "RemotePort": ["Any"], "RemoteAddress": list(addresses),
        "LocalAddress": ["Any"], "Program": "System", "ProgramPath": "System", "Service": "Any",
        "Authentication": "NotRequired", "OverrideBlockRules": False, "MissingFilters": [],
    }


# ---- simulated Windows hosts -------------------------------------------------------------------

def component_services(policy):
    """{service: install info} for the services the host's component roles read."""
    services = {}
    for component in policy["components"]:
        for name in role_defaults(component).get("%s_services" % component) or []:
            services[name] = {"state": "started", "start_mode": "auto", "path": SERVICE_EXECUTABLES.get(name)}
    return services


def component_files(policy):
    """The JMX configuration files the host's components keep (catalog settings in files)."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog
    from ansible_collections.safeq.hardening.plugins.plugin_utils.jmx import jmx_interface_settings

    files = {}
    for setting in jmx_interface_settings(policy["components"], load_catalog().entries):
        if setting["location"] in CONF_FILES:
            files[CONF_FILES[setting["location"]]] = "%s=0.0.0.0\n" % setting["property"]
    return files


def healthy_listeners(policy, jmx_everywhere=False):
    """win_listen_ports_facts output: localhost-bound ports on 127.0.0.1, the rest on every address."""
    tcp, udp = [], []
    for index, entry in enumerate(policy["expected_listeners"]):
        local = entry.get("exposure") == "fail" and not jmx_everywhere
        for port in entry["ports"]:
            first = int(str(port).split("-", maxsplit=1)[0])
            record = {"address": "127.0.0.1" if local else "0.0.0.0", "port": first, "pid": 4000 + index,
                      "name": "java", "protocol": entry["protocol"]}
            (tcp if entry["protocol"] == "tcp" else udp).append(record)
    return {"tcp_listen": tcp, "udp_listen": udp}


def windows_host(policy, document, changes=True, files=None, services=None, listeners=None):
    """The simulated host: state document, the components' services and files, listening sockets."""
    return {
        "firewall_state": document,
        "services": component_services(policy) if services is None else services,
        "files": dict(component_files(policy), **files) if files else ({} if files == {} else component_files(policy)),
        "listeners": healthy_listeners(policy) if listeners is None else listeners,
        "changes": changes,
    }


# ---- running the simulator ---------------------------------------------------------------------

def run_simulation(scenarios, root=None, inventory="inventories/example", workers=None):
    """Run simulate_tasks.py (in parallel subprocesses, scenarios split evenly); returns {scenario id: run}."""
    root = root or ROOT
    workers = max(1, min(workers or os.cpu_count() or 1, len(scenarios) or 1))
    chunks = [scenarios[i::workers] for i in range(workers)]

    def run(chunk):
        payload = json.dumps({"root": str(root), "inventory": inventory, "scenarios": chunk})
        return subprocess.run([sys.executable, str(HERE / "simulate_tasks.py")], input=payload, capture_output=True,
                              text=True, cwd=str(root), timeout=1800, check=False)

    runs, failures = {}, []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for proc in pool.map(run, chunks):
            if proc.returncode != 0:
                failures.append("simulate_tasks.py failed (rc %d):\n%s" % (proc.returncode, proc.stderr[-4000:]))
            else:
                runs.update(json.loads(proc.stdout)["runs"])
    if failures:
        raise AssertionError("\n".join(failures))
    return runs


def windows_calls(run, module=None):
    """The Windows module calls of a run (optionally of one module, by the name it runs as)."""
    return [c for c in run["calls"] if module is None or c["runs_as"] == module]


# ---- the scenarios of the contract tests -------------------------------------------------------

STALE_RULE = "SafeQ Hardening - allow-in-tcp-retired"
FIREWALL_ONLY = ["safeq.hardening.firewall"]
REPORT_FACTS = ["__firewall_windows_audit", "__firewall_disable", "__firewall_restore", "__component_jmx",
                "__verify_checks", "verify_host_results"]
# A probe result for verify's reachability check (the probe runs on the controller, not on Windows).
NO_PROBE = {"changed": False, "states": {}, "probes": 0, "sources": {}}


def stale_rule():
    """A rule of ours that the policy no longer contains (left by an older policy)."""
    return recorded_rules([{
        "name": STALE_RULE, "group": OUR_GROUP, "direction": "in", "action": "allow", "protocol": "tcp",
        "localport": "7777", "remoteport": "any", "localip": "any", "remoteip": "10.99.0.0/16",
        "profiles": ["domain", "private", "public"], "state": "present",
    }])[0]


def with_rules(document, *rules):
    document = copy.deepcopy(document)
    document["rules"] = document["rules"] + list(rules)
    return document


def changed_management(document, rules):
    """Our rules with the management rule open to any address (someone widened it by hand)."""
    document = copy.deepcopy(document)
    for rule in document["rules"]:
        if rule["DisplayName"] == rules[0]["name"]:
            rule["RemoteAddress"] = ["Any"]
    return document


def scenario(kind, host, roles, windows, extra_vars=None, registers=None):
    return {"id": "%s/%s" % (kind, host), "kind": kind, "host": host, "play": {"roles": list(roles)},
            "windows": windows, "extra_vars": extra_vars or {}, "registers": registers or {},
            "report_facts": REPORT_FACTS}


def first_of_each_kind(plan, hosts):
    firsts = {}
    for host in sorted(hosts):
        firsts.setdefault(host_kind(plan["policies"][host]), host)
    return sorted(firsts.values())


def contract_scenarios(plan, hosts):
    """Every scenario of the contract tests, for every host in ``hosts`` (restore comes later)."""
    harden, _patterns = playbook_play("harden")
    verify, _patterns = playbook_play("verify")
    clean, installer = load_fixture("clean_cml.json"), load_fixture("installer_rules_cml.json")
    profile_off, gpo = load_fixture("profile_off_cml.json"), load_fixture("gpo_merge_off_cml.json")
    result = []
    for host in hosts:
        policy, rules = plan["policies"][host], plan["rendered"][host]["windows"]
        ours, none = with_our_rules(clean, rules, host), without_our_rules(clean, host)
        result += [
            scenario("first", host, harden, windows_host(policy, none)),
            scenario("second", host, harden, windows_host(policy, ours, changes=False)),
            scenario("absent", host, harden, windows_host(policy, with_rules(ours, stale_rule())),
                     {"firewall_state": "absent"}),
            scenario("absent_other_winrm", host, harden,
                     windows_host(policy, with_rules(ours, winrm_https_rule(["10.10.250.0/255.255.255.0"]))),
                     {"firewall_state": "absent"}),
            scenario("drift", host, FIREWALL_ONLY,
                     windows_host(policy, with_rules(changed_management(ours, rules), stale_rule()))),
            scenario("profile_off", host, FIREWALL_ONLY, windows_host(policy, without_our_rules(profile_off, host))),
            scenario("enable_profiles", host, FIREWALL_ONLY, windows_host(policy, without_our_rules(profile_off, host)),
                     {"firewall_windows_enable_profiles": True}),
            scenario("gpo_merge_off", host, FIREWALL_ONLY, windows_host(policy, without_our_rules(gpo, host)),
                     {"firewall_windows_enable_profiles": True}),
            scenario("disable_broader", host, FIREWALL_ONLY,
                     windows_host(policy, with_our_rules(installer, rules, host), changes=False),
                     {"firewall_disable_broader_rules": True}),
            scenario("verify", host, verify, windows_host(policy, ours, changes=False), registers={"__verify_probe": NO_PROBE}),
        ]
    # Negative component scenarios on the first host of each kind (the component tasks do not depend on the host).
    for host in first_of_each_kind(plan, hosts):
        policy, rules = plan["policies"][host], plan["rendered"][host]["windows"]
        ours = with_our_rules(clean, rules, host)
        if any(c in policy["components"] for c in CONF_COMPONENTS):
            result += [
                scenario("jmx_file_missing", host, harden, windows_host(policy, ours, changes=False, files={})),
                scenario("jmx_file_missing_warn", host, harden, windows_host(policy, ours, changes=False, files={}),
                         {"%s_jmx_missing_file" % c: "warn" for c in CONF_COMPONENTS}),
            ]
        result.append(scenario("jmx_listens_everywhere", host, harden,
                               windows_host(policy, ours, changes=False, listeners=healthy_listeners(policy, True))))
    return result


def restore_scenarios(plan, runs):
    """Restore after each host's disable_broader run: the list on the host is what that run wrote."""
    result = []
    for run_id, run in sorted(runs.items()):
        if not run_id.startswith("disable_broader/"):
            continue
        host = run_id.split("/", 1)[1]
        written = [c for c in run["calls"] if c["runs_as"] == "ansible.windows.win_copy"]
        policy, rules = plan["policies"][host], plan["rendered"][host]["windows"]
        document = with_our_rules(load_fixture("clean_cml.json"), rules, host)
        if written:
            windows = windows_host(policy, document, files={written[0]["args"]["dest"]: written[0]["args"]["content"]})
            result.append(scenario("restore_broader", host, FIREWALL_ONLY, windows,
                                   {"firewall_restore_broader_rules": True}))
        result.append(scenario("restore_nothing_disabled", host, FIREWALL_ONLY, windows_host(policy, document),
                               {"firewall_restore_broader_rules": True}))
    return result
