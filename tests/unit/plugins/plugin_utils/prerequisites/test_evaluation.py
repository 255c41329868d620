# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""evaluation.py: every host-level check reported once, applicability, overrides, areas, bad inputs,
the plan as the only source of what a host is, and the run-level checks."""

from __future__ import annotations

import pytest
from prerequisites_samples import linux, plan, run, settings, windows

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import evaluation, registry
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import load_checklist
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.context import PrerequisiteError
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.plan_view import PlanError
from ansible_collections.safeq.hardening.plugins.plugin_utils.report import STATUSES, summarize

CHECKLIST = load_checklist()
HOST_IDS = [c.id for c in CHECKLIST.checks if c.level == "host"]


@pytest.mark.parametrize("platform, gathered", [("windows", windows()), ("linux", linux())])
def test_every_host_check_reported_once_in_checklist_order(platform, gathered):
    results = evaluation.evaluate_host(gathered, settings(platform), plan())
    assert [r["id"] for r in results] == HOST_IDS
    for res in results:
        check = CHECKLIST.by_id[res["id"]]
        assert res["status"] in STATUSES
        assert res["item"] == CHECKLIST.item_text(check) and res["title"] == check.title
        assert res["area"] == check.area and res["automation"] == check.automation
        assert res["evidence"] and res["host"] == settings(platform)["host"] and res["platform"] == platform
        if res["status"] == "manual":
            assert res["question"] and res["answered_by"], res
        else:
            assert res["question"] is None and res["answered_by"] is None


def test_clean_windows_host_has_no_failures():
    res = run(windows(), settings())
    assert {r["id"] for r in res.values() if r["status"] == "fail"} == set()
    assert res["PRE-WEB-80"]["status"] == "pass" and res["PRE-ADMIN"]["status"] == "pass"
    assert res["PRE-MSI-45"]["status"] == "not_applicable"


def test_components_come_from_the_plan():
    res = run(linux(), settings("linux", host="ors-lx"))
    assert res["PRE-LDAP-BIND"]["status"] == "not_applicable" and "this host: ors" in res["PRE-LDAP-BIND"]["evidence"]
    assert res["PRE-SHARED-FOLDER"]["status"] == "not_applicable"
    assert res["PRE-HW-CPU"]["mandatory"] is False  # mandatory for CML only
    assert run(linux(), settings("linux"))["PRE-HW-CPU"]["mandatory"] is True
    the_plan = plan()
    the_plan["policies"]["ors-lx"]["components"] = ["cml", "ors"]  # what the plan says is what counts
    assert run(linux(), settings("linux", host="ors-lx"), the_plan)["PRE-HW-CPU"]["mandatory"] is True


def test_skip_and_mandatory_overrides():
    res = run(windows(), settings(skip=["PRE-PATCHES"], mandatory={"PRE-AV-EXCL": True}))
    assert res["PRE-PATCHES"]["status"] == "not_applicable"
    assert "prerequisites_skip" in res["PRE-PATCHES"]["evidence"]
    assert res["PRE-AV-EXCL"]["mandatory"] is True


def test_areas_left_out_are_not_applicable():
    res = run(windows(), settings(areas=["hardware"]))
    for check_id, result in res.items():
        if CHECKLIST.by_id[check_id].area == "hardware":
            assert result["status"] == "pass", result
        else:
            assert result["status"] == "not_applicable", result
            assert result["evidence"] == "not run: the %s area was left out (--tags / --skip-tags)" % result["area"]
    with pytest.raises(PrerequisiteError, match="settings.areas: 'topology'"):
        run(windows(), settings(areas=["topology"]))


def test_bad_inputs():
    with pytest.raises(PrerequisiteError, match="gathered"):
        evaluation.evaluate_host([], settings(), plan())
    with pytest.raises(PrerequisiteError, match="settings: must be a mapping"):
        evaluation.evaluate_host({}, "x", plan())
    with pytest.raises(PrerequisiteError, match="settings.cml_count: unknown setting"):
        evaluation.evaluate_host({}, settings(cml_count=3), plan())
    with pytest.raises(PrerequisiteError, match="settings.phase"):
        evaluation.evaluate_host({}, settings(phase="later"), plan())
    with pytest.raises(PrerequisiteError, match="settings.host"):
        evaluation.evaluate_host({}, dict(settings(), host=""), plan())


@pytest.mark.parametrize("bad_plan, message", [
    ({"failed": True, "msg": "hostvars[x].safeq_features: unknown feature"}, "the plan failed: hostvars"),
    ({"policies": {}}, "topology must be a mapping"),
    ("nope", "the plan must be a mapping"),
])
def test_plan_must_be_a_policy_plan_result(bad_plan, message):
    with pytest.raises(PlanError, match=message):
        evaluation.evaluate_host(linux(), settings("linux"), bad_plan)


def test_host_missing_from_the_plan():
    with pytest.raises(PlanError, match="cml-9 has no policy: it is in no SafeQ component group"):
        evaluation.evaluate_host(linux(), settings("linux", host="cml-9"), plan())


def test_nothing_gathered_becomes_manual_not_silent():
    by = run({}, settings("linux"))
    for check_id in ("PRE-WEB-80", "PRE-HW-CPU", "PRE-STATIC-IP", "PRE-PATCHES", "PRE-ADMIN", "PRE-PORTS"):
        assert by[check_id]["status"] == "manual", by[check_id]
        assert by[check_id]["evidence"]


def test_a_function_must_answer_for_its_ids(monkeypatch):
    registry.functions()

    def wrong(ctx):
        return ctx.result("PRE-HW-MEM", "pass", "x")

    wrong.check_ids = ("PRE-HW-CPU",)
    monkeypatch.setitem(registry._REGISTRY, "PRE-HW-CPU", wrong)
    with pytest.raises(PrerequisiteError, match="wrong returned results for PRE-HW-MEM, expected PRE-HW-CPU"):
        run(linux(), settings("linux"))


def test_summarize():
    results = evaluation.evaluate_host(windows(), settings(), plan())
    summary = summarize(results)
    assert summary["total"] == len(results) == sum(summary[s] for s in STATUSES)


# ---- run level ----------------------------------------------------------------------------------

def test_run_checks_report_the_plans_clusters_and_groups():
    the_plan = plan()
    results = evaluation.evaluate_run(the_plan, {"cml-win": [], "cml-lx": [], "ors-lx": []},
                                      ["cml-win", "cml-lx", "ors-lx"])
    res = {r["id"]: r for r in results}
    assert [r["id"] for r in results] == ["PRE-TOPOLOGY-TERMINALS", "PRE-TOPOLOGY-NEAR-ROAMING", "PRE-CONNECT"]
    terminals = res["PRE-TOPOLOGY-TERMINALS"]
    assert terminals["status"] == "pass" and terminals["host"] == "(run)" and terminals["mandatory"]
    assert "cluster default: 2 CML node(s), no terminal type with a cluster limit" in terminals["evidence"]
    assert "terminal_professional 10, terminal_ultralight 5" in terminals["evidence"]
    assert terminals["data"] == {"clusters": {"default": {"cml": 2, "terminal_features": []}}}
    roaming = res["PRE-TOPOLOGY-NEAR-ROAMING"]
    assert roaming["status"] == "pass" and "default/floor1=1" in roaming["evidence"] and "limit 10" in roaming["evidence"]
    assert res["PRE-CONNECT"]["status"] == "pass" and "(3)" in res["PRE-CONNECT"]["evidence"]


def test_run_checks_per_cluster_and_without_groups():
    from prerequisites_samples import plan_of

    groups = {"safeq_cml": ["a1", "a2", "b1"], "safeq_ors": ["a-ors"]}
    hostvars = {"a1": {"ansible_host": "10.1.0.1", "safeq_cml_cluster": "a"},
                "a2": {"ansible_host": "10.1.0.2", "safeq_cml_cluster": "a"},
                "a-ors": {"ansible_host": "10.1.0.3", "safeq_cml_cluster": "a", "safeq_features": ["terminal_ultralight"]},
                "b1": {"ansible_host": "10.2.0.1", "safeq_cml_cluster": "b", "safeq_features": ["terminal_professional"]}}
    results = {r["id"]: r for r in evaluation.evaluate_run(plan_of(groups, hostvars), {}, [])}
    evidence = results["PRE-TOPOLOGY-TERMINALS"]["evidence"]
    assert "cluster a: 2 CML node(s), terminal_ultralight (at most 5, set on a-ors)" in evidence
    assert "cluster b: 1 CML node(s), terminal_professional (at most 10, set on b1)" in evidence
    assert results["PRE-TOPOLOGY-NEAR-ROAMING"]["status"] == "not_applicable"


def test_unreached_hosts_fail_pre_connect():
    results = evaluation.evaluate_run(plan(), {"cml-win": []}, ["cml-win", "cml-lx", "ors-lx"])
    connect = [r for r in results if r["id"] == "PRE-CONNECT"]
    assert [(r["host"], r["status"], r["mandatory"]) for r in connect] == [("cml-lx", "fail", True),
                                                                           ("ors-lx", "fail", True)]
    assert "unreachable" in connect[0]["evidence"]
    relaxed = evaluation.evaluate_run(plan(), {}, ["cml-lx"], mandatory={"PRE-CONNECT": False})
    assert [r["mandatory"] for r in relaxed if r["id"] == "PRE-CONNECT"] == [False]
