"""Checklist decisions (plugins/plugin_utils/prerequisites.py) for Windows and Linux inputs.

Inputs are shaped like the registered results of the modules the role runs (ansible.windows.*,
community.windows.*, ansible.builtin.*, community.general.ldap_search, safeq.hardening.listening_sockets).
The configuration uses the role's real defaults (roles/prerequisites/defaults/main.yml).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils import prerequisites as P

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "prerequisites" / "defaults" / "main.yml").read_text())
GIB = 1024 ** 3
SKIPPED = {"changed": False, "skipped": True, "false_condition": "x | bool", "skip_reason": "Conditional result was False"}


def config(platform="windows", components=("cml",), **extra):
    cfg = {
        "host": "cml1", "platform": platform, "components": list(components), "features": [], "cml_count": 2,
        "phase": "auto", "skip": [], "mandatory": {},
        "supported_platforms": DEFAULTS["prerequisites_supported_platforms"],
        "min_cpu_cores": 4, "min_memory_mb": 8192, "memory_tolerance_percent": 5, "min_free_disk_gib": 40,
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
        "external_database": None, "install_share": "", "safeq_address": "10.10.1.11",
        "expected_listeners": [
            {"port": 80, "protocol": "tcp", "bind": "any", "catalog_id": "ws-admin-web", "settings": []},
            {"port": 443, "protocol": "tcp", "bind": "any", "catalog_id": "ws-admin-web", "settings": []},
            {"port": 515, "protocol": "tcp", "bind": "any", "catalog_id": "ws-lpr-515", "settings": []},
            {"port": 19898, "protocol": "tcp", "bind": "localhost", "catalog_id": "ws-jmx-cml-19898", "settings": [
                {"property": "cmlJmxNetworkInterface", "location": "system_settings", "controls": "interface",
                 "component": None}]},
        ],
        "unresolved_ports": [],
        "ldap": {},
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
        "ip": {"changed": False, "rc": 0, "stderr": "", "stdout": json.dumps([
            {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "addr_info": [
                {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host", "label": "lo",
                 "valid_life_time": 4294967295, "preferred_life_time": 4294967295}]},
            {"ifindex": 2, "ifname": "ens18", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "addr_info": [
                {"family": "inet", "local": "10.10.1.11", "prefixlen": 24, "broadcast": "10.10.1.255",
                 "scope": "global", "label": "ens18", "valid_life_time": 4294967295,
                 "preferred_life_time": 4294967295}]}])},
        "share": dict(SKIPPED),
        "ldap_reach": dict(SKIPPED),
    }
    gathered.update(overrides)
    return gathered


def run(gathered, cfg):
    return {r["id"]: r for r in P.evaluate_host(gathered, cfg)}


def one(check_id, gathered, cfg):
    return run(gathered, cfg)[check_id]


# ---- whole evaluation --------------------------------------------------------------------------

@pytest.mark.parametrize("platform, gathered", [("windows", windows()), ("linux", linux())])
def test_every_host_check_reported_once(platform, gathered):
    results = P.evaluate_host(gathered, config(platform))
    ids = [r["id"] for r in results]
    expected = [c["id"] for c in P.CHECKS if c["id"] not in P.RUN_CHECKS]
    assert ids == expected
    for res in results:
        assert res["status"] in P.STATUSES
        assert res["item"] and res["evidence"] and res["host"] == "cml1" and res["platform"] == platform
        if res["status"] == "manual":
            assert res["question"] and res["answered_by"], res


def test_clean_windows_host_has_no_failures():
    res = run(windows(), config("windows"))
    assert {r["id"] for r in res.values() if r["status"] == "fail"} == set()
    assert res["PRE-WEB-80"]["status"] == "pass" and res["PRE-ADMIN"]["status"] == "pass"
    assert res["PRE-MSI-45"]["status"] == "not_applicable"


def test_components_and_platform_applicability():
    res = run(linux(), config("linux", components=("ors",)))
    assert res["PRE-LDAP-BIND"]["status"] == "not_applicable" and "cml" in res["PRE-LDAP-BIND"]["evidence"]
    assert res["PRE-MSI-45"]["status"] == "not_applicable"
    assert res["PRE-SHARED-FOLDER"]["status"] == "not_applicable"
    assert res["PRE-HW-CPU"]["mandatory"] is False  # mandatory for CML only
    assert run(linux(), config("linux"))["PRE-HW-CPU"]["mandatory"] is True


def test_skip_and_mandatory_overrides():
    res = run(windows(), config("windows", skip=["PRE-PATCHES"], mandatory={"PRE-AV-EXCL": True}))
    assert res["PRE-PATCHES"]["status"] == "not_applicable"
    assert "prerequisites_skip" in res["PRE-PATCHES"]["evidence"]
    assert res["PRE-AV-EXCL"]["mandatory"] is True


def test_bad_inputs():
    with pytest.raises(P.PrerequisiteError):
        P.evaluate_host([], config())
    with pytest.raises(P.PrerequisiteError):
        P.evaluate_host({}, "x")
    with pytest.raises(P.PrerequisiteError, match="needs name, category, pattern"):
        P.evaluate_host(linux(), config("linux", interfering_software=[{"name": "x"}]))


def test_nothing_gathered_becomes_manual_not_silent():
    results = P.evaluate_host({}, config("linux"))
    by = {r["id"]: r for r in results}
    for check_id in ("PRE-WEB-80", "PRE-HW-CPU", "PRE-STATIC-IP", "PRE-PATCHES", "PRE-ADMIN", "PRE-PORTS"):
        assert by[check_id]["status"] == "manual", by[check_id]
        assert by[check_id]["evidence"]


# ---- PRE-PLATFORM ---------------------------------------------------------------------------------

def test_platform():
    assert one("PRE-PLATFORM", windows(), config())["status"] == "pass"
    old = windows(facts=dict(windows()["facts"], distribution="Microsoft Windows Server 2008 R2 Standard"))
    res = one("PRE-PLATFORM", old, config())
    assert res["status"] == "warn" and "2008 R2" in res["evidence"]
    assert one("PRE-PLATFORM", linux(), config("linux"))["status"] == "pass"
    suse = linux(facts=dict(linux()["facts"], distribution="SLES", distribution_version="15.5"))
    assert one("PRE-PLATFORM", suse, config("linux"))["status"] == "warn"


# ---- PRE-WEB-80 -----------------------------------------------------------------------------------

def _with_listener(gathered, record, platform="windows"):
    g = copy.deepcopy(gathered)
    if platform == "windows":
        g["listeners"]["ansible_facts"]["tcp_listen"].append(record)
    else:
        g["listeners"]["listeners"].append(record)
    return g


def test_web80_iis_before_installation_fails_with_http_sys_hint():
    g = _with_listener(windows(), {"address": "0.0.0.0", "name": "System", "pid": 4, "port": 80, "protocol": "tcp"})
    g["services"]["services"].append({"name": "W3SVC", "display_name": "World Wide Web Publishing Service",
                                      "state": "started"})
    res = one("PRE-WEB-80", g, config())
    assert res["status"] == "fail" and res["mandatory"]
    assert "System pid 4" in res["evidence"] and "W3SVC" in res["evidence"] and "HTTP.sys" in res["remediation"]


def test_web80_installed_web_server_not_on_80_passes():
    g = copy.deepcopy(linux())
    g["services"]["ansible_facts"]["services"]["nginx.service"] = {"name": "nginx.service", "state": "running",
                                                                   "status": "enabled", "source": "systemd"}
    res = one("PRE-WEB-80", g, config("linux"))
    assert res["status"] == "pass" and "nginx.service" in res["evidence"]


def test_web80_after_installation_safeq_owner_is_fine():
    g = _with_listener(windows(), {"address": "0.0.0.0", "name": "java.exe", "pid": 3120, "port": 80, "protocol": "tcp"})
    g["services"]["services"].append({"name": "YSoftSQ-SPOC", "display_name": "YSoft SafeQ Spooler Controller",
                                      "state": "started"})
    assert one("PRE-WEB-80", g, config())["status"] == "pass"
    # the same java listener before installation (no SafeQ service) is a conflict
    g2 = _with_listener(windows(), {"address": "0.0.0.0", "name": "java.exe", "pid": 3120, "port": 80,
                                    "protocol": "tcp"})
    assert one("PRE-WEB-80", g2, config())["status"] == "fail"
    # forcing the phase
    assert one("PRE-WEB-80", g2, config(phase="post_install"))["status"] == "pass"


def test_web80_listeners_missing():
    res = one("PRE-WEB-80", windows(listeners={"failed": True, "msg": "Access denied"}), config())
    assert res["status"] == "manual" and "Access denied" in res["evidence"]


# ---- PRE-PORTS / PRE-PORTS-BIND ---------------------------------------------------------------------

def test_ports_conflict_before_installation():
    g = _with_listener(linux(), {"protocol": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 515, "pid": 901,
                                 "process": "lpd"}, "linux")
    res = run(g, config("linux"))
    assert res["PRE-PORTS"]["status"] == "fail" and "lpd (pid 901)" in res["PRE-PORTS"]["evidence"]
    assert "ws-lpr-515" in res["PRE-PORTS"]["evidence"]
    assert res["PRE-PORTS-BIND"]["status"] == "not_applicable"


def test_ports_after_installation_exposed_jmx_names_property():
    g = _with_listener(windows(), {"address": "0.0.0.0", "name": "java.exe", "pid": 3120, "port": 19898,
                                   "protocol": "tcp"})
    res = run(g, config(phase="post_install"))
    assert res["PRE-PORTS"]["status"] == "pass"
    bind = res["PRE-PORTS-BIND"]
    assert bind["status"] == "fail" and "cmlJmxNetworkInterface" in bind["evidence"]


def test_ports_unknown_owner_warns_after_installation():
    g = _with_listener(linux(), {"protocol": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 443, "pid": None,
                                 "process": None}, "linux")
    res = one("PRE-PORTS", g, config("linux", phase="post_install"))
    assert res["status"] == "warn" and "could not be read" in res["evidence"]


def test_ports_80_is_left_to_web80():
    g = _with_listener(linux(), {"protocol": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 80, "pid": 7,
                                 "process": "nginx"}, "linux")
    res = run(g, config("linux"))
    assert res["PRE-WEB-80"]["status"] == "fail" and res["PRE-PORTS"]["status"] == "pass"


def test_ports_catalog_error_is_manual():
    res = run(linux(), config("linux", expected_listeners=None, expected_listeners_error="port catalog: boom"))
    assert res["PRE-PORTS"]["status"] == "manual" and "boom" in res["PRE-PORTS"]["evidence"]


def test_ports_unresolved_listed():
    res = one("PRE-PORTS", linux(), config("linux", unresolved_ports=["prn-in-ftp-passive (ftpPassivePorts)"]))
    assert res["status"] == "pass" and "ftpPassivePorts" in res["evidence"]


# ---- PRE-MSI-45 -------------------------------------------------------------------------------------

def _msi(version):
    parts = version.split(".")
    return {"changed": False, "win_file_version": {
        "path": "C:\\Windows\\System32\\msi.dll", "file_version": version, "file_version_raw": version,
        "product_version": version, "file_major_part": parts[0], "file_minor_part": parts[1],
        "file_build_part": parts[2], "file_private_part": parts[3]}}


@pytest.mark.parametrize("version, status", [("5.0.17763.1", "pass"), ("4.5.6001.22159", "pass"),
                                             ("4.0.6001.18000", "fail"), ("3.1.4001.5512", "fail")])
def test_msi(version, status):
    res = one("PRE-MSI-45", windows(msi=_msi(version)), config(embedded_mssql=True))
    assert res["status"] == status and version in res["evidence"]


def test_msi_unreadable_and_not_used():
    res = one("PRE-MSI-45", windows(msi={"failed": True, "msg": "Path does not exist"}), config(embedded_mssql=True))
    assert res["status"] == "manual"
    assert one("PRE-MSI-45", windows(), config())["status"] == "not_applicable"


# ---- PRE-BROWSER, PRE-OTHER-SW ------------------------------------------------------------------------

def test_browser():
    assert "Google Chrome 120" in one("PRE-BROWSER", windows(), config())["evidence"]
    assert one("PRE-BROWSER", linux(), config("linux"))["status"] == "pass"
    webview = {"DisplayName": "Microsoft Edge WebView2 Runtime", "DisplayVersion": "1", "Publisher": "Microsoft"}
    g = windows(products=dict(windows()["products"], output=[webview]))
    assert one("PRE-BROWSER", g, config())["status"] == "warn"


def test_other_software_is_manual_with_the_list():
    res = one("PRE-OTHER-SW", windows(), config())
    assert res["status"] == "manual" and res["answered_by"].startswith("YSoft")
    assert "7-Zip 23.01 (x64) 23.01" in res["data"]["software"]
    assert "3 installed products" in res["evidence"]


# ---- PRE-STATIC-IP ----------------------------------------------------------------------------------

def test_static_ip_windows():
    assert one("PRE-STATIC-IP", windows(), config())["status"] == "pass"
    dhcp = windows(ip={"output": [{"InterfaceAlias": "Ethernet0", "IPAddress": "10.10.1.11", "PrefixOrigin": "Dhcp"}]})
    res = one("PRE-STATIC-IP", dhcp, config())
    assert res["status"] == "fail" and res["mandatory"] and "10.10.1.11 on Ethernet0" in res["evidence"]
    # enum serialised by win_powershell as a dict or an int
    enum = windows(ip={"output": [{"InterfaceAlias": "E", "IPAddress": "10.0.0.5",
                                   "PrefixOrigin": {"Type": "PrefixOrigin", "String": "Dhcp", "Value": 3}}]})
    assert one("PRE-STATIC-IP", enum, config())["status"] == "fail"
    num = windows(ip={"output": [{"InterfaceAlias": "E", "IPAddress": "10.10.1.11", "PrefixOrigin": 1}]})
    assert one("PRE-STATIC-IP", num, config())["status"] == "pass"


def test_static_ip_linux_dynamic_flag_and_lifetime():
    data = json.loads(linux()["ip"]["stdout"])
    data[1]["addr_info"][0].update({"dynamic": True, "valid_life_time": 86124})
    res = one("PRE-STATIC-IP", linux(ip={"stdout": json.dumps(data)}), config("linux"))
    assert res["status"] == "fail" and "ens18" in res["evidence"]
    data[1]["addr_info"][0].pop("dynamic")
    assert one("PRE-STATIC-IP", linux(ip={"stdout": json.dumps(data)}), config("linux"))["status"] == "fail"
    not_cml = one("PRE-STATIC-IP", linux(ip={"stdout": json.dumps(data)}), config("linux", components=("ors",)))
    assert not_cml["status"] == "fail" and not_cml["mandatory"] is False


def test_static_ip_safeq_address_mismatch_and_names():
    assert one("PRE-STATIC-IP", linux(), config("linux", safeq_address="10.99.0.1"))["status"] == "warn"
    assert one("PRE-STATIC-IP", linux(), config("linux", safeq_address="cml1.example.com"))["status"] == "pass"
    assert one("PRE-STATIC-IP", linux(ip={"stdout": "garbage"}), config("linux"))["status"] == "manual"


# ---- PRE-SHARED-FOLDER ------------------------------------------------------------------------------

def test_shared_folder():
    share = "\\\\fs01\\safeq-install"
    assert one("PRE-SHARED-FOLDER", windows(), config())["status"] == "manual"
    ok = windows(share={"changed": False, "stat": {"exists": True, "isdir": True, "path": share}})
    assert one("PRE-SHARED-FOLDER", ok, config(install_share=share))["status"] == "pass"
    missing = windows(share={"changed": False, "stat": {"exists": False}})
    res = one("PRE-SHARED-FOLDER", missing, config(install_share=share))
    assert res["status"] == "fail" and "double hop" in res["remediation"]
    linux_ok = linux(share={"changed": False, "stat": {"exists": True, "isdir": True}})
    assert one("PRE-SHARED-FOLDER", linux_ok, config("linux", install_share="/mnt/safeq"))["status"] == "pass"


# ---- hardware ---------------------------------------------------------------------------------------

def test_hardware_windows():
    res = run(windows(), config())
    assert res["PRE-HW-CPU"]["status"] == "pass" and "4 logical" in res["PRE-HW-CPU"]["evidence"]
    assert res["PRE-HW-MEM"]["status"] == "pass"
    assert res["PRE-HW-DISK"]["status"] == "pass" and "60.0 GiB free on drive C:" in res["PRE-HW-DISK"]["evidence"]
    small = windows(facts=dict(windows()["facts"], processor_vcpus=2, memtotal_mb=4095))
    res = run(small, config(install_path="D:\\SafeQ5"))
    assert res["PRE-HW-CPU"]["status"] == "fail" and res["PRE-HW-MEM"]["status"] == "fail"
    assert res["PRE-HW-DISK"]["status"] == "manual" and "D:" in res["PRE-HW-DISK"]["evidence"]


def test_hardware_linux_mount_and_tolerance():
    res = run(linux(), config("linux"))
    assert res["PRE-HW-MEM"]["status"] == "pass"  # 7941 MiB is within 5 % of 8 GiB
    assert res["PRE-HW-DISK"]["status"] == "pass" and "mount /opt" in res["PRE-HW-DISK"]["evidence"]
    res = run(linux(), config("linux", install_path="/srv/safeq", min_free_disk_gib=60))
    assert res["PRE-HW-DISK"]["status"] == "fail" and "mount /" in res["PRE-HW-DISK"]["evidence"]
    facts = dict(linux()["facts"], processor_vcpus=None, processor_cores=2, processor_count=1)
    assert one("PRE-HW-CPU", linux(facts=facts), config("linux"))["status"] == "fail"
    assert one("PRE-HW-MEM", linux(), config("linux", memory_tolerance_percent=0))["status"] == "fail"


# ---- PRE-PATCHES ------------------------------------------------------------------------------------

def test_patches_windows():
    assert one("PRE-PATCHES", windows(), config())["status"] == "pass"
    updates = {"changed": False, "found_update_count": 1, "filtered_updates": {}, "reboot_required": False,
               "updates": {"8f7b2cbe-4d0a-4e52-9a1d-5c1e3c1b3c77": {
                   "id": "8f7b2cbe-4d0a-4e52-9a1d-5c1e3c1b3c77", "kb": ["5033371"], "downloaded": False,
                   "installed": False, "categories": ["Security Updates", "Windows Server 2019"],
                   "title": "2023-12 Cumulative Update for Windows Server 2019 (1809) for x64-based Systems "
                            "(KB5033371)"}}}
    res = one("PRE-PATCHES", windows(updates=updates), config())
    assert res["status"] == "fail" and "KB5033371" in res["evidence"] and res["mandatory"]
    failed = {"failed": True, "msg": "Failed to search for updates: Exception from HRESULT: 0x8024402C"}
    assert one("PRE-PATCHES", windows(updates=failed), config())["status"] == "manual"
    assert one("PRE-PATCHES", windows(), config(check_updates=False))["status"] == "manual"


def test_patches_linux_apt_and_dnf():
    assert one("PRE-PATCHES", linux(), config("linux"))["status"] == "pass"
    res = one("PRE-PATCHES", linux(updates_cmd={"rc": 0, "stdout": APT_SIM}), config("linux"))
    assert res["status"] == "fail"
    assert res["data"]["pending"] == ["libgcrypt20 1.10.1-3+deb12u1", "liblzma5 5.4.1-1+deb12u2"]
    dnf_out = ("RLSA-2024:0001 Important/Sec.  openssl-libs-1:3.0.7-25.el9_3.x86_64\n"
               "RLSA-2024:0012 Moderate/Sec.   curl-7.76.1-26.el9_3.2.x86_64\n")
    facts = dict(linux()["facts"], pkg_mgr="dnf", distribution="Rocky", distribution_version="9.3")
    res = one("PRE-PATCHES", linux(facts=facts, updates_cmd={"rc": 0, "stdout": dnf_out}), config("linux"))
    assert res["status"] == "fail" and "RLSA-2024:0001 openssl-libs" in res["evidence"]
    facts = dict(facts, pkg_mgr="zypper")
    assert one("PRE-PATCHES", linux(facts=facts), config("linux"))["status"] == "manual"


# ---- PRE-AV-EXCL ------------------------------------------------------------------------------------

def test_av_windows_defender():
    assert one("PRE-AV-EXCL", windows(), config())["status"] == "pass"
    sub = one("PRE-AV-EXCL", windows(av={"output": ["c:\\safeq5\\"], "error": []}),
              config(av_exclusions=["C:\\SafeQ5\\tomcat"]))
    assert sub["status"] == "pass"  # parent folder excluded, case-insensitive
    res = one("PRE-AV-EXCL", windows(av={"output": [], "error": []}), config())
    assert res["status"] == "fail" and "C:\\SafeQ5" in res["evidence"] and not res["mandatory"]
    hidden = one("PRE-AV-EXCL", windows(av={"output": ["N/A: Must be and administrator to view exclusions"]}),
                 config())
    assert hidden["status"] == "manual"
    missing = windows(av={"failed": True, "msg": "The term 'Get-MpPreference' is not recognized as the name of a "
                                                 "cmdlet", "output": []})
    assert one("PRE-AV-EXCL", missing, config())["status"] == "manual"


def test_av_third_party():
    g = copy.deepcopy(windows())
    g["products"]["output"].append({"DisplayName": "Symantec Endpoint Protection", "DisplayVersion": "14.3",
                                    "Publisher": "Broadcom"})
    res = one("PRE-AV-EXCL", g, config())
    assert res["status"] == "manual" and "Symantec" in res["evidence"]
    assert res["answered_by"] == "customer security / antivirus administrator"
    lin = copy.deepcopy(linux())
    lin["packages"]["ansible_facts"]["packages"]["mdatp"] = [{"name": "mdatp", "version": "101.23082.0011"}]
    assert one("PRE-AV-EXCL", lin, config("linux"))["status"] == "manual"
    assert one("PRE-AV-EXCL", linux(), config("linux"))["status"] == "pass"


# ---- PRE-INTERFERING-SW -----------------------------------------------------------------------------

def test_interfering_windows_sql_server_and_papercut():
    g = copy.deepcopy(windows())
    g["services"]["services"] += [
        {"name": "MSSQL$SQLEXPRESS", "display_name": "SQL Server (SQLEXPRESS)", "state": "started"},
        {"name": "SQLAgent$SQLEXPRESS", "display_name": "SQL Server Agent (SQLEXPRESS)", "state": "stopped"}]
    g["products"]["output"] += [
        {"DisplayName": "PaperCut MF", "DisplayVersion": "22.1.4", "Publisher": "PaperCut Software"},
        {"DisplayName": "Microsoft ODBC Driver 17 for SQL Server", "DisplayVersion": "17.10", "Publisher": "MS"}]
    res = one("PRE-INTERFERING-SW", g, config())
    assert res["status"] == "fail" and res["mandatory"]
    found = " ".join(res["data"]["found"])
    assert "MSSQL$SQLEXPRESS" in found and "PaperCut MF" in found
    assert "ODBC" not in found and "Agent" not in found
    intended = one("PRE-INTERFERING-SW", g, config(intended_software=["SQLEXPRESS", "^PaperCut"]))
    assert intended["status"] == "pass" and "declared intended" in intended["evidence"]


def test_interfering_linux_postgres_and_safeq_own():
    g = copy.deepcopy(linux())
    g["packages"]["ansible_facts"]["packages"].update({
        "postgresql-15": [{"name": "postgresql-15", "version": "15.5-0+deb12u1"}],
        "postgresql-client-15": [{"name": "postgresql-client-15", "version": "15.5-0+deb12u1"}]})
    g["services"]["ansible_facts"]["services"]["postgresql@15-main.service"] = {
        "name": "postgresql@15-main.service", "state": "running", "status": "static", "source": "systemd"}
    res = one("PRE-INTERFERING-SW", g, config("linux"))
    assert res["status"] == "fail"
    assert not any("client" in f for f in res["data"]["found"])
    assert any("postgresql@15-main.service" in f for f in res["data"]["found"])
    win = copy.deepcopy(windows())
    win["services"]["services"].append({"name": "postgresql-x64-15", "display_name": "YSoft SafeQ PostgreSQL",
                                        "state": "started"})
    own = one("PRE-INTERFERING-SW", win, config())
    assert own["status"] == "pass"  # a PostgreSQL service whose display name is SafeQ's is SafeQ's own
    assert "postgresql-x64-15" in own["evidence"] and "declared intended" in own["evidence"]


def test_interfering_package_list_unavailable():
    g = linux(packages={"failed": True, "msg": "Could not detect a supported package manager"},
              packages_cmd={"changed": False, "rc": 0,
                            "stdout": "mariadb-server\t1:10.11.6-0+deb12u1\tii \nmysql-common\t5.8+1.1.0\trc \n"})
    res = one("PRE-INTERFERING-SW", g, config("linux"))
    assert res["status"] == "fail" and "mariadb-server" in res["evidence"]
    g2 = linux(packages={"failed": True, "msg": "no apt"}, packages_cmd=dict(SKIPPED))
    res2 = one("PRE-INTERFERING-SW", g2, config("linux"))
    assert res2["status"] == "pass" and "services only" in res2["evidence"]
    g3 = linux(packages={"failed": True, "msg": "no apt"}, packages_cmd=dict(SKIPPED), services={"failed": True})
    assert one("PRE-INTERFERING-SW", g3, config("linux"))["status"] == "manual"


# ---- PRE-EXTDB --------------------------------------------------------------------------------------

def test_extdb():
    res = one("PRE-EXTDB", windows(), config(external_database=True, cml_count=3,
                                             database_servers=["10.10.5.20"]))
    assert res["status"] == "manual" and res["answered_by"] == "customer DBA"
    assert "6 databases" in res["evidence"] and "'sync'" in res["evidence"] and "10.10.5.20" in res["evidence"]
    assert one("PRE-EXTDB", windows(), config(external_database=False))["status"] == "not_applicable"
    assert "unknown whether" in one("PRE-EXTDB", windows(), config())["evidence"]


# ---- PRE-ADMIN --------------------------------------------------------------------------------------

def test_admin_windows():
    assert one("PRE-ADMIN", windows(), config())["status"] == "pass"
    who = copy.deepcopy(windows()["whoami"])
    who["groups"] = [g for g in who["groups"] if g["sid"] != "S-1-5-32-544"]
    who["label"] = {"account_name": "Medium Mandatory Level", "sid": "S-1-16-8192"}
    res = one("PRE-ADMIN", windows(whoami=who), config())
    assert res["status"] == "fail" and "not a member" in res["evidence"]
    who["groups"].append({"account_name": "Administrators", "sid": "S-1-5-32-544",
                          "attributes": ["Use for deny only"]})
    assert "deny" in one("PRE-ADMIN", windows(whoami=who), config())["evidence"]
    system = {"account": {"account_name": "SYSTEM", "domain_name": "NT AUTHORITY", "sid": "S-1-5-18"},
              "groups": [], "label": {"sid": "S-1-16-16384"}}
    assert one("PRE-ADMIN", windows(whoami=system), config())["status"] == "pass"


def test_admin_linux():
    assert one("PRE-ADMIN", linux(), config("linux"))["status"] == "pass"
    facts = dict(linux()["facts"], effective_user_id=1000)
    res = one("PRE-ADMIN", linux(facts=facts), config("linux"))
    assert res["status"] == "fail" and "become" in res["remediation"]


# ---- PRE-LPD ----------------------------------------------------------------------------------------

def _features(print_server, lpd):
    return {"exists": True, "features": [
        {"name": "Print-Services", "installed": print_server}, {"name": "Print-Server", "installed": print_server},
        {"name": "Print-LPD-Service", "installed": lpd}]}


@pytest.mark.parametrize("print_server, lpd, status", [(True, True, "fail"), (True, False, "pass"),
                                                       (False, False, "pass"), (False, True, "pass")])
def test_lpd_windows(print_server, lpd, status):
    res = one("PRE-LPD", windows(features_info=_features(print_server, lpd)), config())
    assert res["status"] == status
    if status == "fail":
        assert "Uninstall-WindowsFeature Print-LPD-Service" in res["remediation"]


def test_lpd_windows_without_feature_info():
    g = copy.deepcopy(windows(features_info={"failed": True, "msg": "Get-WindowsFeature not available on client"}))
    assert one("PRE-LPD", g, config())["status"] == "pass"
    g["services"]["services"].append({"name": "LPDSVC", "display_name": "LPD Service", "state": "started"})
    assert one("PRE-LPD", g, config())["status"] == "fail"


def test_lpd_linux():
    assert one("PRE-LPD", linux(), config("linux"))["status"] == "pass"
    g = copy.deepcopy(linux())
    g["packages"]["ansible_facts"]["packages"]["lprng"] = [{"name": "lprng", "version": "3.8.B-7"}]
    assert one("PRE-LPD", g, config("linux"))["status"] == "fail"


# ---- LDAP ---------------------------------------------------------------------------------------------

LDAP_CFG = {"server": "10.10.0.5", "port": 636, "uri": "ldaps://10.10.0.5:636", "bind_dn": "CN=svc-safeq,OU=Service,DC=corp,DC=example",
            "domains": ["corp.example"], "user_containers": ["OU=Staff,DC=corp,DC=example"],
            "user_filter": "(&(objectClass=person)(!(objectClass=computer)))",
            "attributes": {"login": "sAMAccountName", "given_name": "givenName", "surname": "sn",
                           "department": "department", "card_number": "extensionAttribute1",
                           "unique_id": "objectGUID", "email": "mail"},
            "replication": {"full": "", "differential": ""}}
ROOTDSE = {"changed": False, "results": [{"dn": "", "namingContexts": [
    "DC=corp,DC=example", "CN=Configuration,DC=corp,DC=example", "DC=DomainDnsZones,DC=corp,DC=example"],
    "defaultNamingContext": "DC=corp,DC=example"}]}


def _user(name, **attrs):
    entry = {"dn": "CN=%s,OU=Staff,DC=corp,DC=example" % name, "sAMAccountName": name.lower(), "givenName": name,
             "sn": "Tester", "department": "IT", "extensionAttribute1": "1234", "objectGUID": "qk3Yx1ZkXUuvF0bqWnq3Eg==",
             "mail": "%s@corp.example" % name.lower()}
    entry.update(attrs)
    return {k: v for k, v in entry.items() if v is not None}


def _users(*entries, container="OU=Staff,DC=corp,DC=example"):
    return {"changed": False, "results": [{"item": container, "changed": False, "results": list(entries),
                                           "ansible_loop_var": "item"}]}


def ldap_gathered(**over):
    g = windows(ldap_reach={"changed": False, "elapsed": 0}, ldap_rootdse=ROOTDSE,
                ldap_users=_users(_user("Anna"), _user("Ben")))
    g.update(over)
    return g


def test_ldap_not_configured_all_manual():
    res = run(windows(), config())
    for check_id in P.LDAP_IDS:
        assert res[check_id]["status"] == "manual", check_id
        assert res[check_id]["answered_by"]


def test_ldap_all_good():
    res = run(ldap_gathered(), config(ldap=dict(LDAP_CFG, replication={"full": "daily", "differential": "hourly"})))
    for check_id in P.LDAP_IDS:
        assert res[check_id]["status"] == "pass", res[check_id]


def test_ldap_wrong_password():
    failed = {"failed": True, "msg": "Cannot bind to the server.",
              "details": "{'msgtype': 97, 'msgid': 1, 'result': 49, 'desc': 'Invalid credentials', 'ctrls': [], "
                         "'info': '80090308: LdapErr: DSID-0C090439, comment: AcceptSecurityContext error, data 52e, "
                         "v4563'}"}
    res = run(ldap_gathered(ldap_rootdse=failed, ldap_users=dict(SKIPPED)), config(ldap=LDAP_CFG))
    assert res["PRE-LDAP-BIND"]["status"] == "fail"
    assert "Invalid credentials (LDAP result 49)" in res["PRE-LDAP-BIND"]["evidence"]
    assert "data 52e" in res["PRE-LDAP-BIND"]["evidence"]
    assert res["PRE-LDAP-ATTR-CARD"]["status"] == "manual" and res["PRE-LDAP-REACH"]["status"] == "pass"


def test_ldap_error_text_double_quoted_desc():
    reg = {"failed": True, "msg": "Cannot bind to the server.",
           "details": "{'result': -1, 'desc': \"Can't contact LDAP server\", 'errno': 107, 'ctrls': [], "
                      "'info': 'Transport endpoint is not connected'}"}
    assert P.ldap_error_text(reg) == ("Cannot bind to the server: Can't contact LDAP server (LDAP result -1): "
                                      "Transport endpoint is not connected")


def test_ldap_python_ldap_missing_is_manual():
    failed = {"failed": True, "msg": "Failed to import the required Python library (python-ldap) on controller's "
                                     "Python /usr/bin/python3."}
    res = run(ldap_gathered(ldap_rootdse=failed), config(ldap=LDAP_CFG))
    assert res["PRE-LDAP-BIND"]["status"] == "manual" and "python-ldap" in res["PRE-LDAP-BIND"]["remediation"]


def test_ldap_unreachable():
    reach = {"failed": True, "msg": "Timeout when waiting for 10.10.0.5:636", "elapsed": 5}
    res = one("PRE-LDAP-REACH", ldap_gathered(ldap_reach=reach), config(ldap=LDAP_CFG))
    assert res["status"] == "fail" and "Timeout" in res["evidence"] and res["mandatory"]


def test_ldap_domains():
    res = one("PRE-LDAP-DOMAINS", ldap_gathered(), config(ldap=dict(LDAP_CFG, domains=["corp.example", "emea.corp.example"])))
    assert res["status"] == "fail" and "emea.corp.example" in res["evidence"]
    res = one("PRE-LDAP-DOMAINS", ldap_gathered(), config(ldap=dict(LDAP_CFG, domains=[])))
    assert res["status"] == "manual" and "DC=corp,DC=example" in res["evidence"]
    assert P.domain_to_dn("corp.example.") == "dc=corp,dc=example"


def test_ldap_containers_missing_and_other_errors():
    users = {"results": [
        {"item": "OU=Staff,DC=corp,DC=example", "results": [_user("Anna")], "changed": False},
        {"item": "OU=Gone,DC=corp,DC=example", "failed": True, "msg": "Base not found: OU=Gone,DC=corp,DC=example"},
        {"item": "OU=Secret,DC=corp,DC=example", "failed": True, "msg": "Attribute action failed.",
         "details": "{'result': 50, 'desc': 'Insufficient access'}"}]}
    cfg = config(ldap=dict(LDAP_CFG, user_containers=["OU=Staff,DC=corp,DC=example", "OU=Gone,DC=corp,DC=example",
                                                      "OU=Secret,DC=corp,DC=example"]))
    res = run(ldap_gathered(ldap_users=users), cfg)
    c = res["PRE-LDAP-CONTAINERS"]
    assert c["status"] == "fail" and c["data"]["missing"] == ["OU=Gone,DC=corp,DC=example"]
    assert "Insufficient access" in c["evidence"] and "OU=Staff,DC=corp,DC=example (1 users)" in c["evidence"]
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass"


def test_ldap_attributes_partial_none_and_unset():
    users = _users(_user("Anna"), _user("Ben", extensionAttribute1=None),
                   _user("Cleo", extensionAttribute1=None, mail=None, department=None))
    res = run(ldap_gathered(ldap_users=users), config(ldap=LDAP_CFG))
    card = res["PRE-LDAP-ATTR-CARD"]
    assert card["status"] == "warn" and "2 of 3" in card["evidence"] and len(card["data"]["missing"]) == 2
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass"
    wrong = dict(LDAP_CFG, attributes=dict(LDAP_CFG["attributes"], unique_id="entryUUID", card_number=""))
    res = run(ldap_gathered(ldap_users=users), config(ldap=wrong))
    assert res["PRE-LDAP-ATTR-UID"]["status"] == "fail" and res["PRE-LDAP-ATTR-UID"]["mandatory"]
    assert res["PRE-LDAP-ATTR-CARD"]["status"] == "manual" and "objectGUID" in res["PRE-LDAP-ATTR-CARD"]["evidence"]
    empty = run(ldap_gathered(ldap_users=_users()), config(ldap=LDAP_CFG))
    assert empty["PRE-LDAP-ATTR-NAME"]["status"] == "warn"


def test_ldap_attribute_names_are_case_insensitive_and_multi_valued():
    users = _users({"dn": "uid=x,ou=p", "UID": ["x", "x2"], "givenname": "X", "SN": "Y", "departmentnumber": "D",
                    "employeeNumber": [""], "entryuuid": "u", "mail": "x@y"})
    attrs = {"login": "uid", "given_name": "givenName", "surname": "sn", "department": "departmentNumber",
             "card_number": "employeeNumber", "unique_id": "entryUUID", "email": "mail"}
    res = run(ldap_gathered(ldap_users=users), config(ldap=dict(LDAP_CFG, attributes=attrs)))
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass" and res["PRE-LDAP-ATTR-CARD"]["status"] == "fail"


def test_ldap_without_bind_dn():
    res = run(ldap_gathered(), config(ldap=dict(LDAP_CFG, bind_dn="")))
    assert res["PRE-LDAP-SERVER"]["status"] == "pass" and res["PRE-LDAP-REACH"]["status"] == "pass"
    assert res["PRE-LDAP-BIND"]["status"] == "manual" and res["PRE-LDAP-CONTAINERS"]["status"] == "manual"


# ---- topology and connect (run level) ----------------------------------------------------------------

def test_topology_limits():
    res = {r["id"]: r for r in P.evaluate_topology(["cml%d" % i for i in range(6)], {"terminal_ultralight"}, {})}
    assert res["PRE-TOPOLOGY-TERMINALS"]["status"] == "fail" and "terminal_ultralight" in res[
        "PRE-TOPOLOGY-TERMINALS"]["evidence"]
    assert res["PRE-TOPOLOGY-NEAR-ROAMING"]["status"] == "not_applicable"
    res = {r["id"]: r for r in P.evaluate_topology(["cml%d" % i for i in range(10)], {"terminal_professional"},
                                                   {"floor1": ["ors%d" % i for i in range(11)], "floor2": ["a"]})}
    assert res["PRE-TOPOLOGY-TERMINALS"]["status"] == "pass"
    assert res["PRE-TOPOLOGY-NEAR-ROAMING"]["status"] == "fail" and "floor1" in res[
        "PRE-TOPOLOGY-NEAR-ROAMING"]["evidence"]
    assert all(r["host"] == P.RUN_HOST and r["mandatory"] for r in res.values())


def test_topology_uses_the_lead_limits():
    from ansible_collections.safeq.hardening.plugins.plugin_utils import topology
    assert topology.TERMINAL_CLUSTER_LIMITS == {"terminal_professional": 10, "terminal_ultralight": 5}
    assert topology.NEAR_ROAMING_GROUP_LIMIT == 10


def test_connect_result():
    res = P.connect_result("ors9", "unreachable")
    assert res["status"] == "fail" and res["host"] == "ors9" and res["id"] == "PRE-CONNECT"


def test_summarize():
    results = P.evaluate_host(windows(), config())
    summary = P.summarize(results)
    assert summary["total"] == len(results) == sum(summary[s] for s in P.STATUSES)
