# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many Windows module runs (WinRM round trips) harden makes per host kind, and docs/windows.md's tables.

A module run is one task (one loop item) that reaches the Windows host, counted from the
simulation of playbooks/harden.yml (conftest.py ``simulations``). Controller-side tasks (policy_plan,
set_fact, debug, the copy delegated to localhost) are not counted. The tables between the markers
in docs/windows.md are generated here; when a role changes, the assertion shows the new table.
"""

from __future__ import annotations

import re
from collections import Counter

from checks import FIREWALL_RULE
from contract_support import ROOT, host_kind, windows_calls

DOCS = ROOT / "docs" / "windows.md"
KIND_ORDER = ("CML", "ORS", "CRS", "AP Connector", "etcd")
HARDEN_RUNS = (("first", "first run (no rule of ours)"), ("second", "second run (in sync)"))
SWITCH_RUNS = (
    ("absent", "`firewall_state: absent` (our rules and one stale rule of ours)"),
    ("enable_profiles", "`firewall_windows_enable_profiles` (Domain profile off, first run)"),
    ("disable_broader", "`firewall_disable_broader_rules` (in sync, installer rules present)"),
    ("restore_broader", "`firewall_restore_broader_rules` (after the disable run)"),
)
MODULE_ORDER = ("win_powershell", "win_firewall_rule", "win_service_info", "win_find", "win_lineinfile",
                "win_listen_ports_facts", "win_firewall", "win_file", "win_command", "win_copy", "win_stat", "slurp")


def module_counts(run):
    return Counter(c["runs_as"].split(".")[-1] for c in run["calls"])


def _hosts_by_kind(example_plan, hosts):
    kinds = {}
    for host in hosts:
        kinds.setdefault(host_kind(example_plan["policies"][host]), []).append(host)
    return [(k, sorted(kinds[k])) for k in KIND_ORDER if k in kinds]


def _cell(values):
    low, high = min(values), max(values)
    return str(low) if low == high else "%d–%d" % (low, high)


def counts_table(simulations, example_plan, hosts, runs, first_column):
    """Markdown table: one row per host kind and run, one column per module, min–max over the kind's hosts."""
    rows = []
    used = set()
    for kind, members in _hosts_by_kind(example_plan, hosts):
        for run_kind, label in runs:
            counts = [module_counts(simulations[i]) for i in ("%s/%s" % (run_kind, h) for h in members)
                      if i in simulations]
            if counts:
                used.update(m for c in counts for m in c)
                rows.append((kind, members, label, counts))
    modules = [m for m in MODULE_ORDER if m in used]
    assert used <= set(MODULE_ORDER), "count a new module in MODULE_ORDER: %s" % sorted(used - set(MODULE_ORDER))
    lines = ["| %s | run | %s | total |" % (first_column, " | ".join(modules)),
             "|---|---|%s---|" % ("---|" * len(modules))]
    for kind, members, label, counts in rows:
        cells = [_cell([c.get(m, 0) for c in counts]) for m in modules]
        total = _cell([sum(c.values()) for c in counts])
        lines.append("| %s (%s) | %s | %s | %s |" % (kind, ", ".join(members), label, " | ".join(cells), total))
    return "\n".join(lines)


def _docs_block(name):
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- %s:start -->\n(.*?)\n<!-- %s:end -->" % (name, name), text, re.S)
    assert match, "docs/windows.md has no <!-- %s:start --> ... <!-- %s:end --> block" % (name, name)
    return match.group(1).strip()


def test_docs_table_of_harden_module_runs(simulations, example_plan, windows_hosts):
    expected = counts_table(simulations, example_plan, windows_hosts, HARDEN_RUNS, "host kind (hosts)")
    assert _docs_block("module-runs") == expected, "docs/windows.md module-runs table must be:\n" + expected


def test_docs_table_of_switch_module_runs(simulations, example_plan, windows_hosts):
    expected = counts_table(simulations, example_plan, windows_hosts, SWITCH_RUNS, "host kind (hosts)")
    assert _docs_block("switch-runs") == expected, "docs/windows.md switch-runs table must be:\n" + expected


def test_second_run_reads_the_state_once_and_applies_nothing(simulations, example_plan, windows_hosts):
    for host in windows_hosts:
        first, second = module_counts(simulations["first/%s" % host]), module_counts(simulations["second/%s" % host])
        assert first["win_powershell"] == second["win_powershell"] == 1, host
        assert first["win_firewall_rule"] == len(example_plan["rendered"][host]["windows"]), host
        # the state query lists our group's inbound and outbound rules: a host in sync needs no rule call
        assert second["win_firewall_rule"] == 0, host
        assert windows_calls(simulations["second/%s" % host], FIREWALL_RULE) == []
        # everything but the firewall rules runs the same on every run (reads, and the idempotent JMX edit)
        assert {m: n for m, n in first.items() if m != "win_firewall_rule"} == \
            {m: n for m, n in second.items() if m != "win_firewall_rule"}, host
