# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check reports (plugins/plugin_utils/report.py) and filter safeq.hardening.prerequisite_report."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.filter.prerequisite_report import prerequisite_report
from ansible_collections.safeq.hardening.plugins.plugin_utils import report as R
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import run_report
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import load_checklist

CHECKLIST = load_checklist()


def res(host, check_id, status, mandatory=True, **extra):
    check = CHECKLIST.by_id[check_id]
    out = {"id": check_id, "item": CHECKLIST.item_text(check), "title": check.title,
           "status": status, "mandatory": mandatory, "evidence": "evidence of %s | with a pipe" % check_id,
           "remediation": "fix %s" % check_id if status == "fail" else "", "host": host, "platform": "windows",
           "automation": check.automation, "area": check.area, "question": None, "answered_by": None}
    out.update(extra)
    return out


HOSTS = {
    "cml1": [res("cml1", "PRE-WEB-80", "fail"), res("cml1", "PRE-HW-CPU", "pass"),
             res("cml1", "PRE-EXTDB", "manual", False, question="2 accounts?", answered_by="customer DBA"),
             res("cml1", "PRE-MSI-45", "not_applicable"), res("cml1", "PRE-BROWSER", "warn", False)],
    "ors1": [res("ors1", "PRE-AV-EXCL", "fail", False), res("ors1", "PRE-ADMIN", "pass")],
}
RUN = [res(R.RUN_HOST, "PRE-TOPOLOGY-TERMINALS", "pass")]


@pytest.fixture
def report():
    return R.build_run_report(HOSTS, RUN, "2025-01-01T00:00:00Z", run_report.SCHEMA)


def test_run_report_summary(report):
    s = report["summary"]
    assert (s["hosts"], s["pass"], s["warn"], s["fail"], s["manual"], s["not_applicable"], s["total"]) == (
        2, 3, 1, 2, 1, 1, 8)
    assert s["mandatory_failures"] == 1 and s["result"] == "fail"
    assert report["schema"] == "safeq.hardening.prerequisites/v1"
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
    md = R.render_markdown(report, run_report.TITLE)
    assert md.startswith("# SafeQ pre-installation checklist")
    assert "**Result: FAIL**" in md and "## Mandatory failures" in md and "## Manual items" in md
    assert "| cml1 | PRE-EXTDB | 2 accounts? | customer DBA |" in md
    assert "evidence of PRE-WEB-80 \\| with a pipe" in md  # pipes escaped inside tables
    assert "## (run)" in md and "## ors1" in md
    for line in md.splitlines():
        if line.startswith("| PRE-"):
            assert len(re.split(r"(?<!\\)\|", line)) == 8, line  # 6 cells, escaped pipes stay inside


def test_files_and_stats(report):
    files = run_report.files(report)
    assert sorted(files) == ["cml1.json", "cml1.md", "cml1.xml", "ors1.json", "ors1.md", "ors1.xml",
                             "prerequisites.json", "prerequisites.md", "prerequisites.xml"]
    assert json.loads(files["ors1.json"])["summary"]["hosts"] == 1
    assert json.loads(files["ors1.json"])["schema"] == "safeq.hardening.prerequisites/v1"
    assert "(run)" not in files["cml1.md"] and files["cml1.md"].startswith("# SafeQ pre-installation checklist")
    assert sorted(run_report.files(report, ["junit"])) == ["cml1.xml", "ors1.xml", "prerequisites.xml"]
    stats = R.stats_summary(report)
    assert stats["result"] == "fail" and stats["mandatory_failures"] == ["cml1:PRE-WEB-80"]
    assert stats["manual"] == ["cml1:PRE-EXTDB"] and stats["hosts"]["cml1"]["fail"] == 1
    assert {k: stats["summary"][k] for k in R.STATUSES} == {"pass": 3, "warn": 1, "fail": 2, "manual": 1,
                                                            "not_applicable": 1}
    json.dumps(stats)


def test_the_rendering_is_generic_over_check_results():
    other = [{"id": "VER-NFT-1", "item": "the table is loaded", "status": "fail", "evidence": "missing",
              "mandatory": True, "host": "h1", "title": "nftables table"}]
    report = R.build_run_report({"h1": other}, [], "now", "safeq.hardening.verify/v1")
    files = R.report_files(report, title="SafeQ verification")
    assert sorted(files) == ["h1.json", "h1.md", "h1.xml", "verify.json", "verify.md", "verify.xml"]
    assert 'testsuites name="safeq.verify"' in files["verify.xml"] and files["h1.md"].startswith("# SafeQ verification")
    with pytest.raises(R.ReportError, match="schema"):
        R.build_run_report({}, [], schema="verify")
    with pytest.raises(R.ReportError, match="not a check report"):
        R.render_json({"schema": "other/v1"})


@pytest.mark.parametrize("bad, match", [
    ({"h": "x"}, "must be a list"),
    ({"h": ["x"]}, "not a mapping"),
    ({"h": [{"id": "X"}]}, "lacks"),
    ({"h": [dict(res("h", "PRE-LPD", "pass"), status="ok")]}, "unknown status"),
])
def test_bad_results(bad, match):
    with pytest.raises(R.ReportError, match=match):
        R.build_run_report(bad)


@pytest.mark.parametrize("host", ["../evil", ".hidden", "prerequisites", "a\\b"])
def test_report_file_names_are_safe(host):
    with pytest.raises(R.ReportError, match="file name"):
        run_report.files(R.build_run_report({host: []}, [], schema=run_report.SCHEMA))


def test_filter_renders(report):
    assert prerequisite_report(report, "markdown").startswith("# SafeQ pre-installation checklist")
    one_host = json.loads(prerequisite_report(report, "json", host="ors1"))
    assert list(one_host["hosts"]) == ["ors1"] and one_host["generated"] == "2025-01-01T00:00:00Z"
    from_list = json.loads(prerequisite_report(HOSTS["cml1"]))
    assert from_list["summary"]["hosts"] == 1 and from_list["schema"] == "safeq.hardening.prerequisites/v1"
    assert prerequisite_report(report, "stats")["result"] == "fail"
    assert "ors1.md" in prerequisite_report(report, "files", formats=["markdown"])
    assert prerequisite_report(report, "junit").startswith('<?xml version="1.0"')
    with pytest.raises(AnsibleFilterError, match="not in the report"):
        prerequisite_report(report, "json", host="nope")
    with pytest.raises(AnsibleFilterError, match="format"):
        prerequisite_report(report, "pdf")
