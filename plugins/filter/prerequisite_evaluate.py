# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: prerequisite_evaluate
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Decide the SafeQ pre-installation checklist of one host
description:
  - Takes the registered results gathered on one host by the C(safeq.hardening.prerequisites) role
    (facts, services, packages/products, listening sockets, win_* results, LDAP searches) and returns
    one result per check (pass, warn, fail, manual or not_applicable).
  - All decisions are made by C(plugins/plugin_utils/prerequisites.py) on the controller.
  - The SafeQ ports of the host come from the collection's port catalog (inbound entries of the
    host's components and features, with C(safeq_port_overrides)).
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
  config:
    description:
      - The evaluation settings, normally built by the role from its C(prerequisites_*)
        variables (see the role's argument specification). Never put the LDAP password here.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide the checklist of this host
  ansible.builtin.set_fact:
    prerequisites_results: "{{ gathered | safeq.hardening.prerequisite_evaluate(config) }}"
  vars:
    gathered:
      facts: "{{ ansible_facts }}"
      listeners: "{{ _sockets }}"
    config:
      host: "{{ inventory_hostname }}"
      platform: linux
      components: [cml]
"""

RETURN = r"""
_value:
  description:
    - One dict per check with C(id), C(item) (checklist line, verbatim), C(title), C(status),
      C(mandatory), C(evidence), C(remediation), C(host), C(platform), C(automation),
      C(question) and C(answered_by) (for manual items) and optional C(data).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, load_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import (
    PrerequisiteError,
    evaluate_host,
    expected_listeners,
)


def _with_expected(config):
    config = dict(config)
    if config.get("expected_listeners") is not None:
        return config
    components = config.get("components") or []
    features = set(config.get("features") or [])
    if "cml" in components and int(config.get("cml_count") or 1) > 1:
        features.add("cluster")
    try:
        entries = load_catalog(config.get("catalog_path") or None)
        expected, unresolved = expected_listeners(entries, components, features, config.get("port_overrides") or {})
    except (CatalogError, OSError, ValueError, KeyError) as exc:
        config["expected_listeners_error"] = "port catalog: %s" % exc
        return config
    config["expected_listeners"] = expected
    config["unresolved_ports"] = unresolved
    return config


def prerequisite_evaluate(gathered, config):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": gathered, "config": config}, "prerequisite_evaluate")
        return evaluate_host(args["_input"], _with_expected(args["config"]))
    except (ValueError, PrerequisiteError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.prerequisite_evaluate: %s" % exc)


class FilterModule:
    def filters(self):
        return {"prerequisite_evaluate": prerequisite_evaluate}
