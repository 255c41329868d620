# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run-level checks: the plan's CML clusters and near-roaming groups, and every play host evaluated.

The topology limits (terminal types per CML cluster, ORS per near-roaming group) are enforced once,
when the plan is built: an inventory over a limit fails safeq.hardening.policy_plan, and with it the
play, before any check runs. These checks report the numbers the validated plan was built from.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.registry import check


def _cluster_text(name, cluster, limits):
    used = ["%s (at most %d, set on %s)" % (feature, limit, G.short_list(cluster["feature_hosts"][feature], 3))
            for feature, limit in sorted(limits.items()) if feature in cluster["feature_hosts"]]
    return "cluster %s: %d CML node(s), %s" % (name, len(cluster["cml"]), ", ".join(used) or "no terminal type with a "
                                               "cluster limit")


@check("PRE-TOPOLOGY-TERMINALS")
def terminals(rctx):
    clusters = rctx.view["clusters"]
    limits = ", ".join("%s %d" % item for item in sorted(rctx.limits.items()))
    return rctx.result("PRE-TOPOLOGY-TERMINALS", "pass", "%s (limits per CML cluster: %s; the plan enforces them)" % (
        "; ".join(_cluster_text(n, c, rctx.limits) for n, c in sorted(clusters.items())) or "no CML cluster", limits),
        data={"clusters": {n: {"cml": len(c["cml"]), "terminal_features": sorted(set(c["feature_hosts"]) & set(rctx.limits))}
                           for n, c in sorted(clusters.items())}})


@check("PRE-TOPOLOGY-NEAR-ROAMING")
def near_roaming(rctx):
    groups = rctx.view["near_roaming_groups"]
    if not groups:
        return rctx.result("PRE-TOPOLOGY-NEAR-ROAMING", "not_applicable",
                           "no near-roaming groups (no ORS has safeq_near_roaming_group)")
    return rctx.result("PRE-TOPOLOGY-NEAR-ROAMING", "pass", "near-roaming groups (cluster/group): %s (limit %d ORS per "
                       "group; the plan enforces it)" % (", ".join("%s=%d" % (g, len(m)) for g, m in sorted(groups.items())),
                                                         rctx.near_roaming_limit),
                       data={"groups": {g: len(m) for g, m in sorted(groups.items())}})


@check("PRE-CONNECT")
def connect(rctx):
    if not rctx.unevaluated:
        return rctx.result("PRE-CONNECT", "pass", "every host of the play (%d) was reached and evaluated"
                           % len(rctx.hosts))
    results = []
    for host, reason in sorted(rctx.unevaluated.items()):
        res = rctx.result("PRE-CONNECT", "fail", "%s: %s" % (host, reason),
                          "Make the host reachable (connection, credentials) and run the playbook again.")
        res["host"] = host
        results.append(res)
    return results
