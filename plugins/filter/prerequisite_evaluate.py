# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter safeq.hardening.prerequisite_evaluate: decide the pre-installation checklist of one host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: prerequisite_evaluate
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Decide the SafeQ pre-installation checklist of one host
description:
  - Takes the registered results gathered on one host by the C(safeq.hardening.prerequisites) role
    (facts, services, packages/products, listening sockets, win_* results, LDAP searches) and returns
    one result per host-level check of C(catalog/checklist.yml) (pass, warn, fail, manual or not_applicable).
  - What the host is - components, features, CML cluster and its nodes, address, database servers,
    the SafeQ ports it listens on (expected listeners) - is read from O(plan), the result of
    M(safeq.hardening.policy_plan); the inventory is never read here.
  - All decisions are made by C(plugins/plugin_utils/prerequisites/) on the controller.
options:
  _input:
    description:
      - Mapping of gathered registered results. Keys used - C(facts), C(listeners), C(services),
        C(packages), C(packages_cmd), C(products), C(whoami), C(msi), C(updates), C(updates_cmd),
        C(av), C(features_info), C(ip), C(disk), C(share), C(ldap_reach), C(ldap_rootdse), C(ldap_users).
      - A missing, skipped or failed entry turns the checks that need it into C(manual) items that
        say why.
    type: dict
    required: true
  settings:
    description:
      - The role's evaluation settings, built from its C(prerequisites_*) variables (see the role's
        argument specification) - C(host) (required), C(platform), C(areas), C(phase), C(skip),
        C(mandatory), the thresholds, patterns and LDAP settings. Never put the LDAP password here.
      - An unknown key is an error.
    type: dict
    required: true
  plan:
    description: The registered result of M(safeq.hardening.policy_plan) for the play (C(policies) and C(topology)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compute the validated topology and policies once for the play (controller)
  safeq.hardening.policy_plan:
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  delegate_to: localhost
  register: plan

- name: Decide the checklist of this host
  ansible.builtin.set_fact:
    results: "{{ gathered | safeq.hardening.prerequisite_evaluate(settings, plan) }}"
  vars:
    gathered:
      facts: "{{ ansible_facts }}"
      listeners: "{{ sockets }}"
    settings:
      host: "{{ inventory_hostname }}"
      platform: linux
"""

RETURN = r"""
_value:
  description:
    - One dict per host-level check with C(id), C(item) (checklist line, verbatim), C(title), C(status),
      C(mandatory), C(evidence), C(remediation), C(host), C(platform), C(automation), C(area),
      C(question) and C(answered_by) (for manual items) and optional C(data).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate import EvaluateError
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.evaluation import evaluate_host


def prerequisite_evaluate(gathered, settings, plan):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": gathered, "settings": settings, "plan": plan},
                                  "prerequisite_evaluate")
        return evaluate_host(args["_input"], args["settings"], args["plan"])
    except (ValueError, EvaluateError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.prerequisite_evaluate: %s" % exc)


class FilterModule:
    def filters(self):
        return {"prerequisite_evaluate": prerequisite_evaluate}
