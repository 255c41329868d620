# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter safeq.hardening.prerequisite_run_report: the whole-run prerequisites report from every host's results."""

from __future__ import annotations

DOCUMENTATION = r"""
name: prerequisite_run_report
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Collect the prerequisite results of every host of the play into one run report
description:
  - Reads the results of every host of the play from C(hostvars), adds the run-level checks and returns
    the whole-run report (schema C(safeq.hardening.prerequisites/v1)).
  - Run-level checks - C(PRE-TOPOLOGY-TERMINALS) and C(PRE-TOPOLOGY-NEAR-ROAMING) report the CML clusters
    (CML nodes and terminal types per cluster) and the near-roaming groups of O(plan); the limits themselves
    are enforced by M(safeq.hardening.policy_plan), which fails on an inventory over a limit.
    C(PRE-CONNECT) fails for every play host without results (unreachable, or failed before the evaluation).
  - With O(output=unusable_secrets) it returns instead, for every host, the role secrets of O(secrets) that
    Ansible cannot template (a clear-text value with C({{), C({%) or C({#) that is no valid template), as
    C({host, variable, message}) without the value. Run it before the role, as the playbook does in
    C(pre_tasks). The role's argument validation templates every role variable, and Ansible's error for
    such a value prints the inventory line holding it.
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
  plan:
    description: The registered result of M(safeq.hardening.policy_plan); required for O(output=report).
    type: dict
  generated:
    description: Timestamp written into the report.
    type: str
  results_var:
    description: Name of the per-host fact holding the results of C(safeq.hardening.prerequisite_evaluate).
    type: str
    default: __prerequisites_results
  mandatory:
    description: Check id -> whether it is mandatory (the role's C(prerequisites_mandatory)), for the run-level checks.
    type: dict
    default: {}
  output:
    description: C(report) returns the run report; C(unusable_secrets) the secrets check described above.
    type: str
    choices: [report, unusable_secrets]
    default: report
  secrets:
    description: Variables checked by O(output=unusable_secrets).
    type: list
    elements: str
    default: [prerequisites_ldap_bind_password]
"""

EXAMPLES = r"""
- name: Whole-run report
  ansible.builtin.set_fact:
    __prerequisites_report: >-
      {{ hostvars | safeq.hardening.prerequisite_run_report(hosts=ansible_play_hosts_all, plan=__prerequisites_plan) }}
  run_once: true

- name: Stop a host whose LDAP password Ansible cannot template (the value is never shown)
  ansible.builtin.fail:
    msg: "{{ problems | map(attribute='message') | join(' ') }}"
  vars:
    problems: >-
      {{ hostvars | safeq.hardening.prerequisite_run_report(hosts=[inventory_hostname], output='unusable_secrets') }}
  when: problems | length > 0
"""

RETURN = r"""
_value:
  description:
    - The run report (C(schema), C(generated), C(summary), C(mandatory_failures), C(manual), C(hosts), C(run)).
    - With O(output=unusable_secrets), a list of C({host, variable, message}).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import run_report
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.secrets import SECRETS, unusable


def prerequisite_run_report(hostvars, hosts, plan=None, generated=None, results_var="__prerequisites_results",
                            mandatory=None, output="report", secrets=SECRETS):
    try:
        args = validate_arguments(DOCUMENTATION, {
            "_input": hostvars, "hosts": hosts, "plan": plan, "generated": generated, "results_var": results_var,
            "mandatory": mandatory or {}, "output": output, "secrets": list(secrets)}, "prerequisite_run_report")
        if args["output"] == "unusable_secrets":
            return unusable(args["_input"], args["hosts"], args["secrets"])
        if args["plan"] is None:
            raise ValueError("plan is required (the registered result of safeq.hardening.policy_plan)")
        host_results = run_report.host_results_from(args["_input"], args["hosts"], args["results_var"])
        return run_report.build(host_results, args["plan"], args["hosts"], args["generated"], args["mandatory"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.prerequisite_run_report: %s" % exc)


class FilterModule:
    def filters(self):
        return {"prerequisite_run_report": prerequisite_run_report}
