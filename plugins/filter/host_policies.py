# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: host_policies
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Compute the SafeQ firewall policy of every host from the catalog and the inventory
description:
  - Builds the topology from the C(safeq_*) inventory groups and variables, and returns for every
    SafeQ host its grouped, least-privilege policy, plus the flow matrix.
  - Invalid input fails with an error that names the variable, the host and the value.
options:
  _input:
    description: The C(groups) magic variable.
    type: dict
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: raw
    required: true
  catalog_path:
    description: Alternative catalog file.
    type: path
"""

EXAMPLES = r"""
- name: Compute every policy on the controller
  ansible.builtin.set_fact:
    safeq_plan: "{{ groups | safeq.hardening.host_policies(hostvars) }}"
"""

RETURN = r"""
_value:
  description: C(policies) (host -> policy), C(flows), C(unresolved) and C(warnings).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, load_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.hostvars import policy_inputs
from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import PolicyError, build_policies
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import TopologyError


def host_policies(groups, hostvars, catalog_path=None):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": groups, "hostvars": hostvars,
                                                  "catalog_path": catalog_path}, "host_policies")
        entries = load_catalog(args["catalog_path"])
        return build_policies(entries, *policy_inputs(groups, hostvars))
    except (ValueError, CatalogError, TopologyError, PolicyError, KeyError) as exc:
        raise AnsibleFilterError("safeq.hardening.host_policies: %s" % exc)


class FilterModule:
    def filters(self):
        return {"host_policies": host_policies}
