# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check reports, per host and for the whole run, as JSON, JUnit XML and Markdown.

Generic over check results; the prerequisites use it (schema ``safeq.hardening.prerequisites/v1``)
and any other check run of the collection can (its own schema, title and JUnit name). A result is
``{id, item, title, status, evidence, remediation, mandatory, host, ...}`` with a status of
``STATUSES``; ``question`` and ``answered_by`` are shown for manual results; other keys are kept.

``build_run_report(host_results, run_results, generated, schema)`` gives the JSON document::

    {"schema": "safeq.hardening.<name>/v1", "generated": "...",
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
import re
import xml.etree.ElementTree as ET

STATUSES = ("pass", "warn", "fail", "manual", "not_applicable")
RUN_HOST = "(run)"
DEFAULT_SCHEMA = "safeq.hardening.checks/v1"
DEFAULT_TITLE = "SafeQ check report"
FORMATS = ("json", "junit", "markdown")
EXTENSIONS = {"json": "json", "junit": "xml", "markdown": "md"}
STATUS_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "manual": "MANUAL", "not_applicable": "N/A"}
REQUIRED_KEYS = ("id", "item", "status", "evidence", "mandatory", "host")
_SCHEMA = re.compile(r"^safeq\.hardening\.([a-z][a-z0-9_]*)/v[0-9]+$")


class ReportError(ValueError):
    """Results or a report not in the documented shape."""


def summarize(results):
    """Counts per status, ``total`` and ``mandatory_failures`` of a list of results."""
    counts = {s: 0 for s in STATUSES}
    for res in results:
        counts[res["status"]] += 1
    counts["total"] = len(results)
    counts["mandatory_failures"] = sum(1 for r in results if r["status"] == "fail" and r["mandatory"])
    return counts


def _check_results(results, where):
    if isinstance(results, tuple):
        results = list(results)
    if not isinstance(results, list):
        raise ReportError("%s: results must be a list" % where)
    for res in results:
        if not isinstance(res, dict):
            raise ReportError("%s: result %r is not a mapping" % (where, res))
        for key in REQUIRED_KEYS:
            if key not in res:
                raise ReportError("%s: result %r lacks %s" % (where, res.get("id"), key))
        if res["status"] not in STATUSES:
            raise ReportError("%s: result %s has unknown status %r" % (where, res["id"], res["status"]))
    return results


def _check_schema(schema):
    if not isinstance(schema, str) or not _SCHEMA.match(schema):
        raise ReportError("schema %r is not safeq.hardening.<name>/v<number>" % (schema,))
    return schema


def build_run_report(host_results, run_results=None, generated=None, schema=DEFAULT_SCHEMA):
    """Whole-run report dict from {host: results} and the run-level results."""
    if not isinstance(host_results, dict):
        raise ReportError("host_results must map host names to result lists")
    hosts = {}
    everything = []
    for host in sorted(host_results):
        results = _check_results(host_results[host], "hosts[%s]" % host)
        hosts[host] = {"summary": summarize(results), "results": results}
        everything += results
    run_results = _check_results(run_results or [], "run")
    everything += run_results
    summary = summarize(everything)
    summary["hosts"] = len(hosts)
    summary["result"] = "fail" if summary["mandatory_failures"] else "pass"
    return {
        "schema": _check_schema(schema),
        "generated": generated,
        "summary": summary,
        "mandatory_failures": [{"host": r["host"], "id": r["id"], "evidence": r["evidence"]}
                               for r in everything if r["status"] == "fail" and r["mandatory"]],
        "manual": [{"host": r["host"], "id": r["id"], "question": r.get("question"),
                    "answered_by": r.get("answered_by")} for r in everything if r["status"] == "manual"],
        "hosts": hosts,
        "run": {"summary": summarize(run_results), "results": run_results},
    }


def host_report(host, results, generated=None, schema=DEFAULT_SCHEMA):
    """A report of one host (same schema, one host, no run-level part)."""
    return build_run_report({host: results}, [], generated, schema)


def as_report(report, schema=DEFAULT_SCHEMA):
    """A run report, or the bare result list of one host turned into one (with ``schema``)."""
    if isinstance(report, list):
        host = report[0]["host"] if report else "unknown"
        return host_report(host, report, schema=schema)
    if not isinstance(report, dict) or not isinstance(report.get("schema"), str) or not _SCHEMA.match(report["schema"]):
        raise ReportError("not a check report (schema safeq.hardening.<name>/v<number>)")
    for key in ("summary", "hosts", "run", "mandatory_failures", "manual"):
        if key not in report:
            raise ReportError("report lacks %s" % key)
    return report


def junit_name(report):
    """``safeq.<name>`` of the report's schema, e.g. safeq.prerequisites."""
    return "safeq.%s" % _SCHEMA.match(report["schema"]).group(1)


def render_json(report):
    return json.dumps(as_report(report), indent=2, sort_keys=True, default=str) + "\n"


def _suites(report):
    suites = [(host, data["results"]) for host, data in sorted(report["hosts"].items())]
    if report["run"]["results"]:
        suites.append((RUN_HOST, report["run"]["results"]))
    return suites


def render_junit(report, name=None):
    report = as_report(report)
    name = name or junit_name(report)
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
            ET.SubElement(cprops, "property", name="item", value=str(res["item"]))
            if res["status"] == "manual":
                ET.SubElement(cprops, "property", name="question", value=str(res.get("question") or ""))
                ET.SubElement(cprops, "property", name="answered_by", value=str(res.get("answered_by") or ""))
            evidence = str(res["evidence"])
            text = "%s\n%s" % (evidence, ("Remediation: " + res["remediation"]) if res.get("remediation") else "")
            if res["status"] == "fail":
                failure = ET.SubElement(case, "failure", type="mandatory" if res["mandatory"] else "recommended",
                                        message=evidence[:500])
                failure.text = text.strip()
            elif res["status"] == "not_applicable":
                ET.SubElement(case, "skipped", message=evidence[:500])
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


def render_markdown(report, title=DEFAULT_TITLE):
    report = as_report(report)
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


def render(report, fmt, title=DEFAULT_TITLE):
    """The report as ``json``, ``junit`` or ``markdown`` text."""
    if fmt == "json":
        return render_json(report)
    if fmt == "junit":
        return render_junit(report)
    if fmt == "markdown":
        return render_markdown(report, title)
    raise ReportError("format %r is not one of %s" % (fmt, ", ".join(FORMATS)))


def report_files(report, formats=FORMATS, run_name=None, title=DEFAULT_TITLE):
    """{file name: text}: ``<run_name>.<ext>`` for the whole run and ``<host>.<ext>`` for every host.

    ``run_name`` defaults to the schema's name (``prerequisites`` for safeq.hardening.prerequisites/v1).
    """
    report = as_report(report)
    run_name = run_name or _SCHEMA.match(report["schema"]).group(1)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ReportError("format %r is not one of %s" % (bad[0], ", ".join(FORMATS)))
    files = {}
    for host in sorted(report["hosts"]):
        if "/" in host or "\\" in host or host.startswith(".") or host == run_name:
            raise ReportError("host name %r cannot be a report file name" % host)
    for fmt in formats:
        files["%s.%s" % (run_name, EXTENSIONS[fmt])] = render(report, fmt, title)
        for host, data in sorted(report["hosts"].items()):
            one = host_report(host, data["results"], report.get("generated"), report["schema"])
            files["%s.%s" % (host, EXTENSIONS[fmt])] = render(one, fmt, title)
    return files


def stats_summary(report):
    """Small dict for ansible.builtin.set_stats (AWX job artifacts): result, counts, per host, failures, manual."""
    report = as_report(report)
    return {
        "result": report["summary"]["result"],
        "summary": {k: v for k, v in report["summary"].items() if k != "result"},
        "hosts": {h: d["summary"] for h, d in report["hosts"].items()},
        "mandatory_failures": ["%s:%s" % (f["host"], f["id"]) for f in report["mandatory_failures"]],
        "manual": ["%s:%s" % (m["host"], m["id"]) for m in report["manual"]],
    }
