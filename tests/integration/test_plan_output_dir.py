# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where plan writes: ansible-playbook playbooks/plan.yml run from a temporary directory.

The output directory once came from ``PWD``; these runs set ``PWD`` to another directory than the
one ansible-playbook runs from, so a path taken from ``PWD`` shows up as files in the wrong place.
Checked: ``safeq_output_dir`` relative paths resolve against the directory ansible-playbook runs
from; without it files go to ``./output/plan`` there, or to ``$AWX_ISOLATED_DATA_DIR/plan`` when
ansible-runner sets that; files an earlier run wrote that this run does not write are removed,
other files in the directory stay.
"""

from __future__ import annotations

import json

from test_plan_refuses_bad_input import SSH, WINRM, files_under, inventory, run_plan

HOSTS = {
    "cml1": (["safeq_cml"], dict(WINRM, ansible_host="10.10.1.11")),
    "ors1": (["safeq_ors"], dict(WINRM, ansible_host="10.20.1.21")),
    "ors-lnx": (["safeq_ors"], dict(SSH, ansible_host="10.20.1.22")),
}


def _dirs(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    elsewhere.mkdir()
    return run, elsewhere


def _assert_plan(directory):
    written = files_under(directory)
    for name in ("hosts/cml1.json", "hosts/ors1.json", "hosts/ors-lnx.json", "hosts/ors-lnx.nft", "flows.json",
                 "summary.json"):
        assert name in written, (name, written)
    summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    assert summary["summary"]["hosts"] == 3


def test_relative_output_dir_resolves_against_the_run_directory(tmp_path):
    run, elsewhere = _dirs(tmp_path)
    result = run_plan(run, inventory(HOSTS), {"safeq_output_dir": "reports/safeq"}, env={"PWD": str(elsewhere)})
    assert result.returncode == 0, result.stdout
    _assert_plan(run / "reports" / "safeq" / "plan")
    assert str(run / "reports" / "safeq" / "plan") in result.stdout  # plan_dir in the summary is absolute
    assert files_under(elsewhere) == []
    assert not (run / "output").exists()


def test_default_is_output_plan_of_the_run_directory(tmp_path):
    run, elsewhere = _dirs(tmp_path)
    result = run_plan(run, inventory(HOSTS), env={"PWD": str(elsewhere)})
    assert result.returncode == 0, result.stdout
    _assert_plan(run / "output" / "plan")
    assert files_under(elsewhere) == []


def test_default_under_ansible_runner_is_the_artifact_dir(tmp_path):
    run, elsewhere = _dirs(tmp_path)
    artifacts = tmp_path / "artifacts" / "4242"
    artifacts.mkdir(parents=True)
    result = run_plan(run, inventory(HOSTS), env={"PWD": str(elsewhere), "AWX_ISOLATED_DATA_DIR": str(artifacts)})
    assert result.returncode == 0, result.stdout
    _assert_plan(artifacts / "plan")
    assert not (run / "output").exists()
    assert files_under(elsewhere) == []


def test_output_dir_wins_over_the_artifact_dir(tmp_path):
    run, _elsewhere = _dirs(tmp_path)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    result = run_plan(run, inventory(HOSTS), {"safeq_output_dir": "mine"}, env={"AWX_ISOLATED_DATA_DIR": str(artifacts)})
    assert result.returncode == 0, result.stdout
    _assert_plan(run / "mine" / "plan")
    assert files_under(artifacts) == []


def test_files_of_a_removed_host_go_and_unrelated_files_stay(tmp_path):
    run, _elsewhere = _dirs(tmp_path)
    first = run_plan(run, inventory(HOSTS), {"safeq_output_dir": "out"})
    assert first.returncode == 0, first.stdout
    plan = run / "out" / "plan"
    _assert_plan(plan)
    (plan / "NOTES.txt").write_text("the network team's notes\n", encoding="utf-8")
    (plan / "hosts" / "extra.json").write_text("{}\n", encoding="utf-8")
    (run / "out" / "other.txt").write_text("not plan's\n", encoding="utf-8")

    remaining = {name: item for name, item in HOSTS.items() if name != "ors-lnx"}
    second = run_plan(run, inventory(remaining), {"safeq_output_dir": "out"})
    assert second.returncode == 0, second.stdout
    written = files_under(plan)
    assert "hosts/ors-lnx.json" not in written and "hosts/ors-lnx.nft" not in written, written
    assert "hosts/cml1.json" in written and "hosts/ors1.json" in written
    for kept in ("NOTES.txt", "hosts/extra.json"):
        assert kept in written, (kept, written)
    assert (run / "out" / "other.txt").read_text(encoding="utf-8") == "not plan's\n"
    assert "ors-lnx" not in (plan / "flows.json").read_text(encoding="utf-8")
    assert json.loads((plan / "summary.json").read_text(encoding="utf-8"))["summary"]["hosts"] == 2
