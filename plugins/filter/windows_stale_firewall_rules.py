# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: windows_stale_firewall_rules
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Names of the collection's Windows Firewall rules that the policy no longer wants
description:
  - Takes the display names of the rules in the collection's group (listed on the host with
    C(Get-NetFirewallRule)) and the desired rules from P(safeq.hardening.windows_firewall_rules#filter).
  - Returns, sorted, the names that start with C(<prefix> - ) and are not a desired rule with
    C(state=present). Names without the prefix are never returned, so rules the collection did not
    create are never touched.
  - When every desired rule has C(state=absent), every rule the collection owns is returned.
options:
  _input:
    description: Display names of the rules in the collection's group.
    type: list
    elements: str
    required: true
  desired:
    description: Output of P(safeq.hardening.windows_firewall_rules#filter).
    type: list
    elements: dict
    required: true
  prefix:
    description: Display name prefix of every rule the collection owns.
    type: str
    default: SafeQ Hardening
"""

EXAMPLES = r"""
- name: Remove rules of ours that the policy no longer contains
  community.windows.win_firewall_rule:
    name: "{{ item }}"
    state: absent
  loop: "{{ firewall_windows_existing.output | safeq.hardening.windows_stale_firewall_rules(firewall_windows_rules) }}"
"""

RETURN = r"""
_value:
  description: Display names to remove, sorted.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_PREFIX,
    stale_rule_names,
)


def windows_stale_firewall_rules(existing, desired, prefix=DEFAULT_PREFIX):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": existing or [], "desired": desired, "prefix": prefix},
                                  "windows_stale_firewall_rules")
        return stale_rule_names(args["_input"], args["desired"], args["prefix"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.windows_stale_firewall_rules: %s" % exc)


class FilterModule:
    def filters(self):
        return {"windows_stale_firewall_rules": windows_stale_firewall_rules}
