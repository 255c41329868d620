# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installed software checks (checks_software.py): browser, other software, antivirus, interfering
software, external database, LPD."""

from __future__ import annotations

import copy

import pytest
from prerequisites_samples import SKIPPED, linux, one, plan, settings, windows


def test_browser():
    assert "Google Chrome 120" in one("PRE-BROWSER", windows(), settings())["evidence"]
    assert one("PRE-BROWSER", linux(), settings("linux"))["status"] == "pass"
    webview = {"DisplayName": "Microsoft Edge WebView2 Runtime", "DisplayVersion": "1", "Publisher": "Microsoft"}
    g = windows(products=dict(windows()["products"], output=[webview]))
    assert one("PRE-BROWSER", g, settings())["status"] == "warn"
    missing = one("PRE-BROWSER", windows(products={"failed": True, "msg": "denied"}), settings())
    assert missing["status"] == "manual" and "current web browser" in missing["question"]


def test_other_software_is_manual_with_the_list():
    res = one("PRE-OTHER-SW", windows(), settings())
    assert res["status"] == "manual" and res["answered_by"].startswith("YSoft")
    assert "7-Zip 23.01 (x64) 23.01" in res["data"]["software"]
    assert "3 installed products" in res["evidence"]


def test_av_windows_defender():
    assert one("PRE-AV-EXCL", windows(), settings())["status"] == "pass"
    sub = one("PRE-AV-EXCL", windows(av={"output": ["c:\\safeq5\\"], "error": []}),
              settings(av_exclusions=["C:\\SafeQ5\\tomcat"]))
    assert sub["status"] == "pass"  # parent folder excluded, case-insensitive
    res = one("PRE-AV-EXCL", windows(av={"output": [], "error": []}), settings())
    assert res["status"] == "fail" and "C:\\SafeQ5" in res["evidence"] and not res["mandatory"]
    hidden = one("PRE-AV-EXCL", windows(av={"output": ["N/A: Must be and administrator to view exclusions"]}),
                 settings())
    assert hidden["status"] == "manual"
    missing = windows(av={"failed": True, "msg": "The term 'Get-MpPreference' is not recognized as the name of a "
                                                 "cmdlet", "output": []})
    assert one("PRE-AV-EXCL", missing, settings())["status"] == "manual"


def test_av_third_party():
    g = copy.deepcopy(windows())
    g["products"]["output"].append({"DisplayName": "Symantec Endpoint Protection", "DisplayVersion": "14.3",
                                    "Publisher": "Broadcom"})
    res = one("PRE-AV-EXCL", g, settings())
    assert res["status"] == "manual" and "Symantec" in res["evidence"]
    assert res["answered_by"] == "customer security / antivirus administrator"
    lin = copy.deepcopy(linux())
    lin["packages"]["ansible_facts"]["packages"]["mdatp"] = [{"name": "mdatp", "version": "101.23082.0011"}]
    assert one("PRE-AV-EXCL", lin, settings("linux"))["status"] == "manual"
    assert one("PRE-AV-EXCL", linux(), settings("linux"))["status"] == "pass"


def test_interfering_windows_sql_server_and_papercut():
    g = copy.deepcopy(windows())
    g["services"]["services"] += [
        {"name": "MSSQL$SQLEXPRESS", "display_name": "SQL Server (SQLEXPRESS)", "state": "started"},
        {"name": "SQLAgent$SQLEXPRESS", "display_name": "SQL Server Agent (SQLEXPRESS)", "state": "stopped"}]
    g["products"]["output"] += [
        {"DisplayName": "PaperCut MF", "DisplayVersion": "22.1.4", "Publisher": "PaperCut Software"},
        {"DisplayName": "Microsoft ODBC Driver 17 for SQL Server", "DisplayVersion": "17.10", "Publisher": "MS"}]
    res = one("PRE-INTERFERING-SW", g, settings())
    assert res["status"] == "fail" and res["mandatory"]
    found = " ".join(res["data"]["found"])
    assert "MSSQL$SQLEXPRESS" in found and "PaperCut MF" in found
    assert "ODBC" not in found and "Agent" not in found
    intended = one("PRE-INTERFERING-SW", g, settings(intended_software=["SQLEXPRESS", "^PaperCut"]))
    assert intended["status"] == "pass" and "declared intended" in intended["evidence"]


def test_interfering_linux_postgres_and_safeq_own():
    g = copy.deepcopy(linux())
    g["packages"]["ansible_facts"]["packages"].update({
        "postgresql-15": [{"name": "postgresql-15", "version": "15.5-0+deb12u1"}],
        "postgresql-client-15": [{"name": "postgresql-client-15", "version": "15.5-0+deb12u1"}]})
    g["services"]["ansible_facts"]["services"]["postgresql@15-main.service"] = {
        "name": "postgresql@15-main.service", "state": "running", "status": "static", "source": "systemd"}
    res = one("PRE-INTERFERING-SW", g, settings("linux"))
    assert res["status"] == "fail"
    assert not any("client" in f for f in res["data"]["found"])
    assert any("postgresql@15-main.service" in f for f in res["data"]["found"])
    win = copy.deepcopy(windows())
    win["services"]["services"].append({"name": "postgresql-x64-15", "display_name": "YSoft SafeQ PostgreSQL",
                                        "state": "started"})
    own = one("PRE-INTERFERING-SW", win, settings())
    assert own["status"] == "pass"  # a PostgreSQL service whose display name is SafeQ's is SafeQ's own
    assert "postgresql-x64-15" in own["evidence"] and "declared intended" in own["evidence"]


def test_interfering_package_list_unavailable():
    g = linux(packages={"failed": True, "msg": "Could not detect a supported package manager"},
              packages_cmd={"changed": False, "rc": 0,
                            "stdout": "mariadb-server\t1:10.11.6-0+deb12u1\tii \nmysql-common\t5.8+1.1.0\trc \n"})
    res = one("PRE-INTERFERING-SW", g, settings("linux"))
    assert res["status"] == "fail" and "mariadb-server" in res["evidence"] and "mysql-common" not in res["evidence"]
    g2 = linux(packages={"failed": True, "msg": "no apt"}, packages_cmd=dict(SKIPPED))
    res2 = one("PRE-INTERFERING-SW", g2, settings("linux"))
    assert res2["status"] == "pass" and "services only" in res2["evidence"]
    g3 = linux(packages={"failed": True, "msg": "no apt"}, packages_cmd=dict(SKIPPED), services={"failed": True})
    assert one("PRE-INTERFERING-SW", g3, settings("linux"))["status"] == "manual"


def test_interfering_rule_needs_a_pattern():
    from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.context import PrerequisiteError

    with pytest.raises(PrerequisiteError, match="needs name, category, pattern"):
        one("PRE-INTERFERING-SW", linux(), settings("linux", interfering_software=[{"name": "x"}]))


def test_extdb_counts_the_cml_nodes_of_the_cluster_from_the_plan():
    res = one("PRE-EXTDB", windows(), settings(external_database=True))
    assert res["status"] == "manual" and res["answered_by"] == "customer DBA"
    # cml-win and cml-lx form the CML cluster "default" of the plan: 2 nodes, 4 databases
    assert "2 CML node(s) of cluster default: 4 databases" in res["evidence"] and "'sync'" in res["evidence"]
    assert "10.10.5.20" in res["evidence"]  # safeq_database_servers, as the plan validated it
    assert res["data"] == {"cml_nodes": ["cml-lx", "cml-win"], "database_servers": ["10.10.5.20"]}
    assert one("PRE-EXTDB", windows(), settings(external_database=False))["status"] == "not_applicable"
    assert "unknown whether" in one("PRE-EXTDB", windows(), settings())["evidence"]


def test_extdb_of_a_three_node_cluster():
    the_plan = plan()
    the_plan["topology"]["clusters"]["default"]["members"]["cml"].append("cml-3")
    res = one("PRE-EXTDB", windows(), settings(external_database=True), the_plan)
    assert "3 CML node(s) of cluster default: 6 databases and 6 service accounts" in res["evidence"]


def _features(print_server, lpd):
    return {"exists": True, "features": [
        {"name": "Print-Services", "installed": print_server}, {"name": "Print-Server", "installed": print_server},
        {"name": "Print-LPD-Service", "installed": lpd}]}


@pytest.mark.parametrize("print_server, lpd, status", [(True, True, "fail"), (True, False, "pass"),
                                                       (False, False, "pass"), (False, True, "pass")])
def test_lpd_windows(print_server, lpd, status):
    res = one("PRE-LPD", windows(features_info=_features(print_server, lpd)), settings())
    assert res["status"] == status
    if status == "fail":
        assert "Uninstall-WindowsFeature Print-LPD-Service" in res["remediation"]


def test_lpd_windows_without_feature_info():
    g = copy.deepcopy(windows(features_info={"failed": True, "msg": "Get-WindowsFeature not available on client"}))
    assert one("PRE-LPD", g, settings())["status"] == "pass"
    g["services"]["services"].append({"name": "LPDSVC", "display_name": "LPD Service", "state": "started"})
    assert one("PRE-LPD", g, settings())["status"] == "fail"
    nothing = one("PRE-LPD", windows(features_info={"failed": True, "msg": "x"}, services={"failed": True}),
                  settings())
    assert nothing["status"] == "manual" and "Print Server role" in nothing["question"]


def test_lpd_linux():
    assert one("PRE-LPD", linux(), settings("linux"))["status"] == "pass"
    g = copy.deepcopy(linux())
    g["packages"]["ansible_facts"]["packages"]["lprng"] = [{"name": "lprng", "version": "3.8.B-7"}]
    assert one("PRE-LPD", g, settings("linux"))["status"] == "fail"
