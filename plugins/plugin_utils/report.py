# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prerequisite reports: per host and for the whole run, as JSON, JUnit XML and Markdown.

Input: check results ``[{id, item, status, evidence, remediation, mandatory, host, ...}]``
(see ``prerequisites.py``).

``build_run_report(host_results, run_results)`` gives the JSON document::

    {"schema": "safeq.hardening.prerequisites/v1", "generated": "...",
     "summary": {"hosts": 2, "pass": .., "warn": .., "fail": .., "manual": .., "not_applicable": ..,
                 "total": .., "mandatory_failures": .., "result": "fail"|"pass"},
     "mandatory_failures": [{"host", "id", "evidence"}],
     "manual": [{"host", "id", "question", "answered_by"}],
     "hosts": {"cml1": {"summary": {...}, "results": [...]}},
     "run": {"summary": {...}, "results": [...]}}

JUnit mapping (one ``<testsuite>`` per host plus ``(run)``, one ``<testcase>`` per check):

* ``fail``: ``<failure type="mandatory">`` or ``<failure type="recommended">``.
* ``warn``: passes, with ``<system-out>`` and property ``status=warn``.
* ``manual``: NOT skipped (a skipped test reads as fine in most CI views): the testcase passes
  but carries properties ``status=manual``, ``question`` and ``answered_by``, its name starts
  with ``[MANUAL]``, and every suite has a ``manual`` property with the count.
* ``not_applicable``: ``<skipped>`` with the reason.

Markdown: a summary, the mandatory failures, the manual questions (who answers), then one
table per host.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import RUN_HOST, STATUSES, summarize

SCHEMA = "safeq.hardening.prerequisites/v1"
FORMATS = ("json", "junit", "markdown")
STATUS_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "manual": "MANUAL", "not_applicable": "N/A"}


class ReportError(ValueError):
    """Results not in the documented shape."""


def _check_results(results, where):
    if not isinstance(results, list):
        raise ReportError("%s: results must be a list" % where)
    for res in results:
        if not isinstance(res, dict):
            raise ReportError("%s: result %r is not a mapping" % (where, res))
        for key in ("id", "item", "status", "evidence", "mandatory", "host"):
            if key not in res:
                raise ReportError("%s: result %r lacks %s" % (where, res.get("id"), key))
        if res["status"] not in STATUSES:
            raise ReportError("%s: result %s has unknown status %r" % (where, res["id"], res["status"]))
    return results


def build_run_report(host_results, run_results=None, generated=None):
    """Whole-run report dict from {host: results} and the run-level results."""
    if not isinstance(host_results, dict):
        raise ReportError("host_results must map host names to result lists")
    hosts = {}
    everything = []
    for host in sorted(host_results):
        results = host_results[host]
        results = _check_results(list(results) if isinstance(results, tuple) else results, "hosts[%s]" % host)
        hosts[host] = {"summary": summarize(results), "results": results}
        everything += results
    run_results = _check_results(list(run_results) if isinstance(run_results, tuple) else (run_results or []), "run")
    everything += run_results
    summary = summarize(everything)
    summary["hosts"] = len(hosts)
    summary["result"] = "fail" if summary["mandatory_failures"] else "pass"
    return {
        "schema": SCHEMA,
        "generated": generated,
        "summary": summary,
        "mandatory_failures": [{"host": r["host"], "id": r["id"], "evidence": r["evidence"]}
                               for r in everything if r["status"] == "fail" and r["mandatory"]],
        "manual": [{"host": r["host"], "id": r["id"], "question": r.get("question"),
                    "answered_by": r.get("answered_by")} for r in everything if r["status"] == "manual"],
        "hosts": hosts,
        "run": {"summary": summarize(run_results), "results": run_results},
    }


def host_report(host, results, generated=None):
    """A report of one host (same schema, one host, no run-level part)."""
    return build_run_report({host: results}, [], generated)


def _as_report(report):
    if isinstance(report, list):  # bare results of one host
        host = report[0]["host"] if report else "unknown"
        return host_report(host, report)
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise ReportError("not a %s report" % SCHEMA)
    return report


def render_json(report):
    return json.dumps(_as_report(report), indent=2, sort_keys=True, default=str) + "\n"


def _suites(report):
    suites = [(host, data["results"]) for host, data in sorted(report["hosts"].items())]
    if report["run"]["results"]:
        suites.append((RUN_HOST, report["run"]["results"]))
    return suites


def render_junit(report, name="safeq.prerequisites"):
    report = _as_report(report)
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for host, results in _suites(report):
        summary = summarize(results)
        suite = ET.SubElement(root, "testsuite", name="%s.%s" % (name, host), tests=str(len(results)),
                              failures=str(summary["fail"]), errors="0", skipped=str(summary["not_applicable"]))
        if report.get("generated"):
            suite.set("timestamp", str(report["generated"]))
        props = ET.SubElement(suite, "properties")
        for key in STATUSES + ("mandatory_failures",):
            ET.SubElement(props, "property", name=key, value=str(summary[key]))
        for res in results:
            title = "%s %s" % (res["id"], res.get("title") or "")
            case = ET.SubElement(suite, "testcase", classname="%s.%s" % (name, host),
                                 name=("[MANUAL] " + title) if res["status"] == "manual" else title.strip())
            cprops = ET.SubElement(case, "properties")
            ET.SubElement(cprops, "property", name="status", value=res["status"])
            ET.SubElement(cprops, "property", name="mandatory", value=str(bool(res["mandatory"])).lower())
            ET.SubElement(cprops, "property", name="item", value=res["item"])
            if res["status"] == "manual":
                ET.SubElement(cprops, "property", name="question", value=str(res.get("question") or ""))
                ET.SubElement(cprops, "property", name="answered_by", value=str(res.get("answered_by") or ""))
            text = "%s\n%s" % (res["evidence"], ("Remediation: " + res["remediation"]) if res.get("remediation") else "")
            if res["status"] == "fail":
                failure = ET.SubElement(case, "failure", type="mandatory" if res["mandatory"] else "recommended",
                                        message=res["evidence"][:500])
                failure.text = text.strip()
            elif res["status"] == "not_applicable":
                ET.SubElement(case, "skipped", message=res["evidence"][:500])
            else:
                out = ET.SubElement(case, "system-out")
                out.text = ("%s: %s" % (res["status"].upper(), text)).strip()
        totals["tests"] += len(results)
        totals["failures"] += summary["fail"]
        totals["skipped"] += summary["not_applicable"]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md(text):
    return " ".join(str(text or "").split()).replace("|", "\\|")


def render_markdown(report, title="SafeQ pre-installation checklist"):
    report = _as_report(report)
    summary = report["summary"]
    out = ["# %s" % title, ""]
    if report.get("generated"):
        out += ["Generated: %s" % report["generated"], ""]
    out += ["**Result: %s** - %d host(s), %d mandatory failure(s); pass %d, warn %d, fail %d, manual %d, n/a %d."
            % (summary["result"].upper(), summary["hosts"], summary["mandatory_failures"], summary["pass"],
               summary["warn"], summary["fail"], summary["manual"], summary["not_applicable"]), ""]
    if report["mandatory_failures"]:
        out += ["## Mandatory failures", ""]
        out += ["- **%s** %s: %s" % (_md(f["host"]), f["id"], _md(f["evidence"])) for f in report["mandatory_failures"]]
        out.append("")
    if report["manual"]:
        out += ["## Manual items (questions to answer)", "", "| Host | Check | Question | Answered by |",
                "|---|---|---|---|"]
        out += ["| %s | %s | %s | %s |" % (_md(m["host"]), m["id"], _md(m["question"]), _md(m["answered_by"]))
                for m in report["manual"]]
        out.append("")
    for host, results in _suites(report):
        s = summarize(results)
        out += ["## %s" % host, "",
                "pass %d, warn %d, fail %d (mandatory %d), manual %d, n/a %d" % (
                    s["pass"], s["warn"], s["fail"], s["mandatory_failures"], s["manual"], s["not_applicable"]), "",
                "| Check | Status | Mandatory | Checklist item | Evidence | Remediation |",
                "|---|---|---|---|---|---|"]
        for res in results:
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                res["id"], STATUS_MARK[res["status"]], "yes" if res["mandatory"] else "no", _md(res["item"]),
                _md(res["evidence"]), _md(res.get("remediation"))))
        out.append("")
    return "\n".join(out)


RENDERERS = {"json": render_json, "junit": render_junit, "markdown": render_markdown}
EXTENSIONS = {"json": "json", "junit": "xml", "markdown": "md"}


def render(report, fmt):
    if fmt not in RENDERERS:
        raise ReportError("format %r is not one of %s" % (fmt, ", ".join(FORMATS)))
    return RENDERERS[fmt](report)


def report_files(report, formats=FORMATS, run_name="prerequisites"):
    """{file name: text} for the whole run (``<run_name>.<ext>``) and every host (``<host>.<ext>``)."""
    report = _as_report(report)
    files = {}
    for fmt in formats:
        if fmt not in RENDERERS:
            raise ReportError("format %r is not one of %s" % (fmt, ", ".join(FORMATS)))
        files["%s.%s" % (run_name, EXTENSIONS[fmt])] = render(report, fmt)
        for host, data in sorted(report["hosts"].items()):
            if "/" in host or host.startswith("."):
                raise ReportError("host name %r cannot be a file name" % host)
            files["%s.%s" % (host, EXTENSIONS[fmt])] = render(host_report(host, data["results"],
                                                                          report.get("generated")), fmt)
    return files


def stats_summary(report):
    """Small dict for ansible.builtin.set_stats (AWX job artifacts)."""
    report = _as_report(report)
    return {
        "result": report["summary"]["result"],
        "summary": {k: v for k, v in report["summary"].items() if k != "result"},
        "hosts": {h: d["summary"] for h, d in report["hosts"].items()},
        "mandatory_failures": ["%s:%s" % (f["host"], f["id"]) for f in report["mandatory_failures"]],
        "manual": ["%s:%s" % (m["host"], m["id"]) for m in report["manual"]],
    }
