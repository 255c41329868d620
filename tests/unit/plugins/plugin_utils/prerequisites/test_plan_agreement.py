# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan and prerequisites agree on the CML cluster-size limits of every terminal type.

The same inventories go to plan's core (compute_plan) and through the prerequisites' path: the
safeq.hardening.policy_plan action the role runs (its failure fails the play), then the run-level
evaluation (PRE-TOPOLOGY-TERMINALS). Both reject with the same message, or both accept; an accepted
inventory is reported as pass with the numbers per CML cluster.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.safeq.hardening.plugins.action.policy_plan import ActionModule
from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.evaluation import evaluate_run

LIMITS = {"terminal_professional": 10, "terminal_ultralight": 5}


def inventory(clusters):
    """groups/hostvars: per cluster (name, CML count, ORS count, terminal feature, on 'cml'|'ors'|'one-ors')."""
    groups, hostvars, n = {"safeq_cml": [], "safeq_ors": []}, {}, 0
    for name, cml, ors, feature, where in clusters:
        for kind, count in (("cml", cml), ("ors", ors)):
            for index in range(count):
                n += 1
                host = "%s-%s%d" % (name, kind, index + 1)
                groups["safeq_" + kind].append(host)
                hostvars[host] = {"ansible_host": "10.%d.%d.%d" % (10 + len(clusters), n // 200, 10 + n % 200),
                                  "safeq_cml_cluster": name}
                if feature and (where == kind or (where == "one-ors" and kind == "ors" and index == 0)):
                    hostvars[host]["safeq_features"] = [feature]
    return groups, hostvars


def plan_verdict(groups, hostvars):
    try:
        compute_plan(groups, hostvars)
    except ValueError as exc:
        return str(exc)
    return None


def prerequisites_verdict(groups, hostvars):
    """What the prerequisites play sees: the policy_plan action's failure, or the PRE-TOPOLOGY-TERMINALS result."""
    hosts = sorted(hostvars)
    task = Task.load({"action": "safeq.hardening.policy_plan", "args": {"hosts": hosts}})
    action = ActionModule(task=task, connection=SimpleNamespace(_shell=SimpleNamespace(tmpdir=None)),
                          play_context=PlayContext(), loader=DataLoader(), templar=None, shared_loader_obj=None)
    plan = action.run(task_vars={"groups": groups, "hostvars": hostvars})
    if plan.get("failed"):
        return plan["msg"], None
    run = {r["id"]: r for r in evaluate_run(plan, {h: [] for h in hosts}, hosts)}
    return None, run["PRE-TOPOLOGY-TERMINALS"]


CASES = [
    # (cluster definitions, accepted by the limits)
    ([("prg", 10, 1, "terminal_professional", "cml")], True),
    ([("prg", 11, 1, "terminal_professional", "cml")], False),
    ([("prg", 11, 2, "terminal_professional", "ors")], False),
    ([("prg", 11, 2, "terminal_professional", "one-ors")], False),
    ([("prg", 10, 2, "terminal_professional", "ors")], True),
    ([("prg", 5, 1, "terminal_ultralight", "cml")], True),
    ([("prg", 6, 1, "terminal_ultralight", "cml")], False),
    ([("prg", 6, 2, "terminal_ultralight", "ors")], False),
    ([("prg", 6, 2, "terminal_ultralight", "one-ors")], False),
    ([("prg", 5, 2, "terminal_ultralight", "ors")], True),
    ([("prg", 11, 1, None, None)], True),
    # two CML clusters in one inventory, each under its limit (together over it)
    ([("prg", 8, 1, "terminal_professional", "cml"), ("brn", 8, 1, "terminal_professional", "ors")], True),
    ([("prg", 5, 1, "terminal_ultralight", "ors"), ("brn", 4, 1, "terminal_ultralight", "cml")], True),
    ([("prg", 10, 1, "terminal_professional", "cml"), ("brn", 5, 1, "terminal_ultralight", "one-ors")], True),
    # one of two clusters over its limit
    ([("prg", 4, 1, "terminal_ultralight", "cml"), ("brn", 6, 1, "terminal_ultralight", "ors")], False),
]


@pytest.mark.parametrize("clusters, accepted", CASES, ids=[
    "+".join("%s:%dcml:%s@%s" % (c[0], c[1], c[3], c[4]) for c in case[0]) for case in CASES])
def test_plan_and_prerequisites_agree_on_the_terminal_limits(clusters, accepted):
    groups, hostvars = inventory(clusters)
    planned = plan_verdict(groups, hostvars)
    failed, terminals = prerequisites_verdict(groups, hostvars)
    assert failed == planned  # both reject with the same message, or both accept
    assert (planned is None) is accepted, planned
    if accepted:
        assert terminals["status"] == "pass"
        for name, cml, _ors, feature, _where in clusters:
            used = "%s (at most %d" % (feature, LIMITS[feature]) if feature else "no terminal type"
            assert "cluster %s: %d CML node(s), %s" % (name, cml, used) in terminals["evidence"]
    else:
        over = [c for c in clusters if c[3] and c[1] > LIMITS[c[3]]]
        assert over
        for name, cml, _ors, feature, _where in over:  # the message names the cluster, its size, the type, the limit
            assert re.search(r"\b%d CML\b" % cml, failed) and repr(name) in failed and feature in failed, failed
            assert re.search(r"\b%d\b" % LIMITS[feature], failed), failed


def test_the_limits_are_the_feature_catalogs():
    from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog

    assert {n: f.cluster_limit for n, f in load_catalog().features.items() if f.cluster_limit} == LIMITS


def test_near_roaming_groups_over_the_limit_fail_the_plan_and_are_reported_from_it():
    groups = {"safeq_cml": ["cml1"], "safeq_ors": ["ors%d" % i for i in range(11)]}
    hostvars = {"cml1": {"ansible_host": "10.1.0.1"}}
    hostvars.update({"ors%d" % i: {"ansible_host": "10.1.1.%d" % (10 + i), "safeq_near_roaming_group": "floor1"}
                     for i in range(11)})
    planned = plan_verdict(groups, hostvars)
    failed, terminals = prerequisites_verdict(groups, hostvars)
    assert terminals is None
    assert failed == planned and "11 ORS" in planned and "floor1" in planned and " 10 " in planned
    hostvars["ors10"]["safeq_near_roaming_group"] = "floor2"
    failed, terminals = prerequisites_verdict(groups, hostvars)
    assert failed is None and terminals["status"] == "pass"
