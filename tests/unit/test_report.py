"""Prerequisite reports (plugins/plugin_utils/report.py) and the report filters."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.filter.prerequisite_report import prerequisite_report
from ansible_collections.safeq.hardening.plugins.filter.prerequisite_run_report import prerequisite_run_report
from ansible_collections.safeq.hardening.plugins.plugin_utils import prerequisites as P
from ansible_collections.safeq.hardening.plugins.plugin_utils import report as R


def res(host, check_id, status, mandatory=True, **extra):
    out = {"id": check_id, "item": P.item_text(P.CHECKS_BY_ID[check_id]), "title": P.CHECKS_BY_ID[check_id]["title"],
           "status": status, "mandatory": mandatory, "evidence": "evidence of %s | with a pipe" % check_id,
           "remediation": "fix %s" % check_id if status == "fail" else "", "host": host, "platform": "windows",
           "automation": "automated", "question": None, "answered_by": None}
    out.update(extra)
    return out


HOSTS = {
    "cml1": [res("cml1", "PRE-WEB-80", "fail"), res("cml1", "PRE-HW-CPU", "pass"),
             res("cml1", "PRE-EXTDB", "manual", False, question="2 accounts?", answered_by="customer DBA"),
             res("cml1", "PRE-MSI-45", "not_applicable"), res("cml1", "PRE-BROWSER", "warn", False)],
    "ors1": [res("ors1", "PRE-AV-EXCL", "fail", False), res("ors1", "PRE-ADMIN", "pass")],
}
RUN = [res(P.RUN_HOST, "PRE-TOPOLOGY-TERMINALS", "pass")]


@pytest.fixture
def report():
    return R.build_run_report(HOSTS, RUN, "2025-01-01T00:00:00Z")


def test_run_report_summary(report):
    s = report["summary"]
    assert (s["hosts"], s["pass"], s["warn"], s["fail"], s["manual"], s["not_applicable"], s["total"]) == (
        2, 3, 1, 2, 1, 1, 8)
    assert s["mandatory_failures"] == 1 and s["result"] == "fail"
    assert report["mandatory_failures"] == [{"host": "cml1", "id": "PRE-WEB-80",
                                             "evidence": "evidence of PRE-WEB-80 | with a pipe"}]
    assert report["manual"] == [{"host": "cml1", "id": "PRE-EXTDB", "question": "2 accounts?",
                                 "answered_by": "customer DBA"}]
    assert report["hosts"]["ors1"]["summary"]["mandatory_failures"] == 0
    ok = R.build_run_report({"ors1": HOSTS["ors1"]}, [])
    assert ok["summary"]["result"] == "pass"  # a failed non-mandatory item does not fail the run


def test_json_round_trip(report):
    text = R.render_json(report)
    assert json.loads(text) == json.loads(json.dumps(report))
    assert json.loads(R.render_json(HOSTS["cml1"]))["hosts"]["cml1"]["summary"]["fail"] == 1


def test_junit(report):
    root = ET.fromstring(R.render_junit(report))
    assert (root.get("tests"), root.get("failures"), root.get("skipped"), root.get("errors")) == ("8", "2", "1", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"safeq.prerequisites.cml1", "safeq.prerequisites.ors1", "safeq.prerequisites.(run)"}
    cml = suites["safeq.prerequisites.cml1"]
    props = {p.get("name"): p.get("value") for p in cml.find("properties")}
    assert props["manual"] == "1" and props["mandatory_failures"] == "1"
    cases = {c.get("name").replace("[MANUAL] ", ""): c for c in cml.findall("testcase")}
    web = cases["PRE-WEB-80 No web server listening on TCP 80"]
    assert web.find("failure").get("type") == "mandatory" and "fix PRE-WEB-80" in web.find("failure").text
    manual = [c for c in cml.findall("testcase") if c.get("name").startswith("[MANUAL] ")]
    assert len(manual) == 1
    assert manual[0].find("skipped") is None and manual[0].find("failure") is None  # visible, not skipped
    mprops = {p.get("name"): p.get("value") for p in manual[0].find("properties")}
    assert mprops["status"] == "manual" and mprops["question"] == "2 accounts?" and mprops["answered_by"] == "customer DBA"
    na = cases["PRE-MSI-45 Windows Installer 4.5+ for embedded MS SQL Express"]
    assert na.find("skipped") is not None
    warn = cases["PRE-BROWSER Current web browser installed"]
    assert warn.find("system-out").text.startswith("WARN")
    ors = suites["safeq.prerequisites.ors1"]
    assert ors.find("testcase/failure").get("type") == "recommended"


def test_markdown(report):
    md = R.render_markdown(report)
    assert md.startswith("# SafeQ pre-installation checklist")
    assert "**Result: FAIL**" in md and "## Mandatory failures" in md and "## Manual items" in md
    assert "| cml1 | PRE-EXTDB | 2 accounts? | customer DBA |" in md
    assert "evidence of PRE-WEB-80 \\| with a pipe" in md  # pipes escaped inside tables
    assert "## (run)" in md and "## ors1" in md
    for line in md.splitlines():
        if line.startswith("| PRE-"):
            assert len(re.split(r"(?<!\\)\|", line)) == 8, line  # 6 cells, escaped pipes stay inside


def test_files_and_stats(report):
    files = R.report_files(report)
    assert sorted(files) == ["cml1.json", "cml1.md", "cml1.xml", "ors1.json", "ors1.md", "ors1.xml",
                             "prerequisites.json", "prerequisites.md", "prerequisites.xml"]
    assert json.loads(files["ors1.json"])["summary"]["hosts"] == 1
    assert "(run)" not in files["cml1.md"]
    assert sorted(R.report_files(report, ["junit"])) == ["cml1.xml", "ors1.xml", "prerequisites.xml"]
    stats = R.stats_summary(report)
    assert stats["result"] == "fail" and stats["mandatory_failures"] == ["cml1:PRE-WEB-80"]
    assert stats["manual"] == ["cml1:PRE-EXTDB"] and stats["hosts"]["cml1"]["fail"] == 1
    json.dumps(stats)


@pytest.mark.parametrize("bad, match", [
    ({"h": "x"}, "must be a list"),
    ({"h": ["x"]}, "not a mapping"),
    ({"h": [{"id": "X"}]}, "lacks"),
    ({"h": [dict(res("h", "PRE-LPD", "pass"), status="ok")]}, "unknown status"),
])
def test_bad_results(bad, match):
    with pytest.raises(R.ReportError, match=match):
        R.build_run_report(bad)


def test_report_file_names_are_safe():
    with pytest.raises(R.ReportError, match="file name"):
        R.report_files(R.build_run_report({"../evil": []}))


def test_filter_renders(report):
    assert prerequisite_report(report, "markdown").startswith("# SafeQ")
    one_host = json.loads(prerequisite_report(report, "json", host="ors1"))
    assert list(one_host["hosts"]) == ["ors1"] and one_host["generated"] == "2025-01-01T00:00:00Z"
    assert json.loads(prerequisite_report(HOSTS["cml1"]))["summary"]["hosts"] == 1
    assert prerequisite_report(report, "stats")["result"] == "fail"
    assert "ors1.md" in prerequisite_report(report, "files", formats=["markdown"])
    with pytest.raises(AnsibleFilterError, match="not in the report"):
        prerequisite_report(report, "json", host="nope")
    with pytest.raises(AnsibleFilterError, match="format"):
        prerequisite_report(report, "pdf")


class HostVarsLike(dict):
    """hostvars behaves like a mapping of host -> mapping."""


def test_run_report_filter_adds_topology_and_unreachable_hosts():
    cml = ["cml%d" % i for i in range(1, 7)]
    hostvars = HostVarsLike({h: {"safeq_features": ["terminal_ultralight"], "prerequisites_results": []}
                             for h in cml})
    hostvars["ors1"] = {"safeq_near_roaming_group": "floor1"}  # no results: unreachable
    groups = {"safeq_cml": cml, "safeq_ors": ["ors1"], "all": cml + ["ors1"]}
    report = prerequisite_run_report(hostvars, hosts=cml + ["ors1"], groups=groups, generated="now")
    run = {r["id"]: r for r in report["run"]["results"]}
    assert run["PRE-TOPOLOGY-TERMINALS"]["status"] == "fail"  # 6 CML > UltraLight limit 5
    assert run["PRE-TOPOLOGY-NEAR-ROAMING"]["status"] == "pass"
    assert run["PRE-CONNECT"]["status"] == "fail" and run["PRE-CONNECT"]["host"] == "ors1"
    assert report["summary"]["hosts"] == 6 and report["summary"]["result"] == "fail"
    with pytest.raises(AnsibleFilterError):
        prerequisite_run_report(hostvars, hosts="cml1", groups=[])
