# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Self-contained HTML reports: the firewall plan and check reports (prerequisites, verify).

One page each, inline CSS, the flow diagram as inline SVG (render_svg), no JavaScript and no
external resource; ``<details>`` collapses long lists and per-host sections. Every value from
the report is HTML-escaped. Pages are built as a list of parts joined once, so the size and the
time grow linearly with the report (2,000 hosts stay usable: long address lists are shortened
with the full list in a ``<details>``, each endpoint's member list is written once).

``plan_report_html(report)``: summary, warnings, unresolved ports, flow diagram, flow table,
endpoints, per-host rules (deny then allow), management access.

``check_report_html(report)``: the ``build_run_report`` document of report.py (or a verify
report of the same shape): summary, failures, warnings, manual questions, then hosts, failing
hosts and failed checks first.
"""

from __future__ import annotations

import json

from ansible_collections.safeq.hardening.plugins.plugin_utils.render_svg import endpoint_key
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_svg import escape as escape_text
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_svg import (
    flow_diagram_svg,
    port_tokens,
    shorten,
)

SHOWN_VALUES = 3
OPEN_FAILING_HOSTS = 20  # failing hosts start open unless there are more (the Failures section lists all)
LONG_TEXT = 200
STATUS_ORDER = {"fail": 1, "warn": 2, "manual": 3, "pass": 4, "not_applicable": 5}
STATUS_LABEL = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "manual": "MANUAL", "not_applicable": "N/A"}

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif;color:#1d2733;
background:#eef2f6}
header.banner{background:#1f3a5f;color:#fff;padding:18px 28px 14px}
header.banner h1{margin:0 0 4px;font-size:24px}
header.banner p{margin:0;color:#d4e0ee}
nav.toc{background:#2c5282;padding:6px 28px}
nav.toc a{color:#fff;margin-right:18px;text-decoration:none;font-weight:bold}
main{padding:6px 28px 40px}
section{background:#fff;border:1px solid #cfd8e3;border-radius:8px;padding:10px 18px 14px;margin:14px 0}
h2{margin:4px 0 10px;font-size:19px;color:#1f3a5f}
h3{margin:14px 0 6px;font-size:15px;color:#1f3a5f}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0}
.card{min-width:112px;padding:10px 16px;border-radius:8px;background:#e3ecf7;border-left:7px solid #1f5fa8}
.card .value{display:block;font-size:28px;font-weight:bold;line-height:1.2}
.card .name{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#3b4a5a}
.card.bad{background:#fde2e4;border-color:#b00020}
.card.warn{background:#fff1d6;border-color:#c96a00}
.card.good{background:#dff3dc;border-color:#2e7d32}
.card.muted{background:#eceff3;border-color:#7b8794}
.verdict{font-size:16px;margin:8px 0 2px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0 8px}
th,td{border:1px solid #d5dde7;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#dfe7f1;color:#1f3a5f}
tbody tr:nth-child(even) td{background:#f6f8fb}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:bold;white-space:nowrap;
color:#fff;background:#7b8794}
.s-fail,.deny{background:#b00020}.s-warn{background:#c96a00}.s-manual{background:#6a3fa0}
.s-pass,.allow{background:#2e7d32}.s-not_applicable{background:#7b8794}.mandatory{background:#7a0016}
.cast{background:#7b3fa0}.unenforced{background:#596673}
.bad-text{color:#b00020;font-weight:bold}
.pre{white-space:pre-wrap;word-break:break-word}
.small{font-size:12px;color:#4a5866}
.diagram{overflow:auto;max-height:85vh;border:1px solid #d5dde7;border-radius:6px;background:#fff}
.diagram svg{display:block;max-width:100%;height:auto}
details>summary{cursor:pointer}
details.host,details.ruleset{border:1px solid #d5dde7;border-radius:6px;margin:6px 0;padding:4px 10px;background:#fbfcfe}
details.host[open],details.ruleset[open]{background:#fff}
details.host>summary,details.ruleset>summary{font-weight:bold;padding:2px 0}
details.list>summary{color:#2c5282;font-size:12px}
.list-body{font-size:12px;word-break:break-word}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}
dl.facts dt{font-weight:bold;color:#3b4a5a}
dl.facts dd{margin:0}
.none{color:#4a5866;font-style:italic}
footer{color:#4a5866;font-size:12px;padding:0 28px 20px}
"""


# ---- small builders ---------------------------------------------------------------------------

_ESCAPED = {}  # short texts recur thousands of times in a large plan (names, protocols, addresses)


def escape(text):
    """render_svg.escape, remembered for short strings."""
    if isinstance(text, str) and len(text) <= 256:
        found = _ESCAPED.get(text)
        if found is None:
            found = escape_text(text)
            if len(_ESCAPED) < 100000:
                _ESCAPED[text] = found
        return found
    return escape_text(text)


def _page_start(out, title, subtitle, links):
    out.append('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
               '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
               "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n" % (escape(title), CSS))
    out.append('<header class="banner"><h1>%s</h1><p>%s</p></header>\n' % (escape(title), escape(subtitle)))
    out.append('<nav class="toc">%s</nav>\n<main>\n' % "".join(
        '<a href="#%s">%s</a>' % (anchor, escape(text)) for anchor, text in links))


def _page_end(out, note):
    out.append("</main>\n<footer>%s</footer>\n</body>\n</html>\n" % escape(note))


def _card(name, value, tone=""):
    return '<div class="card %s"><span class="value">%s</span><span class="name">%s</span></div>' % (
        tone, escape(value), escape(name))


def _pill(text, css):
    return '<span class="pill %s">%s</span>' % (escape(css), escape(text))


def _values(values, shown=SHOWN_VALUES, more="more", memo=None):
    """'a, b, c +N more' plus the full list in a <details> when longer than ``shown``.

    ``memo`` (a dict kept by the caller for one page) renders each long list once: peer and member
    lists recur in many rows.
    """
    values = list(values or [])
    if not values:
        return '<span class="none">none</span>'
    if len(values) <= shown:
        return escape(", ".join(str(v) for v in values))
    key = None
    if memo is not None:
        try:
            key = (tuple(values), shown, more)
            found = memo.get(key)
        except TypeError:
            key = found = None
        if found is not None:
            return found
    head = ", ".join(shorten(v, 60) for v in values[:shown])
    text = '%s <span class="small">+%d %s</span><details class="list"><summary>all %d</summary>' \
           '<div class="list-body">%s</div></details>' % (
               escape(head), len(values) - shown, escape(more), len(values), escape(", ".join(str(v) for v in values)))
    if key is not None:
        memo[key] = text
    return text


def _long(text, limit=LONG_TEXT):
    """Text shown in full when short, else its start and the rest in a <details>."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return '<span class="pre">%s</span>' % escape(text)
    return '<span class="pre">%s</span><details class="list"><summary>more</summary><div class="pre">%s</div>' \
           '</details>' % (escape(shorten(text, limit)), escape(text))


def _ports(ports, memo=None):
    tokens = port_tokens(ports)
    return _values(tokens, shown=12, memo=memo) if tokens else '<span class="none">any</span>'


def _table(out, headers, rows, empty="none"):
    """rows: iterable of lists of already-escaped cell HTML."""
    out.append("<table><thead><tr>%s</tr></thead><tbody>\n" % "".join("<th>%s</th>" % escape(h) for h in headers))
    count = 0
    for row in rows:
        out.append("<tr>%s</tr>\n" % "".join("<td>%s</td>" % cell for cell in row))
        count += 1
    if not count:
        out.append('<tr><td colspan="%d" class="none">%s</td></tr>\n' % (len(headers), escape(empty)))
    out.append("</tbody></table>\n")


def _num(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# ---- plan report ------------------------------------------------------------------------------

def _host_anchors(names):
    return {name: "host-%d" % index for index, name in enumerate(names)}


def _host_link(host, anchors):
    if host is None:
        return '<span class="none">all</span>'
    if host in anchors:
        return '<a href="#%s">%s</a>' % (anchors[host], escape(host))
    return escape(host)


def _plan_summary(out, report, policies, flows):
    summary = report.get("summary") or {}
    counts = {
        "hosts": summary.get("hosts", len(policies)),
        "rules": summary.get("rules", sum(len(p.get("rules") or []) for p in policies.values())),
        "flows": summary.get("flows", len(flows)),
        "warnings": summary.get("warnings", len(report.get("warnings") or [])),
        "unresolved": summary.get("unresolved", len(report.get("unresolved") or [])),
    }
    not_enforced = sum(1 for f in flows if not f.get("enforced"))
    out.append('<section id="summary"><h2>Summary</h2><div class="cards">')
    out.append(_card("hosts", counts["hosts"]) + _card("firewall rules", counts["rules"]) +
               _card("flows", counts["flows"]))
    out.append(_card("warnings", counts["warnings"], "warn" if _num(counts["warnings"]) else "good"))
    out.append(_card("unresolved ports", counts["unresolved"], "bad" if _num(counts["unresolved"]) else "good"))
    out.append(_card("flows not enforced", not_enforced, "muted"))
    out.append("</div>")
    problems = _num(counts["warnings"]) + _num(counts["unresolved"])
    verdict = ("Review the %d warning(s) and %d unresolved port(s) below before applying the policy."
               % (_num(counts["warnings"]), _num(counts["unresolved"])) if problems
               else "No warnings and no unresolved ports: the policy can be applied as computed.")
    out.append('<p class="verdict %s">%s</p></section>\n' % ("bad-text" if problems else "", escape(verdict)))


def _plan_warnings(out, warnings, anchors):
    out.append('<section id="warnings"><h2>Warnings (%d)</h2>' % len(warnings))
    ordered = sorted(warnings, key=lambda w: (w.get("host") is not None, str(w.get("host") or ""),
                                              str(w.get("variable") or "")))
    _table(out, ("Host", "Variable", "Message"),
           ([_host_link(w.get("host"), anchors), escape(w.get("variable") or ""), _long(w.get("message"))]
            for w in ordered), "No warnings.")
    out.append("</section>\n")


def _plan_unresolved(out, unresolved, anchors):
    grouped = {}
    for item in unresolved:
        key = (str(item.get("catalog_id") or ""), str(item.get("setting") or ""), str(item.get("reason") or ""))
        grouped.setdefault(key, []).append(item.get("host"))
    out.append('<section id="unresolved"><h2>Unresolved ports (%d on %d host(s))</h2>' % (
        len(unresolved), len({i.get("host") for i in unresolved})))
    if grouped:
        out.append('<p class="small">These ports are not opened: set the named setting '
                   "(safeq_port_overrides) to open them.</p>")
    rows = []
    for (catalog_id, setting, reason), hosts in sorted(grouped.items()):
        hosts = sorted(str(h) for h in hosts)
        cell = _host_link(hosts[0], anchors) if len(hosts) == 1 else _values(hosts, more="hosts")
        rows.append([escape(catalog_id), escape(setting), _long(reason), cell])
    _table(out, ("Catalog id", "Setting", "Reason", "Hosts"), rows, "No unresolved ports.")
    out.append("</section>\n")


def _endpoint_cell(endpoint, endpoint_ids, memo=None):
    if memo is not None:
        found = memo.get(id(endpoint))
        if found is not None and found[0] is endpoint:
            return found[1]
    cell = _endpoint_cell_html(endpoint, endpoint_ids)
    if memo is not None:
        memo[id(endpoint)] = (endpoint, cell)
    return cell


def _endpoint_cell_html(endpoint, endpoint_ids):
    name = endpoint.get("name") or "(unnamed)"
    members = endpoint.get("members") or []
    addresses = endpoint.get("addresses") or []
    facts = [str(endpoint.get("kind") or "?")]
    if endpoint.get("component"):
        facts.append(str(endpoint["component"]))
    if members:
        facts.append("%d host(s)" % len(members))
    facts.append(", ".join(shorten(a, 40) for a in addresses[:2]) + (" +%d" % (len(addresses) - 2)
                                                                     if len(addresses) > 2 else ""))
    anchor = endpoint_ids[endpoint_key(endpoint)]
    return '<a href="#%s"><b>%s</b></a><br><span class="small">%s</span>' % (
        anchor, escape(name), escape(" \u00b7 ".join(f for f in facts if f)))


def _plan_flows(out, flows, endpoint_ids, anchors):
    out.append('<section id="flows"><h2>Flows (%d)</h2>' % len(flows))
    out.append('<p class="small">One row per allowed flow of the grouped matrix: source, destination, '
               "protocol and destination ports, and the SafeQ hosts whose firewall enforces it.</p>")
    rows = []
    memo, cells, texts = {}, {}, {}
    for flow in flows:
        ports = _ports(flow.get("ports"), memo)
        if flow.get("unresolved"):
            ports += '<br><span class="bad-text">unresolved: %s</span>' % escape(flow["unresolved"])
        badges = []
        if (flow.get("cast") or "unicast") != "unicast":
            badges.append(_pill(flow["cast"], "cast"))
        if not flow.get("enforced"):
            badges.append(_pill("not enforced", "unenforced"))
        enforced_on = flow.get("enforced_on") or []
        enforced = (_values(enforced_on, more="hosts", memo=memo) if len(enforced_on) > 1
                    else (_host_link(enforced_on[0], anchors) if enforced_on else '<span class="none">none</span>'))
        description = flow.get("description")
        text = texts.get(description) if isinstance(description, str) else None
        if text is None:
            text = _long(description)
            if isinstance(description, str):
                texts[description] = text
        if flow.get("note"):
            text += '<br><span class="small">Note: %s</span>' % escape(flow["note"])
        requirement = escape(flow.get("requirement") or "")
        if flow.get("features"):
            requirement += '<br><span class="small">%s</span>' % escape(", ".join(str(f) for f in flow["features"]))
        rows.append([
            escape(flow.get("id") or ""), _endpoint_cell(flow.get("source") or {}, endpoint_ids, cells),
            _endpoint_cell(flow.get("destination") or {}, endpoint_ids, cells),
            escape(flow.get("protocol") or "") + (" " + " ".join(badges) if badges else ""), ports, requirement,
            enforced, _values(flow.get("catalog_ids"), shown=2, memo=memo), text,
        ])
    _table(out, ("ID", "Source", "Destination", "Protocol", "Ports", "Requirement", "Enforced on", "Catalog ids",
                 "Description"), rows, "No flows.")
    out.append("</section>\n")


def _plan_endpoints(out, endpoints):
    out.append('<section id="endpoints"><h2>Endpoints (%d)</h2>' % len(endpoints))
    rows = []
    for anchor, endpoint in endpoints:
        rows.append([
            '<b id="%s">%s</b>' % (anchor, escape(endpoint.get("name") or "(unnamed)")),
            escape(endpoint.get("kind") or ""), escape(endpoint.get("component") or ""),
            ('%d: %s' % (len(endpoint["members"]), _values(endpoint["members"], more="hosts"))
             if endpoint.get("members") else '<span class="none">-</span>'),
            _values(endpoint.get("addresses")),
        ])
    _table(out, ("Name", "Kind", "Component", "Members", "Addresses"), rows, "No endpoints.")
    out.append("</section>\n")


def _rule_rows(rules, action, memo=None):
    for rule in rules:
        if rule.get("action") != action:
            continue
        cells = [escape(rule.get("name") or ""), escape(rule.get("direction") or ""),
                 escape(rule.get("protocol") or ""), _ports(rule.get("ports"), memo)]
        if action == "allow":
            remote = rule.get("remote_ports")
            cells += [_ports(remote, memo) if remote else "", _values(rule.get("addresses"), memo=memo),
                      _values(rule.get("local_addresses"), memo=memo) if rule.get("local_addresses") else "",
                      _values(rule.get("peers"), memo=memo)]
        else:
            cells += [_values(rule.get("addresses"), memo=memo),
                      _values(rule.get("except"), memo=memo) if rule.get("except") else ""]
        cells.append(_values(rule.get("catalog_ids"), shown=2, memo=memo))
        yield cells


def _management_text(management):
    management = management or {}
    return "%s %s from %s" % (
        escape(management.get("protocol") or "tcp"), escape(",".join(port_tokens(management.get("ports"))) or "?"),
        _values(management.get("addresses")))


def _rule_set_key(rules):
    """Hosts share a rule set when their rules are the same (the policy core shares the list object)."""
    return json.dumps(rules, sort_keys=True, default=str)


def _rule_set_signature(rules):
    """Part of _rule_set_key that is cheap to compute: rules lists with different signatures differ."""
    return len(rules), tuple(_rule_set_key(rule.get("name")) if isinstance(rule, dict) else _rule_set_key(rule)
                             for rule in rules)


def _rule_sets(policies):
    """[(set id, rules, [hosts])] in host order; one entry per distinct rules list.

    Rules lists are the same when their _rule_set_key is; the full key is only computed for lists
    whose signature (length and rule names) another list already has.
    """
    by_identity, buckets, sets = {}, {}, []
    for host, policy in policies.items():
        rules = policy.get("rules") or []
        index = by_identity.get(id(rules))
        if index is None:
            bucket = buckets.setdefault(_rule_set_signature(rules), {"first": None, "by_key": {}})
            if bucket["first"] is None:
                index = len(sets)
                bucket["first"] = (rules, index)
                sets.append(["rules-%d" % (index + 1), rules, []])
            else:
                by_key = bucket["by_key"]
                if not by_key:
                    first_rules, first_index = bucket["first"]
                    by_key[_rule_set_key(first_rules)] = first_index
                key = _rule_set_key(rules)
                index = by_key.get(key)
                if index is None:
                    index = by_key[key] = len(sets)
                    sets.append(["rules-%d" % (index + 1), rules, []])
            by_identity[id(rules)] = index
        sets[index][2].append(host)
    return sets


def _plan_host(out, host, policy, anchor, set_id, set_hosts):
    rules = policy.get("rules") or []
    allow = sum(1 for r in rules if r.get("action") == "allow")
    deny = sum(1 for r in rules if r.get("action") == "deny")
    warnings = policy.get("warnings") or []
    unresolved = policy.get("unresolved") or []
    badges = ""
    if warnings:
        badges += " " + _pill("%d warning(s)" % len(warnings), "s-warn")
    if unresolved:
        badges += " " + _pill("%d unresolved" % len(unresolved), "s-fail")
    out.append('<details class="host" id="%s"><summary>%s <span class="small">%s \u00b7 %s \u00b7 %s \u00b7 '
               "%d deny, %d allow</span>%s</summary>\n" % (
                   anchor, escape(host), escape(policy.get("address") or "?"), escape(policy.get("platform") or "?"),
                   escape(", ".join(str(c) for c in policy.get("components") or []) or "no component"), deny, allow,
                   badges))
    out.append('<dl class="facts"><dt>Address</dt><dd>%s</dd><dt>Platform</dt><dd>%s</dd>'
               "<dt>Components</dt><dd>%s</dd><dt>Features</dt><dd>%s</dd><dt>CML cluster</dt><dd>%s</dd>"
               "<dt>Management</dt><dd>%s</dd><dt>Rules</dt><dd><a href=\"#%s\">%s</a> (%d host%s)</dd></dl>\n" % (
                   escape(policy.get("address") or "?"), escape(policy.get("platform") or "?"),
                   _values(policy.get("components"), shown=8), _values(policy.get("features"), shown=8),
                   escape(policy.get("cml_cluster") or "-"), _management_text(policy.get("management")),
                   set_id, set_id, set_hosts, "" if set_hosts == 1 else "s"))
    if warnings:
        out.append("<h3>Warnings</h3><ul>%s</ul>\n" % "".join("<li>%s</li>" % _long(w) for w in warnings))
    if unresolved:
        out.append("<h3>Unresolved ports</h3>")
        _table(out, ("Catalog id", "Setting", "Reason"), (
            [escape(u.get("catalog_id") or ""), escape(u.get("setting") or ""), _long(u.get("reason"))]
            if isinstance(u, dict) else [_long(u), "", ""] for u in unresolved))
    out.append("</details>\n")


def _plan_rule_set(out, set_id, rules, hosts, anchors, memo=None):
    allow = sum(1 for r in rules if r.get("action") == "allow")
    deny = sum(1 for r in rules if r.get("action") == "deny")
    out.append('<details class="ruleset" id="%s"><summary>%s <span class="small">%d deny, %d allow \u00b7 %d host%s'
               "</span></summary>\n" % (set_id, set_id, deny, allow, len(hosts), "" if len(hosts) == 1 else "s"))
    out.append("<p>Hosts: %s</p>" % (_host_link(hosts[0], anchors) if len(hosts) == 1 else _values(hosts, more="hosts")))
    out.append("<h3>Deny rules (%d)</h3>" % deny)
    _table(out, ("Name", "Direction", "Protocol", "Ports", "Addresses", "Except", "Catalog ids"),
           _rule_rows(rules, "deny", memo), "No deny rules.")
    out.append("<h3>Allow rules (%d)</h3>" % allow)
    _table(out, ("Name", "Direction", "Protocol", "Ports", "Remote ports", "Addresses", "Local addresses", "Peers",
                 "Catalog ids"), _rule_rows(rules, "allow", memo), "No allow rules.")
    out.append("</details>\n")


def _plan_hosts(out, policies, anchors):
    sets = _rule_sets(policies)
    set_of = {host: (set_id, len(hosts)) for set_id, _rules, hosts in sets for host in hosts}
    out.append('<section id="hosts"><h2>Hosts (%d)</h2>' % len(policies))
    out.append('<p class="small">Hosts with the same rules share one rule set (below). '
               "Deny rules are listed before allow rules: a deny always wins.</p>")
    rows = []
    for host, policy in policies.items():
        rules = policy.get("rules") or []
        rows.append([
            _host_link(host, anchors), escape(policy.get("address") or "?"), escape(policy.get("platform") or "?"),
            escape(", ".join(str(c) for c in policy.get("components") or [])),
            '<a href="#%s">%s</a>' % (set_of[host][0], set_of[host][0]),
            '%d' % sum(1 for r in rules if r.get("action") == "deny"),
            '%d' % sum(1 for r in rules if r.get("action") == "allow"),
            '%d' % len(policy.get("warnings") or []),
            '%d' % len(policy.get("unresolved") or []),
        ])
    out.append("<details class=\"list\" open><summary>host index</summary>")
    _table(out, ("Host", "Address", "Platform", "Components", "Rule set", "Deny", "Allow", "Warnings", "Unresolved"),
           rows, "No hosts.")
    out.append("</details>\n")
    for host, policy in policies.items():
        _plan_host(out, host, policy, anchors[host], *set_of[host])
    out.append("</section>\n")
    out.append('<section id="rulesets"><h2>Rule sets (%d)</h2>' % len(sets))
    memo = {}
    for set_id, rules, hosts in sets:
        _plan_rule_set(out, set_id, rules, hosts, anchors, memo)
    out.append("</section>\n")


def _plan_management(out, policies, anchors):
    grouped = {}
    for host, policy in policies.items():
        management = policy.get("management") or {}
        key = (str(management.get("protocol") or "tcp"), tuple(port_tokens(management.get("ports"))),
               tuple(str(a) for a in management.get("addresses") or ()))
        grouped.setdefault(key, []).append(host)
    out.append('<section id="management"><h2>Management access</h2>'
               '<p class="small">Always allowed to the management port, before any deny rule.</p>')
    rows = []
    for (protocol, ports, addresses), hosts in sorted(grouped.items(), key=lambda i: (-len(i[1]), i[0])):
        cell = _host_link(hosts[0], anchors) if len(hosts) == 1 else _values(hosts, more="hosts")
        rows.append([escape(protocol), escape(",".join(ports) or "?"), _values(list(addresses)),
                     '%d %s' % (len(hosts), cell)])
    _table(out, ("Protocol", "Ports", "From addresses", "Hosts"), rows, "No hosts.")
    out.append("</section>\n")


def plan_report_html(report):
    """The plan report (title, summary, warnings, unresolved, policies, flows) as one HTML page."""
    report = report or {}
    policies = report.get("policies") or {}
    policies = {host: policies[host] or {} for host in sorted(policies)}
    flows = report.get("flows") or []
    anchors = _host_anchors(list(policies))
    endpoint_ids, endpoints, seen = {}, [], {}
    for flow in flows:
        for endpoint in (flow.get("source") or {}, flow.get("destination") or {}):
            if seen.get(id(endpoint)) is endpoint:
                continue  # the same (shared) endpoint object: already numbered
            seen[id(endpoint)] = endpoint
            key = endpoint_key(endpoint)
            if key not in endpoint_ids:
                endpoint_ids[key] = "ep-%d" % len(endpoint_ids)
                endpoints.append((endpoint_ids[key], endpoint))
    title = report.get("title") or "SafeQ firewall plan"
    out = []
    subtitle = "Generated %s \u00b7 inventory %s" % (report.get("generated") or "?", report.get("inventory") or "?")
    _page_start(out, title, subtitle,
                (("summary", "Summary"), ("warnings", "Warnings"), ("unresolved", "Unresolved"),
                 ("diagram", "Diagram"), ("flows", "Flows"), ("endpoints", "Endpoints"), ("hosts", "Hosts"),
                 ("rulesets", "Rule sets"), ("management", "Management")))
    _plan_summary(out, report, policies, flows)
    _plan_warnings(out, report.get("warnings") or [], anchors)
    _plan_unresolved(out, report.get("unresolved") or [], anchors)
    svg = report.get("diagram_svg") or flow_diagram_svg(flows, "%s: flows" % title)
    out.append('<section id="diagram"><h2>Flow diagram</h2><div class="diagram">%s</div></section>\n' % svg)
    _plan_flows(out, flows, endpoint_ids, anchors)
    _plan_endpoints(out, endpoints)
    _plan_hosts(out, policies, anchors)
    _plan_management(out, policies, anchors)
    _page_end(out, "safeq.hardening plan report \u00b7 %d hosts, %d flows" % (len(policies), len(flows)))
    return "".join(out)


# ---- check report -----------------------------------------------------------------------------

def _status_rank(result):
    status = result.get("status")
    rank = STATUS_ORDER.get(status, 2.5)
    return 0 if status == "fail" and result.get("mandatory") else rank


def _status_pill(result):
    status = str(result.get("status") or "?")
    css = "s-" + status if status in STATUS_LABEL else ""
    text = STATUS_LABEL.get(status, status.upper())
    pill = _pill(text, css)
    if status == "fail" and result.get("mandatory"):
        pill += " " + _pill("mandatory", "mandatory")
    return pill


def _check_title(result):
    title = result.get("title") or ""
    item = result.get("item") or ""
    cell = "<b>%s</b>" % escape(title) if title else ""
    if item and item != title:
        cell += ('<br><span class="small">%s</span>' % escape(shorten(item, 160)) if len(str(item)) > 160 or title
                 else escape(item))
    return cell


def _result_row(result, anchors, with_host):
    row = [_host_link(result.get("host"), anchors)] if with_host else []
    row += [_status_pill(result), escape(result.get("id") or ""), _check_title(result),
            "yes" if result.get("mandatory") else "no", _long(result.get("evidence")), _long(result.get("remediation"))]
    return row


def _host_rank(item):
    host, data = item
    summary = (data or {}).get("summary") or {}
    return (-_num(summary.get("mandatory_failures")), -_num(summary.get("fail")), -_num(summary.get("warn")),
            -_num(summary.get("manual")), str(host))


def _check_summary(out, summary):
    result = str(summary.get("result") or "?")
    out.append('<section id="summary"><h2>Summary</h2><div class="cards">')
    out.append(_card("result", result.upper(), "bad" if result == "fail" else "good" if result == "pass" else "muted"))
    out.append(_card("hosts", summary.get("hosts", 0)))
    out.append(_card("mandatory failures", summary.get("mandatory_failures", 0),
                     "bad" if _num(summary.get("mandatory_failures")) else "good"))
    out.append(_card("fail", summary.get("fail", 0), "bad" if _num(summary.get("fail")) else "good"))
    out.append(_card("warn", summary.get("warn", 0), "warn" if _num(summary.get("warn")) else "good"))
    out.append(_card("manual", summary.get("manual", 0), "muted"))
    out.append(_card("pass", summary.get("pass", 0), "good"))
    out.append(_card("n/a", summary.get("not_applicable", 0), "muted"))
    out.append(_card("checks", summary.get("total", 0)))
    out.append("</div>")
    if result == "fail":
        verdict = "FAIL: %d mandatory check(s) failed; fix them first (listed below)." % _num(
            summary.get("mandatory_failures"))
    elif result == "pass":
        verdict = "PASS: no mandatory check failed. Review warnings and manual items below."
    else:
        verdict = "Result: %s" % result
    out.append('<p class="verdict %s">%s</p></section>\n' % ("bad-text" if result == "fail" else "", escape(verdict)))


def _check_results_section(out, anchor, heading, results, anchors, empty, note=""):
    out.append('<section id="%s"><h2>%s (%d)</h2>%s' % (anchor, escape(heading), len(results), note))
    _table(out, ("Host", "Status", "Check", "Title", "Mandatory", "Evidence", "Remediation"),
           (_result_row(r, anchors, True) for r in results), empty)
    out.append("</section>\n")


def _check_host(out, host, data, anchor, heading="Host", open_failing=True):
    data = data or {}
    summary = data.get("summary") or {}
    results = sorted(data.get("results") or [], key=_status_rank)
    failing = open_failing and _num(summary.get("fail")) > 0
    counts = " \u00b7 ".join("%s %d" % (STATUS_LABEL[s].lower(), _num(summary.get(s))) for s in STATUS_LABEL)
    badge = ""
    if _num(summary.get("mandatory_failures")):
        badge = " " + _pill("%d mandatory failure(s)" % _num(summary.get("mandatory_failures")), "s-fail")
    elif failing:
        badge = " " + _pill("%d failure(s)" % _num(summary.get("fail")), "s-fail")
    elif _num(summary.get("warn")):
        badge = " " + _pill("%d warning(s)" % _num(summary.get("warn")), "s-warn")
    out.append('<details class="host" id="%s"%s><summary>%s %s <span class="small">%s</span>%s</summary>\n' % (
        anchor, " open" if failing else "", escape(heading), escape(host), escape(counts), badge))
    _table(out, ("Status", "Check", "Title", "Mandatory", "Evidence", "Remediation"),
           (_result_row(r, {}, False) for r in results), "No checks.")
    out.append("</details>\n")


def check_report_html(report, title=None):
    """A check report (report.build_run_report shape; prerequisites or verify) as one HTML page."""
    report = report or {}
    schema = str(report.get("schema") or "")
    if title is None:
        title = report.get("title") or ("SafeQ verification report" if "verify" in schema
                                        else "SafeQ pre-installation checklist")
    summary = report.get("summary") or {}
    hosts = sorted((report.get("hosts") or {}).items(), key=_host_rank)
    anchors = _host_anchors([item[0] for item in hosts])
    run = report.get("run") or {}
    everything = []
    for item in hosts:
        everything.extend((item[1] or {}).get("results") or [])
    everything.extend(run.get("results") or [])
    failures = sorted((r for r in everything if r.get("status") == "fail"),
                      key=lambda r: (not r.get("mandatory"), str(r.get("host") or ""), str(r.get("id") or "")))
    warnings = [r for r in everything if r.get("status") == "warn"]
    out = []
    _page_start(out, title, "Generated %s \u00b7 %s" % (report.get("generated") or "?", schema or "check report"),
                (("summary", "Summary"), ("failures", "Failures"), ("warnings", "Warnings"), ("manual", "Manual"),
                 ("hosts", "Hosts")))
    _check_summary(out, summary)
    _check_results_section(out, "failures", "Failures", failures, anchors, "No failed checks.",
                           '<p class="small">Mandatory failures first; they block the installation.</p>')
    _check_results_section(out, "warnings", "Warnings", warnings, anchors, "No warnings.")
    manual = report.get("manual") or []
    out.append('<section id="manual"><h2>Manual items (%d)</h2>' % len(manual))
    _table(out, ("Host", "Check", "Question", "Answered by"), (
        [_host_link(m.get("host"), anchors), escape(m.get("id") or ""), _long(m.get("question")),
         escape(m.get("answered_by") or "")] for m in manual), "No manual items.")
    out.append("</section>\n")
    out.append('<section id="hosts"><h2>Hosts (%d)</h2><p class="small">Failing hosts first; hosts with a failure '
               "are open when there are at most %d of them.</p>" % (len(hosts), OPEN_FAILING_HOSTS))
    rows = []
    for host, data in hosts:
        host_summary = (data or {}).get("summary") or {}
        rows.append([_host_link(host, anchors)] + ['%d' % _num(host_summary.get(key))
                                                   for key in ("mandatory_failures", "fail", "warn", "manual", "pass",
                                                               "not_applicable")])
    _table(out, ("Host", "Mandatory failures", "Fail", "Warn", "Manual", "Pass", "N/A"), rows, "No hosts.")
    failing_hosts = sum(1 for item in hosts if _num(((item[1] or {}).get("summary") or {}).get("fail")))
    for host, data in hosts:
        _check_host(out, host, data, anchors[host], open_failing=failing_hosts <= OPEN_FAILING_HOSTS)
    if run.get("results"):
        _check_host(out, "(run)", run, "run-checks", "Run-level checks")
    out.append("</section>\n")
    _page_end(out, "safeq.hardening check report \u00b7 %d hosts, %d checks" % (len(hosts), len(everything)))
    return "".join(out)
