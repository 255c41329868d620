# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the registered check functions: every host-level check of one host, or the run-level checks.

``evaluate_host(gathered, settings, plan)`` returns one result per host-level check of the checklist,
in checklist order. A check that does not apply to the host (platform, component, prerequisites_skip,
an area left out by tags) is ``not_applicable`` with the reason, without calling its function.

``evaluate_run(plan, host_results, hosts)`` returns the run-level results (topology numbers from the
plan, and PRE-CONNECT for play hosts without results).
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import plan_view, registry
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import load_checklist
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.context import (
    Context,
    PrerequisiteError,
    RunContext,
    settings_with_defaults,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import NEAR_ROAMING_GROUP_LIMIT

NO_RESULTS = "no prerequisite results (unreachable, or failed before the evaluation)"


def _functions(checklist, level):
    """[(function, ids)] of a level, in checklist order, each function once."""
    registered = registry.verify(checklist)
    order, seen = [], set()
    for item in checklist.of_level(level):
        func = registered[item.id]
        if func not in seen:
            seen.add(func)
            order.append((func, func.check_ids))
    return order


def _produced(func, ids, output):
    results = output if isinstance(output, list) else [output]
    got = sorted({r.get("id") for r in results if isinstance(r, dict)})
    if got != sorted(ids) or not all(isinstance(r, dict) for r in results):
        raise PrerequisiteError("%s.%s returned results for %s, expected %s" % (
            func.__module__, func.__name__, ", ".join(map(str, got)) or "nothing", ", ".join(ids)))
    return results


def evaluate_host(gathered, settings, plan, checklist=None):
    """The results of every host-level check for one host (settings["host"]), in checklist order."""
    checklist = checklist or load_checklist()
    settings = settings_with_defaults(settings)
    ctx = Context(checklist, gathered, settings, plan_view.host_view(plan, settings["host"]))
    results = []
    for func, ids in _functions(checklist, "host"):
        reasons = {i: ctx.not_applicable_reason(checklist.by_id[i]) for i in ids}
        if all(reasons.values()):
            results += [ctx.result(i, "not_applicable", reasons[i]) for i in ids]
            continue
        for res in _produced(func, ids, func(ctx)):
            reason = reasons[res["id"]]
            results.append(ctx.result(res["id"], "not_applicable", reason) if reason else res)
    order = {c.id: n for n, c in enumerate(checklist.checks)}
    return sorted(results, key=lambda r: order[r["id"]])


def evaluate_run(plan, host_results, hosts, mandatory=None, checklist=None):
    """The run-level results: topology numbers of the plan, PRE-CONNECT for ``hosts`` missing from ``host_results``."""
    checklist = checklist or load_checklist()
    limits = {name: f.cluster_limit for name, f in load_catalog().features.items() if f.cluster_limit}
    unevaluated = {h: NO_RESULTS for h in hosts if h not in host_results}
    rctx = RunContext(checklist, plan_view.run_view(plan), limits, NEAR_ROAMING_GROUP_LIMIT, hosts, unevaluated,
                      mandatory)
    results = []
    for func, ids in _functions(checklist, "run"):
        results += _produced(func, ids, func(rctx))
    return results
