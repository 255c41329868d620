"""Issue acceptance on inventories/example: the policy core and the real plan playbook."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _inbound_sources(policy, port):
    return [(r["action"], r["addresses"]) for r in policy["rules"]
            if r["direction"] == "inbound" and r["protocol"] == "tcp" and _covers(r["ports"], port)]


def _covers(ports, port):
    for p in ports:
        low, sep, high = str(p).partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def test_cml_policy_least_privilege(example_policies, example_inventory):
    groups, hostvars = example_inventory
    ors_addresses = sorted(hostvars[h]["ansible_host"] for h in groups["safeq_ors"])
    for cml in groups["safeq_cml"]:
        policy = example_policies[cml]
        others = sorted(hostvars[h]["ansible_host"] for h in groups["safeq_cml"] if h != cml)
        assert _inbound_sources(policy, 4111) == [("allow", others)]
        assert _inbound_sources(policy, 6010) == [("allow", ors_addresses)]
        for port in (20222, 20223, 20224, 20225):
            assert _inbound_sources(policy, port) == [("deny", ["any"])]
        for jmx in (19898, 9797, 9696, 9002, 9000, 9005, 8005):
            assert _inbound_sources(policy, jmx) == [("deny", ["any"])], jmx


def test_crs_receives_4139_only_from_cml(example_policies, example_inventory):
    groups, hostvars = example_inventory
    cmls = sorted(hostvars[h]["ansible_host"] for h in groups["safeq_cml"])
    assert _inbound_sources(example_policies["crs-prg-1"], 4139) == [("allow", cmls)]


def test_near_roaming_only_inside_group(example_policies, example_inventory):
    hostvars = example_inventory[1]
    assert _inbound_sources(example_policies["ors-brn-1"], 7800) == [("allow", [hostvars["ors-brn-2"]["ansible_host"]])]
    assert _inbound_sources(example_policies["ors-lon-1"], 7800) == []


def test_every_host_keeps_winrm(example_policies):
    for policy in example_policies.values():
        assert policy["management"]["ports"] == [5986]
        assert policy["management"]["addresses"] == ["10.10.250.0/24", "10.10.250.5"]


def test_plan_playbook_writes_all_outputs(tmp_path):
    env = dict(os.environ, SAFEQ_PLAN_OUTPUT_DIR=str(tmp_path), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/plan.yml", "-i", "inventories/example"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Example-Only" not in proc.stdout + proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    for expected in ("flows.json", "flows.csv", "flows.md", "flows.mmd", "cml-prg-1.json", "ors-lon-1.json"):
        assert expected in names
    cml = json.loads((tmp_path / "cml-prg-1.json").read_text())
    assert cml["host"] == "cml-prg-1" and cml["platform"] == "windows"
    flows = json.loads((tmp_path / "flows.json").read_text())
    rows = list(csv.DictReader((tmp_path / "flows.csv").open()))
    assert len(rows) == len(flows) > 0
    cluster = [r for r in rows if r["src"] == "cml-prg-2" and r["dst"] == "cml-prg-1" and r["protocol"] == "tcp"]
    assert "4111" in cluster[0]["ports"].split()
    assert (tmp_path / "flows.mmd").read_text().startswith("flowchart LR")


def test_plan_fails_on_bad_input_before_any_host(tmp_path):
    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  children:\n    safeq_cml:\n      hosts:\n        c1: {ansible_host: 10.0.0.1, safeq_features: [teleport]}\n")
    env = dict(os.environ, SAFEQ_PLAN_OUTPUT_DIR=str(tmp_path / "out"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/plan.yml", "-i", str(inv)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "hostvars[c1].safeq_features: unknown feature 'teleport'" in proc.stdout
    assert not (tmp_path / "out").exists()
