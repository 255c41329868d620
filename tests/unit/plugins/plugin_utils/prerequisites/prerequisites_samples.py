# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inputs of the prerequisite checks, shaped like the real ones.

* ``plan()``: the result of the real plan (compute_plan, the core of safeq.hardening.policy_plan) for a
  small inventory: cml-win (Windows), cml-lx (Linux) in one CML cluster, ors-lx (Linux ORS, near-roaming
  group floor1), with the real port catalog.
* ``windows()`` / ``linux()``: the registered results the role gathers, shaped like the output of the
  modules it runs (ansible.windows.*, community.windows.*, ansible.builtin.*, safeq.hardening.listening_sockets).
* ``settings()``: the role's settings built from its real defaults (roles/prerequisites/defaults/main.yml).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.evaluation import evaluate_host

ROOT = Path(__file__).resolve().parents[5]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "prerequisites" / "defaults" / "main.yml").read_text(encoding="utf-8"))
GIB = 1024 ** 3
SKIPPED = {"changed": False, "skipped": True, "false_condition": "x | bool", "skip_reason": "Conditional result was False"}
HOSTS = {"windows": "cml-win", "linux": "cml-lx"}

COMMON = {
    "safeq_workstation_networks": ["10.100.0.0/16"],
    "safeq_ldap_servers": ["10.20.0.0/24", "10.10.0.5"],
    "safeq_database_servers": ["10.10.5.20"],
    "safeq_controller_address": "10.250.0.5",
}


def inventory():
    """(groups, hostvars) of the sample inventory."""
    groups = {"safeq_cml": ["cml-win", "cml-lx"], "safeq_ors": ["ors-lx"]}
    hostvars = {
        "cml-win": dict(COMMON, ansible_host="10.10.1.11", ansible_connection="winrm",
                        safeq_features=["workstation_client"]),
        "cml-lx": dict(COMMON, ansible_host="10.10.1.12", ansible_connection="ssh", safeq_features=["workstation_client"]),
        "ors-lx": dict(COMMON, ansible_host="10.10.2.11", ansible_connection="ssh", safeq_near_roaming_group="floor1"),
    }
    return groups, hostvars


def plan_of(groups, hostvars):
    """What safeq.hardening.policy_plan returns for these inventory inputs (policies and topology)."""
    result = compute_plan(groups, hostvars)
    return {"summary": result["summary"], "warnings_list": result["warnings"], "policies": result["policies"],
            "topology": result["topology_view"]}


@functools.lru_cache(maxsize=1)
def _plan():
    return plan_of(*inventory())


def plan():
    return copy.deepcopy(_plan())


def settings(platform="windows", host=None, **extra):
    cfg = {
        "host": host or HOSTS[platform], "platform": platform, "phase": "auto", "skip": [], "mandatory": {},
        "supported_platforms": DEFAULTS["prerequisites_supported_platforms"],
        "min_cpu_cores": DEFAULTS["prerequisites_min_cpu_cores"], "min_memory_mb": DEFAULTS["prerequisites_min_memory_mb"],
        "memory_tolerance_percent": DEFAULTS["prerequisites_memory_tolerance_percent"],
        "min_free_disk_gib": DEFAULTS["prerequisites_min_free_disk_gib"],
        "install_path": "C:\\SafeQ5" if platform == "windows" else "/opt",
        "embedded_mssql": False, "check_updates": True,
        "av_exclusions": ["C:\\SafeQ5"] if platform == "windows" else ["/opt"],
        "av_product_patterns": DEFAULTS["prerequisites_av_product_patterns"],
        "interfering_software": DEFAULTS["prerequisites_interfering_software"],
        "intended_software": [],
        "web_server_patterns": DEFAULTS["prerequisites_web_server_patterns"],
        "browser_patterns": DEFAULTS["prerequisites_browser_patterns"],
        "safeq_process_patterns": DEFAULTS["prerequisites_safeq_process_patterns"],
        "safeq_service_patterns": DEFAULTS["prerequisites_safeq_service_patterns"],
        "external_database": None, "install_share": "", "ldap": {},
    }
    cfg.update(extra)
    return cfg


def windows(**overrides):
    gathered = {
        "facts": {"os_family": "Windows", "distribution": "Microsoft Windows Server 2019 Datacenter",
                  "distribution_version": "10.0.17763.0", "processor_vcpus": 4, "processor_cores": 2,
                  "processor_count": 2, "processor_threads_per_core": 1, "memtotal_mb": 16383},
        "services": {"changed": False, "exists": True, "services": [
            {"name": "Spooler", "display_name": "Print Spooler", "state": "started", "start_mode": "auto",
             "path": "C:\\Windows\\System32\\spoolsv.exe", "process_id": 2168},
            {"name": "WinRM", "display_name": "Windows Remote Management (WS-Management)", "state": "started"},
        ]},
        "listeners": {"changed": False, "ansible_facts": {
            "tcp_listen": [
                {"address": "::", "name": "System", "pid": 4, "port": 5986, "protocol": "tcp", "stime": None,
                 "user": None},
                {"address": "0.0.0.0", "name": "svchost.exe", "pid": 912, "port": 135, "protocol": "tcp",
                 "stime": "Mon Jan 8 09:12:01 2024", "user": "NT AUTHORITY\\NETWORK SERVICE"}],
            "udp_listen": [{"address": "0.0.0.0", "name": "svchost.exe", "pid": 1320, "port": 123,
                            "protocol": "udp", "stime": None, "user": "NT AUTHORITY\\LOCAL SERVICE"}]}},
        "products": {"changed": False, "error": [], "host_out": "", "host_err": "", "result": {}, "output": [
            {"DisplayName": "Google Chrome", "DisplayVersion": "120.0.6099.110", "Publisher": "Google LLC"},
            {"DisplayName": "Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33130",
             "DisplayVersion": "14.38.33130.0", "Publisher": "Microsoft Corporation"},
            {"DisplayName": "7-Zip 23.01 (x64)", "DisplayVersion": "23.01", "Publisher": "Igor Pavlov"}]},
        "msi": dict(SKIPPED),
        "whoami": {"changed": False,
                   "account": {"account_name": "Administrator", "domain_name": "CML1",
                               "sid": "S-1-5-21-1654078763-769949647-2968445802-500", "type": "User"},
                   "groups": [{"account_name": "Administrators", "domain_name": "BUILTIN",
                               "attributes": ["Mandatory", "Enabled by default", "Enabled", "Owner"],
                               "sid": "S-1-5-32-544", "type": "Alias"},
                              {"account_name": "Users", "domain_name": "BUILTIN",
                               "attributes": ["Mandatory", "Enabled by default", "Enabled"], "sid": "S-1-5-32-545",
                               "type": "Alias"}],
                   "label": {"account_name": "High Mandatory Level", "domain_name": "Mandatory Label",
                             "sid": "S-1-16-12288", "type": "Label"},
                   "logon_type": "Network", "privileges": {"SeDebugPrivilege": "enabled"}},
        "updates": {"changed": False, "found_update_count": 0, "updates": {}, "filtered_updates": {},
                    "reboot_required": False, "rebooted": False},
        "av": {"changed": False, "error": [], "output": ["C:\\SafeQ5", "D:\\Backup"]},
        "features_info": {"changed": False, "exists": True, "features": [
            {"name": "Print-Services", "display_name": "Print and Document Services", "installed": False,
             "install_state": "Available", "feature_type": "Role"},
            {"name": "Print-Server", "display_name": "Print Server", "installed": False,
             "install_state": "Available", "feature_type": "Role Service"},
            {"name": "Print-LPD-Service", "display_name": "LPD Service", "installed": False,
             "install_state": "Available", "feature_type": "Role Service"}]},
        "ip": {"changed": False, "error": [], "output": [
            {"InterfaceAlias": "Ethernet0", "IPAddress": "10.10.1.11", "PrefixOrigin": "Manual"},
            {"InterfaceAlias": "Loopback Pseudo-Interface 1", "IPAddress": "127.0.0.1", "PrefixOrigin": "WellKnown"}]},
        "disk": {"changed": False, "ansible_facts": {"disks": [{"number": 0, "system_disk": True, "partitions": [
            {"number": 1, "drive_letter": None, "size": 524288000, "volumes": [
                {"size": 524288000, "size_remaining": 100000000, "type": "NTFS", "label": "System Reserved"}]},
            {"number": 2, "drive_letter": "C", "size": 106837774336, "volumes": [
                {"size": 106837774336, "size_remaining": 60 * GIB, "type": "NTFS", "label": "",
                 "drive_type": "Fixed", "health_status": "Healthy"}]}]}]}},
        "share": dict(SKIPPED),
        "ldap_reach": dict(SKIPPED),
    }
    gathered.update(overrides)
    return gathered


APT_SIM = """NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Calculating upgrade...
The following packages will be upgraded:
  libgcrypt20 liblzma5 tzdata
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst liblzma5 [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.15/oldstable [all])
Conf libgcrypt20 (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
"""


def ip_stdout(address="10.10.1.12", **addr_info):
    info = {"family": "inet", "local": address, "prefixlen": 24, "broadcast": "10.10.1.255", "scope": "global",
            "label": "ens18", "valid_life_time": 4294967295, "preferred_life_time": 4294967295}
    info.update(addr_info)
    return json.dumps([
        {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "addr_info": [
            {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host", "label": "lo",
             "valid_life_time": 4294967295, "preferred_life_time": 4294967295}]},
        {"ifindex": 2, "ifname": "ens18", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "addr_info": [info]}])


def linux(**overrides):
    gathered = {
        "facts": {"os_family": "Debian", "distribution": "Debian", "distribution_version": "12.5",
                  "processor_vcpus": 4, "processor_cores": 4, "processor_count": 1, "memtotal_mb": 7941,
                  "pkg_mgr": "apt", "effective_user_id": 0, "user_uid": 1000, "user_id": "deploy",
                  "mounts": [{"mount": "/", "device": "/dev/sda1", "fstype": "ext4", "size_available": 50 * GIB,
                              "size_total": 80 * GIB},
                             {"mount": "/opt", "device": "/dev/sdb1", "fstype": "xfs", "size_available": 45 * GIB,
                              "size_total": 100 * GIB},
                             {"mount": "/optional", "device": "/dev/sdc1", "fstype": "xfs", "size_available": 1,
                              "size_total": 2}]},
        "services": {"changed": False, "ansible_facts": {"services": {
            "ssh.service": {"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"},
            "cron.service": {"name": "cron.service", "state": "running", "status": "enabled", "source": "systemd"}}}},
        "packages": {"changed": False, "ansible_facts": {"packages": {
            "openssh-server": [{"name": "openssh-server", "version": "1:9.2p1-2+deb12u2", "arch": "amd64",
                                "category": "net", "origin": "Debian", "source": "apt"}],
            "firefox-esr": [{"name": "firefox-esr", "version": "115.6.0esr-1~deb12u1", "arch": "amd64",
                             "category": "web", "origin": "Debian", "source": "apt"}]}}},
        "packages_cmd": dict(SKIPPED),
        "listeners": {"changed": False, "unresolved": 0, "listeners": [
            {"protocol": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 22, "pid": 612, "process": "sshd"},
            {"protocol": "tcp", "family": "ipv6", "address": "::", "port": 22, "pid": 612, "process": "sshd"},
            {"protocol": "udp", "family": "ipv4", "address": "127.0.0.1", "port": 323, "pid": 540,
             "process": "chronyd"}]},
        "updates_cmd": {"changed": False, "rc": 0, "stdout": "Reading package lists...\n0 upgraded, 0 newly "
                        "installed, 0 to remove and 0 not upgraded.\n", "stderr": ""},
        "ip": {"changed": False, "rc": 0, "stderr": "", "stdout": ip_stdout()},
        "share": dict(SKIPPED),
        "ldap_reach": dict(SKIPPED),
    }
    gathered.update(overrides)
    return gathered


def with_listener(gathered, record):
    """A copy of ``gathered`` with one more listening socket (module output shape of the platform)."""
    g = copy.deepcopy(gathered)
    if "tcp_listen" in g["listeners"].get("ansible_facts", {}):
        g["listeners"]["ansible_facts"]["tcp_listen"].append(record)
    else:
        g["listeners"]["listeners"].append(record)
    return g


def run(gathered, cfg, the_plan=None):
    """{check id: result} of one host."""
    return {r["id"]: r for r in evaluate_host(gathered, cfg, the_plan or plan())}


def one(check_id, gathered, cfg, the_plan=None):
    return run(gathered, cfg, the_plan)[check_id]
