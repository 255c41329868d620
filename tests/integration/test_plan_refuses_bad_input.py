# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan playbook refuses bad input before writing anything: ansible-playbook on small inventories.

Each test writes an inventory into a temporary directory, runs
``ansible-playbook playbooks/plan.yml -i <inventory> -e safeq_output_dir=<tmp>/out`` from that directory
(ANSIBLE_CONFIG=ansible.cfg of the checkout, the venv first on PATH) and checks that the run fails,
that the output names the host, the variable and the value, that nothing was written under
``<tmp>/out/plan``, that no Python traceback was printed and that the inventory's password never shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "Inventory-S3cret-Never-Printed"
TIMEOUT = 300  # seconds for one ansible-playbook run (it takes a few)
TRACEBACK_WORDS = ("Traceback (most recent call last)", "unhashable type", "KeyError", "TypeError",
                   "AttributeError", "object has no attribute")

COMMON = {
    "safeq_workstation_networks": ["10.110.0.0/16"],
    "safeq_printer_networks": ["10.111.0.0/20"],
    "safeq_database_servers": ["10.10.2.50"],
    "safeq_management_networks": ["10.10.250.0/24"],
    "safeq_controller_address": "10.10.250.5",
    "safeq_features": ["workstation_client", "terminal_professional"],
}
WINRM = {"ansible_connection": "winrm", "ansible_port": 5986, "ansible_user": "svc-ansible",
         "ansible_password": SECRET}
SSH = {"ansible_connection": "ssh", "ansible_user": "root", "ansible_password": SECRET}


def inventory(hosts):
    """A YAML inventory: {name: (groups, variables)} with COMMON in group_vars of `all`."""
    groups = {}
    for name, (member_of, variables) in hosts.items():
        for group in member_of:
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = variables
    return {"all": {"vars": COMMON, "children": groups}}


def run_plan(workdir, inventory_data, extra_vars=None, env=None):
    """Run the plan playbook from ``workdir``; returns the CompletedProcess (stdout and stderr merged)."""
    path = workdir / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory_data, allow_unicode=True), encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SAFEQ_", "AWX_"))}
    environment.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH="%s:%s" % (BIN, environment.get("PATH", "")),
                       ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PWD=str(workdir))
    environment.update(env or {})
    command = [str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / "plan.yml"), "-i", str(path)]
    for key, value in (extra_vars or {}).items():
        command += ["-e", "%s=%s" % (key, value)]
    return subprocess.run(command, cwd=workdir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=TIMEOUT, check=False)


def files_under(directory):
    return sorted(str(p.relative_to(directory)) for p in Path(directory).rglob("*") if p.is_file())


BAD = {
    "injected-host-name": (
        inventory({
            "cml1": (["safeq_cml"], dict(WINRM, ansible_host="10.10.1.11")),
            "ors-lnx\nflush ruleset\n#": (["safeq_ors"], dict(SSH, ansible_host="10.20.1.22")),
        }),
        ["groups.safeq_ors", "ors-lnx\\nflush ruleset\\n#"],
    ),
    "preview-port-onto-winrm": (
        inventory({
            "cml1": (["safeq_cml"], dict(WINRM, ansible_host="10.10.1.11")),
            "ors1": (["safeq_ors"], dict(WINRM, ansible_host="10.20.1.21",
                                         safeq_port_overrides={"preview-provider-port": 5986})),
        }),
        ["hostvars[ors1].safeq_port_overrides.preview-provider-port", "5986", "printer_networks"],
    ),
    "ftp-passive-over-system-ports": (
        inventory({
            "cml1": (["safeq_cml"], dict(WINRM, ansible_host="10.10.1.11")),
            "ors1": (["safeq_ors"], dict(WINRM, ansible_host="10.20.1.21", safeq_features=["ftp_passive"],
                                         safeq_port_overrides={"ftpPassivePorts": "1-8004"})),
        }),
        ["hostvars[ors1].safeq_port_overrides.ftpPassivePorts", "1-8004", "445 (SMB)", "3389 (Remote Desktop)"],
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_plan_refuses_and_writes_nothing(tmp_path, name):
    data, expected = BAD[name]
    out = tmp_path / "out"
    result = run_plan(tmp_path, data, {"safeq_output_dir": str(out)})
    output = result.stdout
    assert result.returncode != 0, output
    assert "failed=1" in output, output
    for text in expected:
        assert text in output, (text, output)
    for word in TRACEBACK_WORDS:
        assert word not in output, (word, output)
    assert SECRET not in output
    assert not (out / "plan").exists() or files_under(out / "plan") == [], files_under(out)
    assert files_under(tmp_path) == ["inventory.yml"]  # nothing else anywhere under the run directory


def test_the_same_inventory_fixed_plans(tmp_path):
    """Control: the injection inventory with a proper host name plans and writes the host's nft file."""
    data = inventory({
        "cml1": (["safeq_cml"], dict(WINRM, ansible_host="10.10.1.11")),
        "ors-lnx": (["safeq_ors"], dict(SSH, ansible_host="10.20.1.22")),
    })
    out = tmp_path / "out"
    result = run_plan(tmp_path, data, {"safeq_output_dir": str(out)})
    assert result.returncode == 0, result.stdout
    written = files_under(out / "plan")
    assert "hosts/ors-lnx.nft" in written and "hosts/cml1.json" in written, written
    assert SECRET not in result.stdout
    for path in (out / "plan").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path
