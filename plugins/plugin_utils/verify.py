# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify: judge what a host reports against its policy (drift, listeners, reachability).

Pure Python. Each judge returns findings ``{status: pass|warn|fail, kind, message, ...}``;
``check_results`` turns them into one check result per (host, check) for the run report.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.safeq.hardening.plugins.plugin_utils import addresses as addr

CHECKS = {
    "VERIFY-FIREWALL": ("Firewall state matches the policy", "Run the harden playbook for this host."),
    "VERIFY-EFFECTIVE": ("Windows Firewall enforces the policy (effective rules)",
                         "Fix the rules named in the findings (or run harden with firewall_disable_broader_rules)."),
    "VERIFY-LISTENERS": ("Ports the vendor binds to localhost listen on loopback only",
                         "Set the named interface property to 127.0.0.1 and restart the service."),
    "VERIFY-REACHABILITY": ("Probes: closed ports do not answer, required ports do",
                            "Compare the firewall with the policy; run harden."),
}
STATUS_ORDER = {"pass": 0, "warn": 1, "fail": 2}
REPORT_SCHEMA = "safeq.hardening.verify/v1"
REPORT_TITLE = "SafeQ verification report"
_COMMENT = re.compile(r'comment "([^"]*)"')
_HANDLE = re.compile(r"\s+# handle \d+$")
MAX_RANGE_PROBES = 3


def _worst(findings):
    status = "pass"
    for finding in findings:
        if STATUS_ORDER[finding["status"]] > STATUS_ORDER[status]:
            status = finding["status"]
    return status


def _rule_lines(listing):
    lines = []
    for line in (listing or "").splitlines():
        line = _HANDLE.sub("", line.strip())
        if line and not line.startswith(("table ", "chain ", "}", "type filter", "set ", "type ipv4", "flags ",
                                         "elements")):
            lines.append(line)
    return lines


def _name(line):
    match = _COMMENT.search(line)
    return match.group(1) if match else line


def nftables_drift(expected_script, info, table="inet safeq_hardening"):
    """Findings for a Linux host: our table against what was applied and what the policy wants now.

    ``info`` is the result of safeq.hardening.nftables_table_info (``live``, ``applied``, ``applied_live``).
    """
    info = info or {}
    if info.get("live") is None:
        return [{"status": "fail", "kind": "table_missing",
                 "message": "table %s is not loaded: the host is not hardened (deleted, flushed or never applied)"
                 % table}]
    findings = []
    if info.get("applied") is None or info.get("applied_live") is None:
        findings.append({"status": "fail", "kind": "not_applied",
                         "message": "table %s exists but was not applied by safeq.hardening (no applied script)"
                         % table})
        return findings
    if info["applied"] != expected_script:
        findings.append({"status": "fail", "kind": "policy_changed",
                         "message": "the applied table differs from the current policy (the inventory or catalog"
                                    " changed since the last harden)"})
    before, now = _rule_lines(info["applied_live"]), _rule_lines(info["live"])
    missing = [line for line in before if line not in now]
    extra = [line for line in now if line not in before]
    for line in missing:
        findings.append({"status": "fail", "kind": "rule_missing",
                         "message": "rule %s was removed from %s: %s" % (_name(line), table, line)})
    for line in extra:
        findings.append({"status": "fail", "kind": "rule_extra",
                         "message": "rule %s was added to %s: %s" % (_name(line), table, line)})
    if not findings:
        findings.append({"status": "pass", "kind": "in_sync",
                         "message": "table %s is loaded as applied and matches the policy (%d rules)" % (table, len(now))})
    return findings


# ---- reachability ---------------------------------------------------------------------------

def _ranges(ports):
    result = []
    for port in ports:
        text = str(port)
        if text == "any":
            return [(1, 65535)]
        low, _sep, high = text.partition("-")
        result.append((int(low), int(high or low)))
    return result


def _admits(rule, source_int):
    if "any" in rule["addresses"]:
        return True
    return addr.contains(addr.intervals_of(rule["addresses"]), source_int)


def _sample(low, high):
    if high - low + 1 <= MAX_RANGE_PROBES:
        return list(range(low, high + 1))
    return [low, (low + high) // 2, high]


def reachability_ports(policy, max_ports=64):
    """The TCP ports verify probes on a host: its inbound TCP rule ports (ranges sampled) and management."""
    rules = [r for r in policy["rules"] if r["direction"] == "inbound" and r["protocol"] == "tcp"
             and not r.get("remote_ports") and not r.get("local_addresses")]
    ports = {p for rule in rules for low, high in _ranges(rule["ports"]) for p in _sample(low, high)}
    denied = sorted(p for p in ports if any(r["action"] == "deny" and any(lo <= p <= hi for lo, hi in _ranges(r["ports"]))
                                            for r in rules))
    others = sorted(ports - set(denied))
    return ([policy["management"]["ports"][0]] + denied + others)[:max_ports]


def reachability_plan(policy, source, max_ports=64):
    """TCP ports to probe on the host from ``source`` and what each must do: [{port, expect, reason}].

    ``expect`` is ``blocked`` (a deny rule, or no allow rule admits the source) or ``reachable``
    (an allow rule admits the source and no deny rule covers the port). Ranges are sampled.
    """
    source_int = int(ipaddress.IPv4Address(source))
    if source == policy["address"]:
        return []
    rules = [r for r in policy["rules"] if r["direction"] == "inbound" and r["protocol"] == "tcp"
             and not r.get("remote_ports") and not r.get("local_addresses")]
    ports = sorted({p for rule in rules for low, high in _ranges(rule["ports"]) for p in _sample(low, high)})
    verdicts = {}
    for port in ports:
        covering = [r for r in rules if any(low <= port <= high for low, high in _ranges(r["ports"]))]
        deny = [r for r in covering if r["action"] == "deny"]
        admit = [r for r in covering if r["action"] == "allow" and _admits(r, source_int)]
        if deny:
            verdicts[port] = ("blocked", "denied by %s" % deny[0]["name"])
        elif admit:
            verdicts[port] = ("reachable", "allowed by %s" % admit[0]["name"])
        else:
            peers = sorted({p for r in covering for p in r.get("peers", [])})
            verdicts[port] = ("blocked", "allowed only from %s" % "+".join(peers))
    management = policy["management"]
    mgmt_port = management["ports"][0]
    if "any" in management["addresses"] or addr.contains(addr.intervals_of(management["addresses"]), source_int):
        verdicts[mgmt_port] = ("reachable", "management port")
    else:
        verdicts[mgmt_port] = ("blocked", "management port: allowed only from %s" % ", ".join(management["addresses"]))
    plan = [{"port": port, "expect": expect, "reason": reason} for port, (expect, reason) in sorted(verdicts.items())]
    blocked = [p for p in plan if p["expect"] == "blocked"]
    reachable = [p for p in plan if p["expect"] == "reachable"]
    return (blocked + reachable)[:max_ports]


def judge_reachability(policy, results, source, max_ports=64):
    """Findings from probe ``results`` ({port: open|closed|filtered}) from ``source`` against the policy."""
    host = policy["host"]
    plan = reachability_plan(policy, source, max_ports)
    findings = []
    for item in plan:
        state = results.get(str(item["port"]))
        if state is None:
            continue
        answered = state in ("open", "closed")
        where = "tcp/%d on %s from %s" % (item["port"], host, source)
        if item["expect"] == "blocked" and answered:
            findings.append({"status": "fail", "kind": "open_but_closed", "port": item["port"], "observed": state,
                             "message": "%s answered (%s) but must be closed: %s" % (where, state, item["reason"])})
        elif item["expect"] == "reachable" and not answered:
            findings.append({"status": "fail", "kind": "required_blocked", "port": item["port"], "observed": state,
                             "message": "%s got no answer (filtered) but must be reachable: %s"
                                        % (where, item["reason"])})
    if not findings and plan:
        counts = {"blocked": 0, "reachable": 0}
        for item in plan:
            counts[item["expect"]] += 1
        findings.append({"status": "pass", "kind": "as_expected",
                         "message": "%d probes from %s as expected (%d closed, %d reachable)"
                                    % (len(plan), source, counts["blocked"], counts["reachable"])})
    return findings


# ---- report results -------------------------------------------------------------------------

def check_results(host, platform, findings_by_check):
    """One check result per check: ``{id, item, title, status, evidence, remediation, mandatory, host, ...}``."""
    results = []
    for check_id, findings in findings_by_check.items():
        if findings is None:
            continue
        title, remediation = CHECKS[check_id]
        status = _worst(findings) if findings else "pass"
        shown = [f for f in findings if f["status"] == status] or findings
        results.append({
            "id": check_id, "item": title, "title": title, "status": status,
            "evidence": "; ".join(f["message"] for f in shown) or "nothing to report",
            "remediation": remediation if status != "pass" else "",
            "mandatory": True, "host": host, "platform": platform, "automation": "automated",
            "question": None, "answered_by": None, "findings": findings,
        })
    return results


def connect_result(host):
    return {
        "id": "VERIFY-CONNECT", "item": "Host reachable for verify", "title": "Host reachable for verify",
        "status": "fail", "evidence": "%s: no verify results (unreachable or failed before the checks)" % host,
        "remediation": "Make the host reachable (connection, credentials) and run verify again.",
        "mandatory": True, "host": host, "platform": None, "automation": "automated",
        "question": None, "answered_by": None,
    }


def verify_report_files(hosts, results, generated):
    """(report, {file: text}, stats) of a verify run: JSON, JUnit, Markdown per run and host, and HTML."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils import render_html, report

    host_results = {}
    for host in hosts:
        items = results.get(host)
        if not isinstance(items, list) or not items:
            items = [connect_result(host)]
        host_results[host] = [{k: v for k, v in item.items() if k != "findings"} for item in items]
    built = report.build_run_report(host_results, [], generated, schema=REPORT_SCHEMA)
    files = report.report_files(built, run_name="verify", title=REPORT_TITLE)
    files["verify.html"] = render_html.check_report_html(built, title=REPORT_TITLE)
    return built, files, report.stats_summary(built)
