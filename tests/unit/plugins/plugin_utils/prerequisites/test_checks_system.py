# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operating system checks (checks_system.py): platform, administrator rights, patches, Windows Installer."""

from __future__ import annotations

import copy

import pytest
from prerequisites_samples import APT_SIM, linux, one, settings, windows


def test_platform():
    assert one("PRE-PLATFORM", windows(), settings())["status"] == "pass"
    old = windows(facts=dict(windows()["facts"], distribution="Microsoft Windows Server 2008 R2 Standard"))
    res = one("PRE-PLATFORM", old, settings())
    assert res["status"] == "warn" and "2008 R2" in res["evidence"]
    assert one("PRE-PLATFORM", linux(), settings("linux"))["status"] == "pass"
    suse = linux(facts=dict(linux()["facts"], distribution="SLES", distribution_version="15.5"))
    assert one("PRE-PLATFORM", suse, settings("linux"))["status"] == "warn"


def test_platform_differs_from_the_plan():
    # cml-lx connects over ssh, so the plan renders nftables for it; the facts say Windows
    res = one("PRE-PLATFORM", windows(), settings("windows", host="cml-lx"))
    assert res["status"] == "warn" and "plan renders a linux firewall" in res["evidence"]
    assert "safeq_platform: windows" in res["remediation"]


def test_admin_windows():
    assert one("PRE-ADMIN", windows(), settings())["status"] == "pass"
    who = copy.deepcopy(windows()["whoami"])
    who["groups"] = [g for g in who["groups"] if g["sid"] != "S-1-5-32-544"]
    who["label"] = {"account_name": "Medium Mandatory Level", "sid": "S-1-16-8192"}
    res = one("PRE-ADMIN", windows(whoami=who), settings())
    assert res["status"] == "fail" and "not a member" in res["evidence"]
    who["groups"].append({"account_name": "Administrators", "sid": "S-1-5-32-544",
                          "attributes": ["Use for deny only"]})
    assert "deny" in one("PRE-ADMIN", windows(whoami=who), settings())["evidence"]
    system = {"account": {"account_name": "SYSTEM", "domain_name": "NT AUTHORITY", "sid": "S-1-5-18"},
              "groups": [], "label": {"sid": "S-1-16-16384"}}
    assert one("PRE-ADMIN", windows(whoami=system), settings())["status"] == "pass"
    failed = one("PRE-ADMIN", windows(whoami={"failed": True, "msg": "access denied"}), settings())
    assert failed["status"] == "manual" and "access denied" in failed["evidence"]


def test_admin_linux():
    assert one("PRE-ADMIN", linux(), settings("linux"))["status"] == "pass"
    facts = dict(linux()["facts"], effective_user_id=1000)
    res = one("PRE-ADMIN", linux(facts=facts), settings("linux"))
    assert res["status"] == "fail" and "become" in res["remediation"]


def test_patches_windows():
    assert one("PRE-PATCHES", windows(), settings())["status"] == "pass"
    updates = {"changed": False, "found_update_count": 1, "filtered_updates": {}, "reboot_required": False,
               "updates": {"8f7b2cbe-4d0a-4e52-9a1d-5c1e3c1b3c77": {
                   "id": "8f7b2cbe-4d0a-4e52-9a1d-5c1e3c1b3c77", "kb": ["5033371"], "downloaded": False,
                   "installed": False, "categories": ["Security Updates", "Windows Server 2019"],
                   "title": "2023-12 Cumulative Update for Windows Server 2019 (1809) for x64-based Systems "
                            "(KB5033371)"}}}
    res = one("PRE-PATCHES", windows(updates=updates), settings())
    assert res["status"] == "fail" and "KB5033371" in res["evidence"] and res["mandatory"]
    failed = {"failed": True, "msg": "Failed to search for updates: Exception from HRESULT: 0x8024402C"}
    assert one("PRE-PATCHES", windows(updates=failed), settings())["status"] == "manual"
    disabled = one("PRE-PATCHES", windows(), settings(check_updates=False))
    assert disabled["status"] == "manual" and "Windows Update" in disabled["question"]


def test_patches_linux_apt_and_dnf():
    assert one("PRE-PATCHES", linux(), settings("linux"))["status"] == "pass"
    res = one("PRE-PATCHES", linux(updates_cmd={"rc": 0, "stdout": APT_SIM}), settings("linux"))
    assert res["status"] == "fail"
    assert res["data"]["pending"] == ["libgcrypt20 1.10.1-3+deb12u1", "liblzma5 5.4.1-1+deb12u2"]
    dnf_out = ("RLSA-2024:0001 Important/Sec.  openssl-libs-1:3.0.7-25.el9_3.x86_64\n"
               "RLSA-2024:0012 Moderate/Sec.   curl-7.76.1-26.el9_3.2.x86_64\n")
    facts = dict(linux()["facts"], pkg_mgr="dnf", distribution="Rocky", distribution_version="9.3")
    res = one("PRE-PATCHES", linux(facts=facts, updates_cmd={"rc": 0, "stdout": dnf_out}), settings("linux"))
    assert res["status"] == "fail" and "RLSA-2024:0001 openssl-libs" in res["evidence"]
    facts = dict(facts, pkg_mgr="zypper")
    assert one("PRE-PATCHES", linux(facts=facts), settings("linux"))["status"] == "manual"


def _msi(version):
    parts = version.split(".")
    return {"changed": False, "win_file_version": {
        "path": "C:\\Windows\\System32\\msi.dll", "file_version": version, "file_version_raw": version,
        "product_version": version, "file_major_part": parts[0], "file_minor_part": parts[1],
        "file_build_part": parts[2], "file_private_part": parts[3]}}


@pytest.mark.parametrize("version, status", [("5.0.17763.1", "pass"), ("4.5.6001.22159", "pass"),
                                             ("4.0.6001.18000", "fail"), ("3.1.4001.5512", "fail")])
def test_msi(version, status):
    res = one("PRE-MSI-45", windows(msi=_msi(version)), settings(embedded_mssql=True))
    assert res["status"] == status and version in res["evidence"]


def test_msi_unreadable_and_not_used():
    res = one("PRE-MSI-45", windows(msi={"failed": True, "msg": "Path does not exist"}), settings(embedded_mssql=True))
    assert res["status"] == "manual" and "Windows Installer 4.5" in res["question"]
    raw_only = {"win_file_version": {"file_version_raw": "4.5.6001.22159"}}
    assert one("PRE-MSI-45", windows(msi=raw_only), settings(embedded_mssql=True))["status"] == "pass"
    assert one("PRE-MSI-45", windows(), settings())["status"] == "not_applicable"
