# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan playbook on inventories/example: every output, one pass, --limit gives the full run's policies."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


def _run(*args, cwd=ROOT):
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=300, check=False)


def test_plan_playbook_writes_all_outputs(tmp_path):
    proc = _run("playbooks/plan.yml", "-i", "inventories/example", "-e", "safeq_output_dir=%s" % tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Example-Only" not in proc.stdout + proc.stderr  # the vaulted password is never decrypted or shown
    plan = tmp_path / "plan"
    for name in ("flows.json", "flows.csv", "flows.md", "flows.mmd", "flows.svg", "plan.html", "summary.json",
                 "hosts/cml-prg-1.json", "hosts/ors-lon-1.json"):
        assert (plan / name).is_file(), name
    cml = json.loads((plan / "hosts" / "cml-prg-1.json").read_text())
    assert cml["host"] == "cml-prg-1" and cml["platform"] == "windows"
    flows = json.loads((plan / "flows.json").read_text())
    rows = list(csv.DictReader((plan / "flows.csv").open()))
    assert len(rows) == len(flows) > 0
    cluster = [r for r in rows if r["catalog_ids"] == "is-cluster-db-sync-4111"]
    assert len(cluster) == 1 and cluster[0]["ports"] == "4111"
    assert (plan / "flows.mmd").read_text().startswith("flowchart LR")
    summary = json.loads((plan / "summary.json").read_text())["summary"]
    assert summary["hosts"] == 9


def test_limit_runs_compute_the_full_runs_policies(tmp_path):
    full, limited = tmp_path / "full", tmp_path / "limited"
    assert _run("playbooks/plan.yml", "-i", "inventories/example", "-e", "safeq_output_dir=%s" % full).returncode == 0
    proc = _run("playbooks/plan.yml", "-i", "inventories/example", "--limit", "localhost,ors-brn-1",
                "-e", "safeq_output_dir=%s" % limited)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in (full / "plan" / "hosts").glob("*.json"):
        assert (limited / "plan" / "hosts" / host.name).read_bytes() == host.read_bytes(), host.name


def test_a_limited_play_computes_the_full_runs_policy(tmp_path):
    # the computation harden and verify run first (policy_plan for the play's hosts, on the controller):
    # under --limit it still reads the whole inventory, so ors-brn-1 gets the full run's policy
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: safeq_ors\n  gather_facts: false\n  tasks:\n"
        "    - safeq.hardening.policy_plan:\n        hosts: \"{{ ansible_play_hosts_all }}\"\n"
        "      run_once: true\n      delegate_to: localhost\n      register: p\n"
        "    - ansible.builtin.copy:\n        content: \"{{ p.policies | to_json }}\"\n"
        "        dest: \"%s/{{ out }}.json\"\n"
        "      delegate_to: localhost\n      run_once: true\n" % tmp_path)
    assert _run(str(playbook), "-i", "inventories/example", "-e", "out=full").returncode == 0
    assert _run(str(playbook), "-i", "inventories/example", "--limit", "ors-brn-1", "-e", "out=limited").returncode == 0
    full = json.loads((tmp_path / "full.json").read_text())
    limited = json.loads((tmp_path / "limited.json").read_text())
    assert sorted(limited) == ["ors-brn-1"] and len(full) == 4
    assert limited["ors-brn-1"] == full["ors-brn-1"]


def test_plan_fails_on_bad_input_before_writing(tmp_path):
    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  children:\n    safeq_cml:\n      hosts:\n        c1: {ansible_host: 10.0.0.1, safeq_features: [teleport]}\n")
    proc = _run("playbooks/plan.yml", "-i", str(inv), "-e", "safeq_output_dir=%s" % (tmp_path / "out"))
    assert proc.returncode != 0
    assert "hostvars[c1].safeq_features: unknown feature 'teleport'" in proc.stdout
    assert not (tmp_path / "out").exists()
