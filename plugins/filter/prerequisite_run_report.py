# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: prerequisite_run_report
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Collect the prerequisite results of every host into one run report
description:
  - Reads C(prerequisites_results) of every host of the play from C(hostvars), adds the
    run-level checks and returns the whole-run report (schema C(safeq.hardening.prerequisites/v1)).
  - Run-level checks - C(PRE-TOPOLOGY-TERMINALS) and C(PRE-TOPOLOGY-NEAR-ROAMING) (CML cluster size
    against the terminal limits, ORS per near-roaming group, computed from the whole inventory with
    the collection's topology limits) and C(PRE-CONNECT) (a fail for every play host that has no
    results, e.g. unreachable).
options:
  _input:
    description: The C(hostvars) magic variable.
    type: raw
    required: true
  hosts:
    description: The hosts of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  groups:
    description: The C(groups) magic variable (for the topology limits).
    type: dict
    required: true
  generated:
    description: Timestamp written into the report.
    type: str
  results_var:
    description: Name of the per-host fact holding the results.
    type: str
    default: prerequisites_results
"""

EXAMPLES = r"""
- name: Whole-run report
  ansible.builtin.set_fact:
    prerequisites_report: >-
      {{ hostvars | safeq.hardening.prerequisite_run_report(hosts=ansible_play_hosts_all, groups=groups) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: The run report (C(summary), C(mandatory_failures), C(manual), C(hosts), C(run)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import (
    PrerequisiteError,
    connect_result,
    evaluate_topology,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.report import ReportError, build_run_report


def _hostvar(hostvars, host, name, default=None):
    try:
        hvars = hostvars[host]
    except KeyError:
        return default
    try:
        value = hvars.get(name, default) if hasattr(hvars, "get") else hvars[name]
    except KeyError:
        return default
    return default if value is None else value


def topology_inputs(hostvars, groups):
    cml = sorted(groups.get("safeq_cml") or [])
    features = set()
    for host in cml:
        features |= set(_hostvar(hostvars, host, "safeq_features", []) or [])
    roaming = {}
    for host in sorted(groups.get("safeq_ors") or []):
        group = _hostvar(hostvars, host, "safeq_near_roaming_group")
        if group:
            roaming.setdefault(str(group), []).append(host)
    return cml, features, roaming


def prerequisite_run_report(hostvars, hosts, groups, generated=None, results_var="prerequisites_results"):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": hostvars, "hosts": hosts, "groups": groups,
                                                  "generated": generated, "results_var": results_var},
                                  "prerequisite_run_report")
        host_results, run_results = {}, []
        for host in args["hosts"]:
            results = _hostvar(hostvars, host, args["results_var"])
            if results is None:
                run_results.append(connect_result(host, "no prerequisite results (unreachable or failed "
                                                        "before the evaluation)"))
                continue
            host_results[host] = list(results)
        run_results = evaluate_topology(*topology_inputs(hostvars, args["groups"])) + run_results
        return build_run_report(host_results, run_results, args["generated"])
    except (ValueError, PrerequisiteError, ReportError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.prerequisite_run_report: %s" % exc)


class FilterModule:
    def filters(self):
        return {"prerequisite_run_report": prerequisite_run_report}
