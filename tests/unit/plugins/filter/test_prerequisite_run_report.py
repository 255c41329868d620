# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter safeq.hardening.prerequisite_run_report: every host's results, the run-level checks from the plan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.filter.prerequisite_run_report import prerequisite_run_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugin_utils" / "prerequisites"))
import prerequisites_samples as S  # noqa: E402 - the samples of the prerequisites unit tests


class HostVarsLike(dict):
    """hostvars behaves like a mapping of host -> mapping."""


def test_run_report_adds_the_run_level_checks_and_unreached_hosts():
    plan = S.plan()
    win = S.run(S.windows(), S.settings())
    hostvars = HostVarsLike({"cml-win": {"__prerequisites_results": list(win.values())}, "cml-lx": {}, "ors-lx": {}})
    report = prerequisite_run_report(hostvars, hosts=["cml-win", "cml-lx", "ors-lx"], plan=plan, generated="now")
    assert report["schema"] == "safeq.hardening.prerequisites/v1" and report["generated"] == "now"
    assert list(report["hosts"]) == ["cml-win"] and report["summary"]["hosts"] == 1
    run = report["run"]["results"]
    assert [r["id"] for r in run] == ["PRE-TOPOLOGY-TERMINALS", "PRE-TOPOLOGY-NEAR-ROAMING", "PRE-CONNECT",
                                      "PRE-CONNECT"]
    assert {(r["host"], r["status"]) for r in run if r["id"] == "PRE-CONNECT"} == {("cml-lx", "fail"),
                                                                                   ("ors-lx", "fail")}
    assert report["summary"]["result"] == "fail"
    assert {f["host"] for f in report["mandatory_failures"]} == {"cml-lx", "ors-lx"}


def test_mandatory_overrides_and_results_var():
    hostvars = HostVarsLike({"cml-lx": {"mine": []}})
    report = prerequisite_run_report(hostvars, hosts=["cml-lx", "gone"], plan=S.plan(), results_var="mine",
                                     mandatory={"PRE-CONNECT": False})
    assert report["summary"]["result"] == "pass" and report["summary"]["fail"] == 1


def test_bad_arguments():
    with pytest.raises(AnsibleFilterError, match="plan is required"):
        prerequisite_run_report({}, hosts=["a"])
    with pytest.raises(AnsibleFilterError, match="prerequisite_run_report"):
        prerequisite_run_report({}, hosts="cml1", plan=[])
    with pytest.raises(AnsibleFilterError, match="the plan failed: boom"):
        prerequisite_run_report({}, hosts=[], plan={"failed": True, "msg": "boom"})
    with pytest.raises(AnsibleFilterError, match="output"):
        prerequisite_run_report({}, hosts=[], output="pdf")
