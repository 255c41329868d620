# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network checks (checks_network.py): TCP 80, the SafeQ ports of the plan (real catalog, real plan),
static addresses, the shared folder."""

from __future__ import annotations

import copy

from prerequisites_samples import inventory, ip_stdout, linux, one, plan, plan_of, run, settings, windows, with_listener


def _java(port, address="0.0.0.0", pid=3120):
    return {"address": address, "name": "java.exe", "pid": pid, "port": port, "protocol": "tcp"}


def _proc(port, process, address="0.0.0.0", pid=901, protocol="tcp"):
    return {"protocol": protocol, "family": "ipv4", "address": address, "port": port, "pid": pid, "process": process}


# ---- PRE-WEB-80 ---------------------------------------------------------------------------------

def test_web80_iis_before_installation_fails_with_http_sys_hint():
    g = with_listener(windows(), {"address": "0.0.0.0", "name": "System", "pid": 4, "port": 80, "protocol": "tcp"})
    g["services"]["services"].append({"name": "W3SVC", "display_name": "World Wide Web Publishing Service",
                                      "state": "started"})
    res = one("PRE-WEB-80", g, settings())
    assert res["status"] == "fail" and res["mandatory"]
    assert "System pid 4" in res["evidence"] and "W3SVC" in res["evidence"] and "HTTP.sys" in res["remediation"]


def test_web80_installed_web_server_not_on_80_passes():
    g = copy.deepcopy(linux())
    g["services"]["ansible_facts"]["services"]["nginx.service"] = {"name": "nginx.service", "state": "running",
                                                                   "status": "enabled", "source": "systemd"}
    res = one("PRE-WEB-80", g, settings("linux"))
    assert res["status"] == "pass" and "nginx.service" in res["evidence"]


def test_web80_after_installation_safeq_owner_is_fine():
    g = with_listener(windows(), _java(80))
    g["services"]["services"].append({"name": "YSoftSQ-SPOC", "display_name": "YSoft SafeQ Spooler Controller",
                                      "state": "started"})
    assert one("PRE-WEB-80", g, settings())["status"] == "pass"
    g2 = with_listener(windows(), _java(80))  # the same java listener before installation is a conflict
    assert one("PRE-WEB-80", g2, settings())["status"] == "fail"
    assert one("PRE-WEB-80", g2, settings(phase="post_install"))["status"] == "pass"


def test_web80_listeners_missing():
    res = one("PRE-WEB-80", windows(listeners={"failed": True, "msg": "Access denied"}), settings())
    assert res["status"] == "manual" and "Access denied" in res["evidence"]
    assert res["question"] == "Does any program other than SafeQ listen on TCP port 80?"


def test_web80_only_on_cml_and_ors():
    the_plan = plan_of({"safeq_crs": ["crs1"]}, {"crs1": {"ansible_host": "10.10.3.11"}})
    res = one("PRE-WEB-80", linux(), settings("linux", host="crs1"), the_plan)
    assert res["status"] == "not_applicable" and "cml/ors" in res["evidence"]


# ---- PRE-PORTS / PRE-PORTS-BIND: the expected listeners of the plan ------------------------------

def test_the_checked_ports_are_the_plans_expected_listeners():
    the_plan = plan()
    expected = the_plan["policies"]["cml-lx"]["expected_listeners"]
    ports = {(e["protocol"], p) for e in expected for p in e["ports"]}
    assert {("tcp", 80), ("tcp", 443), ("tcp", 515), ("tcp", 19898), ("tcp", 4099)} <= ports
    res = one("PRE-PORTS", linux(), settings("linux"), the_plan)
    assert res["status"] == "pass" and "%d SafeQ port(s) of cml" % len(ports) in res["evidence"]
    # a port the plan does not expect is no conflict
    the_plan["policies"]["cml-lx"]["expected_listeners"] = [e for e in expected if 515 not in e["ports"]]
    g = with_listener(linux(), _proc(515, "lpd"))
    assert one("PRE-PORTS", g, settings("linux"), the_plan)["status"] == "pass"
    assert one("PRE-PORTS", g, settings("linux"))["status"] == "fail"


def test_ports_conflict_before_installation():
    g = with_listener(linux(), _proc(515, "lpd"))
    res = run(g, settings("linux"))
    assert res["PRE-PORTS"]["status"] == "fail" and "lpd (pid 901)" in res["PRE-PORTS"]["evidence"]
    assert "ws-lpr-515" in res["PRE-PORTS"]["evidence"]
    assert res["PRE-PORTS-BIND"]["status"] == "not_applicable"


def test_ports_after_installation_exposed_jmx_names_property():
    g = with_listener(windows(), _java(19898))
    res = run(g, settings(phase="post_install"))
    assert res["PRE-PORTS"]["status"] == "pass"
    bind = res["PRE-PORTS-BIND"]
    assert bind["status"] == "fail" and "cmlJmxNetworkInterface" in bind["evidence"]
    assert bind["data"]["findings"][0]["catalog_ids"] == ["ws-jmx-cml-19898"]


def test_ports_follow_the_port_overrides_of_the_plan():
    groups, hostvars = inventory()
    hostvars["cml-win"]["safeq_port_overrides"] = {"cmlJmxServerPort": 19899}
    the_plan = plan_of(groups, hostvars)
    g = with_listener(windows(), _java(19899))
    bind = one("PRE-PORTS-BIND", g, settings(phase="post_install"), the_plan)
    assert bind["status"] == "fail" and "19899" in bind["evidence"] and "cmlJmxNetworkInterface" in bind["evidence"]
    moved = one("PRE-PORTS-BIND", with_listener(windows(), _java(19898)), settings(phase="post_install"), the_plan)
    assert moved["status"] == "pass"  # 19898 is no SafeQ port of this host any more


def test_rmi_on_every_interface_warns_after_installation():
    g = with_listener(windows(), _java(20222))
    res = run(g, settings(phase="post_install"))
    bind = res["PRE-PORTS-BIND"]
    assert bind["status"] == "warn" and "tcp/20222 on 0.0.0.0" in bind["evidence"] and "is-rmi-20222" in bind["evidence"]
    assert "harden" in bind["remediation"] and not bind["mandatory"]
    loopback = one("PRE-PORTS-BIND", with_listener(windows(), _java(20222, "127.0.0.1")), settings(phase="post_install"))
    assert loopback["status"] == "pass"


def test_ports_unknown_owner_warns_after_installation():
    g = with_listener(linux(), _proc(443, None, pid=None))
    res = one("PRE-PORTS", g, settings("linux", phase="post_install"))
    assert res["status"] == "warn" and "could not be read" in res["evidence"]


def test_ports_80_is_left_to_web80():
    g = with_listener(linux(), _proc(80, "nginx", pid=7))
    res = run(g, settings("linux"))
    assert res["PRE-WEB-80"]["status"] == "fail" and res["PRE-PORTS"]["status"] == "pass"


def test_ports_unresolved_symbolic_ports_are_named():
    res = one("PRE-PORTS", linux(), settings("linux"))
    assert "oth-sql-dynamic (databaseTcpPort)" in res["evidence"]  # no safeq_port_overrides.databaseTcpPort
    groups, hostvars = inventory()
    hostvars["cml-lx"]["safeq_port_overrides"] = {"databaseTcpPort": 1533}
    assert "oth-sql-dynamic" not in one("PRE-PORTS", linux(), settings("linux"), plan_of(groups, hostvars))["evidence"]


def test_ports_without_listeners_are_manual():
    res = run(linux(listeners={"failed": True, "msg": "permission denied"}), settings("linux"))
    assert res["PRE-PORTS"]["status"] == res["PRE-PORTS-BIND"]["status"] == "manual"
    assert "permission denied" in res["PRE-PORTS"]["evidence"]


# ---- PRE-STATIC-IP --------------------------------------------------------------------------------

def test_static_ip_windows():
    assert one("PRE-STATIC-IP", windows(), settings())["status"] == "pass"
    dhcp = windows(ip={"output": [{"InterfaceAlias": "Ethernet0", "IPAddress": "10.10.1.11", "PrefixOrigin": "Dhcp"}]})
    res = one("PRE-STATIC-IP", dhcp, settings())
    assert res["status"] == "fail" and res["mandatory"] and "10.10.1.11 on Ethernet0" in res["evidence"]
    # the enum as win_powershell serialises it: a dict or an int
    enum = windows(ip={"output": [{"InterfaceAlias": "E", "IPAddress": "10.0.0.5",
                                   "PrefixOrigin": {"Type": "PrefixOrigin", "String": "Dhcp", "Value": 3}}]})
    assert one("PRE-STATIC-IP", enum, settings())["status"] == "fail"
    num = windows(ip={"output": [{"InterfaceAlias": "E", "IPAddress": "10.10.1.11", "PrefixOrigin": 1}]})
    assert one("PRE-STATIC-IP", num, settings())["status"] == "pass"


def test_static_ip_linux_dynamic_flag_and_lifetime():
    res = one("PRE-STATIC-IP", linux(ip={"stdout": ip_stdout(dynamic=True, valid_life_time=86124)}), settings("linux"))
    assert res["status"] == "fail" and "ens18" in res["evidence"]
    lifetime_only = linux(ip={"stdout": ip_stdout(valid_life_time=86124)})
    assert one("PRE-STATIC-IP", lifetime_only, settings("linux"))["status"] == "fail"
    ors = one("PRE-STATIC-IP", linux(ip={"stdout": ip_stdout("10.10.2.11", valid_life_time=86124)}),
              settings("linux", host="ors-lx"))
    assert ors["status"] == "fail" and ors["mandatory"] is False  # mandatory on CML only


def test_static_ip_compares_the_plans_address():
    res = one("PRE-STATIC-IP", linux(ip={"stdout": ip_stdout("10.99.0.1")}), settings("linux"))
    assert res["status"] == "warn" and "(10.10.1.12)" in res["evidence"]
    assert one("PRE-STATIC-IP", linux(), settings("linux"))["evidence"].endswith("(the plan uses 10.10.1.12)")
    assert one("PRE-STATIC-IP", linux(ip={"stdout": "garbage"}), settings("linux"))["status"] == "manual"


# ---- PRE-SHARED-FOLDER ------------------------------------------------------------------------------

def test_shared_folder():
    share = "\\\\fs01\\safeq-install"
    assert one("PRE-SHARED-FOLDER", windows(), settings())["status"] == "manual"
    ok = windows(share={"changed": False, "stat": {"exists": True, "isdir": True, "path": share}})
    assert one("PRE-SHARED-FOLDER", ok, settings(install_share=share))["status"] == "pass"
    missing = windows(share={"changed": False, "stat": {"exists": False}})
    res = one("PRE-SHARED-FOLDER", missing, settings(install_share=share))
    assert res["status"] == "fail" and "double hop" in res["remediation"]
    linux_ok = linux(share={"changed": False, "stat": {"exists": True, "isdir": True}})
    assert one("PRE-SHARED-FOLDER", linux_ok, settings("linux", install_share="/mnt/safeq"))["status"] == "pass"
    a_file = linux(share={"changed": False, "stat": {"exists": True, "isdir": False}})
    assert "is not a folder" in one("PRE-SHARED-FOLDER", a_file, settings("linux", install_share="/mnt/x"))["evidence"]
