# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTML plan and check reports (plugins/plugin_utils/render_html.py), checked with html.parser.

``plan_report`` and ``check_report`` build realistic inputs; test_render_html_chromium.py reuses
them (loaded by path).
"""

from __future__ import annotations

import collections
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

from ansible_collections.safeq.hardening.plugins.plugin_utils import render_html as H
from ansible_collections.safeq.hardening.plugins.plugin_utils import report as R

HERE = Path(__file__).resolve().parent


def _load(name):
    spec = importlib.util.spec_from_file_location("safeq_" + name, HERE / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


samples = _load("test_render_svg")
HOSTILE = samples.HOSTILE
MANAGEMENT = {"protocol": "tcp", "ports": [5986], "addresses": ["10.10.250.0/24", "10.10.0.5"]}


# ---- sample builders ------------------------------------------------------------------------------

def policies_from(flows, management=None):
    """Per-host policies consistent with ``flows``: allow rules per peer, two deny rules per host."""
    hosts = {}
    for row in flows:
        for side in ("source", "destination"):
            ep = row[side]
            if ep["kind"] == "safeq":
                for member, address in zip(ep["members"], ep["addresses"]):
                    hosts.setdefault(member, {"address": address, "components": set()})["components"].add(
                        ep["component"])
    rules = {host: {} for host in hosts}
    for row in flows:
        for direction, local, remote in (("inbound", "destination", "source"), ("outbound", "source", "destination")):
            if row[local]["kind"] != "safeq" or row["unresolved"]:
                continue
            for member in row[local]["members"]:
                key = (direction, row["protocol"], row[remote]["name"])
                rule = rules[member].setdefault(key, {
                    "name": "allow-%s-%s-%s" % (direction[:3].replace("inb", "in"), row["protocol"],
                                                row[remote]["name"]),
                    "action": "allow", "direction": direction, "protocol": row["protocol"], "ports": [],
                    "addresses": list(row[remote]["addresses"]), "peers": [row[remote]["name"]], "catalog_ids": [],
                })
                rule["ports"] += [p for p in row["ports"] if p not in rule["ports"]]
                rule["catalog_ids"] += [c for c in row["catalog_ids"] if c not in rule["catalog_ids"]]
    policies = {}
    for host in sorted(hosts):
        deny = [
            {"name": "deny-in-tcp-remote", "action": "deny", "direction": "inbound", "protocol": "tcp",
             "ports": [9000, 9002, 19898], "addresses": ["any"], "except": ["loopback"],
             "peers": [], "catalog_ids": ["cml-jmx-9000", "tomcat-shutdown-9002"]},
            {"name": "deny-in-tcp-not-self", "action": "deny", "direction": "inbound", "protocol": "tcp",
             "ports": ["20222-20225"], "addresses": ["any"], "except": ["loopback", "self"], "peers": [],
             "catalog_ids": ["rmi-20222"]},
        ]
        policies[host] = {
            "host": host, "address": hosts[host]["address"], "platform": "windows",
            "cml_cluster": "prg" if "cml" in hosts[host]["components"] else None,
            "components": sorted(hosts[host]["components"]), "features": ["cluster", "mobile_print"],
            "management": management or MANAGEMENT, "rules": deny + list(rules[host].values()),
            "unresolved": [], "warnings": [],
        }
    return policies


def plan_report(flows, warnings=(), unresolved=()):
    policies = policies_from(flows)
    for item in unresolved:
        policies[item["host"]]["unresolved"].append(item)
    for item in warnings:
        if item.get("host") in policies:
            policies[item["host"]]["warnings"].append(item["message"])
    return {
        "title": "SafeQ firewall plan: Example Corp", "generated": "2025-06-01T10:00:00Z",
        "inventory": "inventories/example",
        "summary": {"hosts": len(policies), "rules": sum(len(p["rules"]) for p in policies.values()),
                    "flows": len(flows), "warnings": len(warnings), "unresolved": len(unresolved)},
        "warnings": list(warnings), "unresolved": list(unresolved), "policies": policies, "flows": flows,
    }


def example_plan_report():
    """The example customer with warnings and an unresolved database port."""
    unresolved = [{"host": host, "catalog_id": "cml-database-tcp", "setting": "databaseTcpPort",
                   "reason": "port is dynamic; set safeq_port_overrides.databaseTcpPort to open it"}
                  for host in ("cml-prg-1", "cml-prg-2", "cml-prg-3")]
    warnings = [
        {"host": "ors-lon-1", "variable": "safeq_payment_machine_networks",
         "message": "ors-pay-5012: payment needs safeq_payment_machine_networks, which is empty on ors-lon-1; "
                    "no rule created"},
        {"host": None, "variable": "safeq_smtp_servers", "message": "SMTP is not enforced by any SafeQ host"},
    ]
    return plan_report(samples.example_flows(), warnings, unresolved)


def result(host, check_id, status, mandatory=True, title=None, **extra):
    out = {"id": check_id, "item": "Checklist item of %s" % check_id, "title": title or "Check %s" % check_id,
           "status": status, "mandatory": mandatory, "evidence": "evidence of %s on %s" % (check_id, host),
           "remediation": "fix %s" % check_id if status == "fail" else "", "host": host,
           "platform": "windows", "automation": "automated", "question": None, "answered_by": None}
    out.update(extra)
    return out


def check_report(hosts=("cml-prg-1", "cml-prg-2", "cml-prg-3", "ors-brn-1", "ors-brn-2", "ors-ova-1",
                        "ors-lon-1", "crs-prg-1", "apc-prg-1")):
    """A prerequisites run report built by report.build_run_report: mixed statuses on every host."""
    checks = [("PRE-HW-CPU", "CPU cores >= 4"), ("PRE-HW-RAM", "RAM >= 8 GB"), ("PRE-DISK", "Free disk space"),
              ("PRE-NET-NAME", "Host name resolves"), ("PRE-TIME", "Time is synchronized"),
              ("PRE-ADMIN", "Installing account is an administrator"), ("PRE-MSI-45", "Windows Installer 4.5")]
    host_results = {}
    for index, host in enumerate(hosts):
        results = [result(host, cid, "pass", title=title) for cid, title in checks]
        if index % 3 == 0:
            results.append(result(host, "PRE-WEB-80", "fail", title="No web server on TCP port 80",
                                  evidence="W3SVC listens on 0.0.0.0:80\nIIS 10.0 installed"))
        if index % 4 == 1:
            results.append(result(host, "PRE-AV-EXCL", "fail", mandatory=False, title="Antivirus exclusions"))
        if index % 2:
            results.append(result(host, "PRE-BROWSER", "warn", mandatory=False, title="Supported browser"))
        results.append(result(host, "PRE-EXTDB", "manual", mandatory=False, title="External database accounts",
                              question="Does the DBA provide 2 accounts?", answered_by="customer DBA"))
        results.append(result(host, "PRE-MSSQL-EMB", "not_applicable", mandatory=False,
                              title="Embedded MS SQL", evidence="external database used"))
        host_results[host] = results
    run = [result("(run)", "PRE-TOPOLOGY-TERMINALS", "pass",
                  title="Terminals per cluster within limits")]
    return R.build_run_report(host_results, run, "2025-06-01T10:00:00Z")


def large_plan_report(**sizes):
    return plan_report(samples.large_flows(**sizes), [
        {"host": "ors-07-03", "variable": "safeq_features", "message": "feature x needs y"}])


# ---- HTML checker ---------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parses a page; records nesting errors, ids in order, hrefs, tag counts and the text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.ids, self.hrefs = [], [], [], []
        self.tags = collections.Counter()
        self.texts = []
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append("unclosed: %s" % self.stack)

    def _attrs(self, tag, attrs):
        self.tags[tag] += 1
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        for name in ("src", "srcset", "data", "action"):
            if name in attrs:
                self.errors.append("%s has %s=" % (tag, name))

    def handle_starttag(self, tag, attrs):
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._attrs(tag, attrs)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append("unexpected </%s> in %s" % (tag, self.stack[-3:]))

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self):
        return " ".join(" ".join(self.texts).split())


def assert_self_contained(page, html):
    assert not page.errors, page.errors[:5]
    assert len(page.ids) == len(set(page.ids)), [i for i, n in collections.Counter(page.ids).items() if n > 1][:5]
    assert not page.tags["script"] and not page.tags["link"] and not page.tags["img"] and not page.tags["iframe"]
    assert all(href.startswith("#") and href[1:] in page.ids for href in page.hrefs)
    assert re.findall(r"https?://[^\s\"'<>]+", html) in ([], ["http://www.w3.org/2000/svg"])


# ---- plan report ----------------------------------------------------------------------------------

def test_plan_report_sections_in_order():
    html = H.plan_report_html(example_plan_report())
    page = Page(html)
    assert_self_contained(page, html)
    sections = [i for i in page.ids if i in ("summary", "warnings", "unresolved", "diagram", "flows", "endpoints",
                                             "hosts", "management")]
    assert sections == ["summary", "warnings", "unresolved", "diagram", "flows", "endpoints", "hosts", "management"]
    assert html.index('id="warnings"') < html.index("<svg") < html.index('id="flows"') < html.index('class="host"')
    assert page.tags["svg"] == 1 and page.tags["details"] > 9
    text = page.text
    assert "Review the 2 warning(s) and 3 unresolved port(s)" in text
    assert "which is empty on ors-lon-1" in text and "databaseTcpPort" in text
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html


def test_plan_summary_cards():
    report = example_plan_report()
    page = Page(H.plan_report_html(report))
    summary = report["summary"]
    for name in ("hosts", "rules", "flows"):
        value = summary[name]
        label = "firewall rules" if name == "rules" else name
        assert "%d %s" % (value, label) in page.text
    assert "3 unresolved ports" in page.text and "2 flows not enforced" in page.text


def test_plan_unresolved_grouped_and_linked():
    html = H.plan_report_html(example_plan_report())
    section = html[html.index('id="unresolved"'):html.index('id="diagram"')]
    assert section.count("<tr>") == 2  # header + one row for the three CML hosts
    for host in ("cml-prg-1", "cml-prg-2", "cml-prg-3"):
        assert host in section
    warnings = html[html.index('id="warnings"'):html.index('id="unresolved"')]
    assert re.search(r'<a href="#host-\d+">ors-lon-1</a>', warnings)
    assert warnings.index("ors-lon-1") > warnings.index("all")  # run-wide warnings first


def test_plan_host_rules_deny_before_allow_and_addresses_shortened():
    report = example_plan_report()
    many = ["10.77.%d.0/24" % i for i in range(40)]
    report["policies"]["crs-prg-1"]["rules"].append({
        "name": "allow-in-tcp-many", "action": "allow", "direction": "inbound", "protocol": "tcp", "ports": [443],
        "addresses": many, "remote_ports": ["1024-65535"], "local_addresses": ["10.10.1.31"], "peers": ["many"],
        "catalog_ids": ["x"]})
    html = H.plan_report_html(report)
    start = html.index('<details class="host" id="host-%d"' % sorted(report["policies"]).index("crs-prg-1"))
    host = html[start:html.index("</details>\n", html.index("allow-in-tcp-many"))]
    assert host.index("Deny rules (2)") < host.index("deny-in-tcp-remote") < host.index("Allow rules (")
    assert host.index("Allow rules (") < host.index("allow-out-tcp-safeq_cml")
    row = host[host.index("allow-in-tcp-many"):]
    row = row[:row.index("</tr>")]
    assert "10.77.0.0/24, 10.77.1.0/24, 10.77.2.0/24 <span class=\"small\">+37 more</span>" in row
    assert "<summary>all 40</summary>" in row and "10.77.39.0/24" in row
    assert "1024-65535" in row and "tcp 5986 from 10.10.250.0/24, 10.10.0.5" in Page(host).text


def test_plan_management_grouped():
    report = example_plan_report()
    report["policies"]["crs-prg-1"]["management"] = {"protocol": "tcp", "ports": [22], "addresses": ["10.9.9.9"]}
    html = H.plan_report_html(report)
    section = html[html.index('id="management"'):]
    assert section.count("<tr>") == 3
    rows = Page(section).text
    assert "tcp 5986 10.10.250.0/24, 10.10.0.5 7 " in rows and "tcp 22 10.9.9.9 1 crs-prg-1" in rows


def test_plan_flow_table_references_endpoints_once():
    report = example_plan_report()
    html = H.plan_report_html(report)
    flows = html[html.index('id="flows"'):html.index('id="endpoints"')]
    assert flows.count("<tr>") == len(report["flows"]) + 1
    assert "unresolved: databaseTcpPort: port is dynamic" in Page(flows).text
    assert ">multicast<" in flows and ">not enforced<" in flows
    endpoints = html[html.index('id="endpoints"'):html.index('id="hosts"')]
    assert endpoints.count("<tr>") == 11  # 10 distinct endpoints + header
    for anchor in re.findall(r'href="#(ep-\d+)"', flows):
        assert 'id="%s"' % anchor in endpoints


def test_plan_report_escapes_everything():
    rows = []
    hostile_net = samples.endpoint(HOSTILE, "network", None, [], ["10.0.0.0/8"])
    hostile_srv = samples.endpoint("srv " + HOSTILE, "safeq", "cml", ["h<1>&\"", "h\u00e9"], ["10.1.1.1", "10.1.1.2"])
    samples.flow(rows, hostile_net, hostile_srv, "tcp", [443], description="desc " + HOSTILE,
                 note="note <i>x</i>", features=["<feat>"])
    report = plan_report(rows, [{"host": "h<1>&\"", "variable": "<var>", "message": "msg " + HOSTILE}],
                         [{"host": "h\u00e9", "catalog_id": "<id>", "setting": "s&t", "reason": "r \"q\""}])
    report["title"] = "Plan for " + HOSTILE
    report["inventory"] = "inv/<x>"
    html = H.plan_report_html(report)
    page = Page(html)
    assert_self_contained(page, html)
    assert "<script" not in html and "<i>" not in html and "<var>" not in html and "<feat>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; R&amp;D &#x27;quoted&#x27;" in html
    text = page.text
    for expected in ("Plan for " + HOSTILE, "msg " + HOSTILE, "desc " + HOSTILE, "note <i>x</i>", "<var>", "<id>",
                     "s&t", 'r "q"', 'h<1>&"', "h\u00e9", "inv/<x>"):
        assert " ".join(expected.split()) in text, expected


def test_plan_report_for_2000_hosts_is_linear_and_collapsed():
    large = large_plan_report()
    half = large_plan_report(sites=20, cml_hosts=40)
    assert len(large["policies"]) == 2000 and len(large["flows"]) == 250 and len(half["policies"]) == 1000
    html = H.plan_report_html(large)
    page = Page(html)
    assert_self_contained(page, html)
    assert html.count('<details class="host"') == 2000
    assert '<details class="host" id="host-0" open' not in html  # hosts start collapsed
    assert len(html) < 20_000_000
    assert len(html) / len(H.plan_report_html(half)) < 2.3  # twice the hosts: about twice the size
    # each endpoint's full member list is written once (endpoints table), not once per flow
    assert html.count("ors-07-46") < 12


def test_empty_plan_report():
    html = H.plan_report_html({})
    page = Page(html)
    assert_self_contained(page, html)
    assert "No warnings." in page.text and "No flows." in page.text and "No hosts." in page.text


# ---- check report ---------------------------------------------------------------------------------

def test_check_report_failures_first():
    report = check_report()
    html = H.check_report_html(report)
    page = Page(html)
    assert_self_contained(page, html)
    assert page.ids.index("summary") < page.ids.index("failures") < page.ids.index("warnings") < page.ids.index(
        "manual") < page.ids.index("hosts")
    assert "FAIL: 3 mandatory check(s) failed" in page.text
    failures = html[html.index('id="failures"'):html.index('id="warnings"')]
    assert failures.count("<tr>") == 1 + report["summary"]["fail"] == 6
    assert failures.rindex(">mandatory<") < failures.index("PRE-AV-EXCL")  # mandatory failures first
    assert html.index(">FAIL<") < html.index(">PASS<")
    hosts = html[html.index('id="hosts"'):]
    order = re.findall(r'<details class="host" id="host-\d+"( open)?><summary>Host ([^ ]+)', hosts)
    assert order[0][1] == "ors-brn-1"  # a mandatory failure and a warning
    names = [item[1] for item in order]
    assert set(names[1:3]) == {"cml-prg-1", "ors-lon-1"}  # the other mandatory failures
    assert set(names[3:5]) == {"cml-prg-2", "ors-ova-1"}  # recommended failures
    assert [bool(item[0]) for item in order] == [True] * 5 + [False] * 4
    first = hosts[hosts.index('<details class="host"'):]
    first = first[:first.index("</details>")]
    statuses = re.findall(r'<span class="pill s-(\w+)">', first[first.index("<table>"):])
    assert statuses == sorted(statuses, key=lambda s: H.STATUS_ORDER[s]) and statuses[0] == "fail"
    assert "Does the DBA provide 2 accounts?" in page.text and "Run-level checks (run)" in page.text


def test_check_report_escapes_and_handles_other_statuses():
    report = check_report(hosts=(HOSTILE, "ok-host"))
    report["schema"] = "safeq.hardening.verify/v1"
    report["hosts"]["ok-host"]["results"].append(result("ok-host", "VER-<x>", "drift", title='Port "8080" & <b>'))
    html = H.check_report_html(report)
    page = Page(html)
    assert_self_contained(page, html)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "Port &quot;8080&quot; &amp; &lt;b&gt;" in html and "VER-&lt;x&gt;" in html
    assert "SafeQ verification report" in page.text and 'Port "8080" & <b>' in page.text
    assert " ".join(HOSTILE.split()) in page.text and "DRIFT" in page.text


def test_empty_check_report():
    html = H.check_report_html({})
    page = Page(html)
    assert_self_contained(page, html)
    assert "No failed checks." in page.text and "No hosts." in page.text
