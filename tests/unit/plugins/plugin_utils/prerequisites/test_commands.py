# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""commands.py: the fixed commands are the ones the role runs, and their output parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import commands as C

TASKS = Path(__file__).resolve().parents[5] / "roles" / "prerequisites" / "tasks"


def _tasks(name):
    return yaml.safe_load((TASKS / name).read_text(encoding="utf-8"))


def test_fixed_windows_commands_are_the_ones_in_the_role():
    scripts = [t["ansible.windows.win_powershell"]["script"] for t in _tasks("gather_windows.yml")
               if "ansible.windows.win_powershell" in t]
    for command in (C.WINDOWS_PRODUCTS_COMMAND, C.WINDOWS_DEFENDER_EXCLUSIONS_COMMAND, C.WINDOWS_IP_ADDRESSES_COMMAND):
        assert command in scripts
    for task in _tasks("gather_windows.yml"):
        if "ansible.windows.win_powershell" in task:
            assert task.get("check_mode") is False and task.get("changed_when") is False, task["name"]


def test_linux_commands_are_the_ones_in_the_role():
    argvs = [t["ansible.builtin.command"]["argv"] for t in _tasks("gather_linux.yml") if "ansible.builtin.command" in t]
    fixed = (C.LINUX_IP_ADDRESSES_COMMAND, C.LINUX_APT_SIMULATE_COMMAND, C.LINUX_DNF_SECURITY_COMMAND,
             C.LINUX_DPKG_COMMAND)
    assert sorted(map(tuple, argvs)) == sorted(map(tuple, fixed))


def test_parse_dpkg_list_keeps_installed_packages_only():
    out = "mariadb-server\t1:10.11.6\tii \nmysql-common\t5.8\trc \nlibc6:amd64\t2.36\thi \nbroken\n"
    assert C.parse_dpkg_list(out) == [("mariadb-server", "1:10.11.6"), ("libc6", "2.36")]


def test_parse_apt_and_dnf():
    apt = ("Inst liblzma5 [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []\n"
           "Inst tzdata [2024a] (2025b Debian:12.15/oldstable [all])\n")
    assert C.parse_apt_simulation(apt) == [("liblzma5", "5.4.1-1+deb12u2", "Debian-Security:12/oldstable-security")]
    dnf = "Last metadata expiration check: 0:01:02 ago\nRLSA-2024:0001 Important/Sec.  openssl-libs-3.0.7\n"
    assert C.parse_dnf_security(dnf) == [("RLSA-2024:0001", "Important/Sec.", "openssl-libs-3.0.7")]


def test_ip_addresses_errors():
    with pytest.raises(C.CommandOutputError, match="IP address list was skipped"):
        C.ip_addresses({"skipped": True, "skip_reason": "tags"}, False)
    with pytest.raises(C.CommandOutputError, match="not JSON"):
        C.ip_addresses({"stdout": "{"}, False)
    assert C.ip_addresses({"output": [{"InterfaceAlias": "E", "IPAddress": "10.0.0.1", "PrefixOrigin": 9}, "x"]},
                          True) == [("E", "10.0.0.1", False)]
