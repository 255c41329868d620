# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan: every host rendered and validated at once; files written in one pass with stale files removed."""

from __future__ import annotations

import json

from inventory_builder import Inventory, standard

from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import plan_files, write_files


def test_every_host_is_rendered_for_its_platform(example_plan):
    assert all("windows" in r for r in example_plan["rendered"].values())
    plan = standard().plan()
    assert all("nftables" in r for r in plan["rendered"].values())


def test_summary_numbers(example_plan):
    summary = example_plan["summary"]
    assert summary["hosts"] == 9 and summary["flows"] == len(example_plan["flows"])
    assert summary["rules_per_host"]["cml-prg-1"] == len(example_plan["policies"]["cml-prg-1"]["rules"])


def test_plan_files_and_policy_json(example_plan):
    files = plan_files(example_plan)
    for name in ("flows.json", "flows.csv", "flows.md", "flows.mmd", "flows.svg", "plan.html", "summary.json"):
        assert name in files
    policy = json.loads(files["hosts/cml-prg-1.json"])
    assert policy == json.loads(json.dumps(example_plan["policies"]["cml-prg-1"]))
    assert "hosts/cml-prg-1.nft" not in files  # Windows host
    assert "flows-hosts.csv" in plan_files(example_plan, "hosts")


def test_write_files_keeps_unchanged_and_removes_stale(tmp_path):
    inv = standard()
    first = write_files(tmp_path, plan_files(inv.plan()))
    assert "hosts/ors3.json" in first["written"]
    (tmp_path / "notes.txt").write_text("mine")
    second = write_files(tmp_path, plan_files(inv.plan()))
    assert set(second["written"]) <= {"plan.html"}  # only the report's timestamp differs
    assert second["unchanged"] >= len(first["written"]) - 1
    smaller = Inventory(safeq_features=["workstation_client", "job_roaming"])
    smaller.add("cml1", ["cml"], "10.0.1.11").add("ors1", ["ors"], "10.0.2.21")
    third = write_files(tmp_path, plan_files(smaller.plan()))
    assert "hosts/ors3.json" in third["removed"] and not (tmp_path / "hosts" / "ors3.json").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"  # never ours, never removed


def test_policies_json_holds_every_host_and_host_files_follow_the_switch(example_plan):
    files = plan_files(example_plan)
    assert json.loads(files["policies.json"]) == json.loads(json.dumps(example_plan["policies"]))
    assert "hosts/cml-prg-1.json" in files  # auto: 9 hosts is below the limit
    never = plan_files(example_plan, host_files="never")
    assert not [name for name in never if name.startswith("hosts/")] and "policies.json" in never
    assert "hosts/ors-lon-1.json" in plan_files(example_plan, host_files="always")


def test_auto_host_files_stop_at_the_limit():
    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import HOST_FILES_AUTO_LIMIT, writes_host_files

    assert writes_host_files({"policies": dict.fromkeys(range(HOST_FILES_AUTO_LIMIT))})
    assert not writes_host_files({"policies": dict.fromkeys(range(HOST_FILES_AUTO_LIMIT + 1))})
    assert writes_host_files({"policies": dict.fromkeys(range(HOST_FILES_AUTO_LIMIT + 1))}, "always")
