# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: windows_firewall_rules
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Render one host's SafeQ policy as community.windows.win_firewall_rule arguments
description:
  - Returns one argument dict per Windows Firewall rule, ready for a loop over
    M(community.windows.win_firewall_rule).
  - The management rule (WinRM port(s) from C(management), from its addresses) comes first, then one
    rule per policy rule. Ports become one C(localport) (inbound) or C(remoteport) (outbound) comma
    list, ranges as C(a-b); addresses become one C(remoteip) list; C(any) where the policy says any.
  - Policy C(deny) rules become C(block) rules with C(remoteip=any). Windows Firewall does not filter
    loopback traffic, so local JMX tools keep working while remote access is blocked.
  - Rule names are C(<prefix> - <policy rule name>), stable per host, so a second run changes nothing and
    C(state=absent) removes exactly these rules. Every rule carries the fixed O(group).
  - Fails, naming the policy field, when a block rule would cover the management port (block rules beat
    allow rules on Windows) or when a value cannot be expressed in Windows Firewall.
options:
  _input:
    description: One host's policy (an item of C(host_policies().policies)).
    type: dict
    required: true
  state:
    description:
      - V(present) returns full rule arguments; V(absent) returns C({name, state=absent}) for the same
        names, the management rule last.
    type: str
    choices: [present, absent]
    default: present
  prefix:
    description: Display name prefix of every rule the collection owns.
    type: str
    default: SafeQ Hardening
  group:
    description: Windows Firewall rule group of every rule the collection owns.
    type: str
    default: SafeQ Hardening
  profiles:
    description: Firewall profiles the rules apply to.
    type: list
    elements: str
    choices: [domain, private, public]
    default: [domain, private, public]
"""

EXAMPLES = r"""
- name: Render the Windows Firewall rules of this host
  ansible.builtin.set_fact:
    firewall_windows_rules: "{{ firewall_policy | safeq.hardening.windows_firewall_rules(state='present') }}"

- name: Apply them (management rule first)
  community.windows.win_firewall_rule:
    name: "{{ item.name }}"
    group: "{{ item.group | default(omit) }}"
    direction: "{{ item.direction | default(omit) }}"
    action: "{{ item.action | default(omit) }}"
    protocol: "{{ item.protocol | default(omit) }}"
    localport: "{{ item.localport | default(omit) }}"
    remoteport: "{{ item.remoteport | default(omit) }}"
    remoteip: "{{ item.remoteip | default(omit) }}"
    state: "{{ item.state }}"
  loop: "{{ firewall_windows_rules }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
_value:
  description:
    - List of win_firewall_rule argument dicts; the management rule first.
    - With O(state=present) each has C(name), C(group), C(description), C(direction) (in/out), C(action)
      (allow/block), C(protocol), C(localport), C(remoteport), C(localip), C(remoteip), C(program),
      C(service), C(profiles), C(enabled) and C(state).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_GROUP,
    DEFAULT_PREFIX,
    DEFAULT_PROFILES,
    WindowsRenderError,
    firewall_rule_args,
)


def windows_firewall_rules(policy, state="present", prefix=DEFAULT_PREFIX, group=DEFAULT_GROUP,
                           profiles=DEFAULT_PROFILES):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": policy, "state": state, "prefix": prefix,
                                                  "group": group, "profiles": list(profiles or [])},
                                  "windows_firewall_rules")
        return firewall_rule_args(args["_input"], args["state"], args["prefix"], args["group"], args["profiles"])
    except (ValueError, WindowsRenderError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.windows_firewall_rules: %s" % exc)


class FilterModule:
    def filters(self):
        return {"windows_firewall_rules": windows_firewall_rules}
