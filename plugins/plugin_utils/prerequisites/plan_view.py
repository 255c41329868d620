# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the prerequisite checks read from the validated plan, and nothing else.

The plan is the registered result of ``safeq.hardening.policy_plan`` (see its RETURN doc):
``policies`` per host and ``topology`` (``clusters``, ``near_roaming_groups``, ``hosts``). The
inventory is validated there once; the checks never read a ``safeq_*`` variable themselves.

``host_view(plan, host)``::

    {"host", "address", "platform", "components", "features", "cml_cluster",
     "cml_nodes": [CML hosts of the host's cluster], "networks": {"safeq_database_servers": [...], ...},
     "expected_listeners": [{catalog_id, protocol, ports, bind, exposure, settings}],
     "unresolved": [{catalog_id, setting, reason}]}

``run_view(plan)``::

    {"clusters": {name: {"cml": [hosts], "feature_hosts": {feature: [hosts]}}},
     "near_roaming_groups": {"cluster/group": [hosts]}}
"""

from __future__ import annotations


class PlanError(ValueError):
    """The plan given to the prerequisites is not a safeq.hardening.policy_plan result."""


def _mapping(value, where):
    if not isinstance(value, dict):
        raise PlanError("plan: %s must be a mapping (pass the registered result of safeq.hardening.policy_plan)"
                        % where)
    return value


def _topology(plan):
    _mapping(plan, "the plan")
    if plan.get("failed"):
        raise PlanError("plan: the plan failed: %s" % plan.get("msg"))
    topology = _mapping(plan.get("topology"), "topology")
    _mapping(topology.get("clusters"), "topology.clusters")
    _mapping(topology.get("hosts"), "topology.hosts")
    return topology


def host_view(plan, host):
    """The plan's view of one host (see the module doc)."""
    topology = _topology(plan)
    policies = _mapping(plan.get("policies"), "policies")
    if host not in policies or host not in topology["hosts"]:
        raise PlanError("plan: %s has no policy: it is in no SafeQ component group (safeq_cml, safeq_ors, safeq_crs,"
                        " safeq_ap_connector, safeq_etcd) or was not among the hosts passed to policy_plan" % host)
    policy = _mapping(policies[host], "policies[%s]" % host)
    node = _mapping(topology["hosts"][host], "topology.hosts[%s]" % host)
    cluster_name = policy.get("cml_cluster")
    cluster = _mapping(topology["clusters"].get(cluster_name), "topology.clusters[%s]" % cluster_name)
    try:
        return {
            "host": host,
            "address": policy["address"],
            "platform": policy["platform"],
            "components": list(policy["components"]),
            "features": list(policy["features"]),
            "cml_cluster": cluster_name,
            "cml_nodes": list((cluster.get("members") or {}).get("cml") or []),
            "networks": dict(node.get("networks") or {}),
            "expected_listeners": list(policy["expected_listeners"]),
            "unresolved": list(policy.get("unresolved") or []),
        }
    except KeyError as exc:
        raise PlanError("plan: policies[%s] lacks %s" % (host, exc))


def run_view(plan):
    """The plan's clusters and near-roaming groups (see the module doc)."""
    topology = _topology(plan)
    clusters = {}
    for name, cluster in sorted(topology["clusters"].items()):
        cluster = _mapping(cluster, "topology.clusters[%s]" % name)
        clusters[name] = {"cml": list((cluster.get("members") or {}).get("cml") or []),
                          "feature_hosts": {f: list(h) for f, h in sorted((cluster.get("feature_hosts") or {}).items())}}
    groups = _mapping(topology.get("near_roaming_groups") or {}, "topology.near_roaming_groups")
    return {"clusters": clusters, "near_roaming_groups": {k: list(v) for k, v in sorted(groups.items())}}
