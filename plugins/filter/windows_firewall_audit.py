# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: windows_firewall_audit
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Judge a Windows host's firewall state against its SafeQ policy
description:
  - Takes the result of the fixed read-only query C(lookup('safeq.hardening.windows_query', 'firewall_state'))
    run with M(ansible.windows.win_powershell), and judges it on the controller with Windows Firewall's
    documented semantics (block beats allow, any matching allow admits, profiles, local policy merge,
    loopback exemption, program and service rules).
  - Returns C(blocking) (host findings that make every rule moot - a profile off, local rules ignored),
    C(effective) (who can really reach each policy port now, naming the rules that are too broad),
    C(effective_after_apply) (the same once our desired rules replace ours; what harden reports after
    its change), C(drift) (our rules missing, changed or extra), C(apply) and C(remove) (rule names for
    harden), C(broader_rules) (other rules that admit beyond the policy once ours are applied; each with
    C(can_disable), C(reason), C(also_disables) and C(restore), the win_firewall_rule arguments that
    re-enable it as recorded), and C(management_kept_without_ours) (whether another rule still admits the
    controller to the management port).
options:
  _input:
    description: The registered win_powershell result (or its JSON text).
    type: raw
    required: true
  policy:
    description: The host's policy.
    type: dict
    required: true
  desired:
    description: The host's win_firewall_rule argument dicts (P(safeq.hardening.windows_firewall_rules#filter)).
    type: list
    elements: dict
    required: true
  group:
    description: Our rule group.
    type: str
    default: SafeQ Hardening
  prefix:
    description: Our rule name prefix.
    type: str
    default: SafeQ Hardening
"""

EXAMPLES = r"""
- name: Judge the firewall state
  ansible.builtin.set_fact:
    audit: "{{ state | safeq.hardening.windows_firewall_audit(policy, rules) }}"
"""

RETURN = r"""
_value:
  description:
    - C(blocking), C(profiles_disabled), C(effective), C(effective_after_apply), C(drift), C(apply), C(remove),
      C(broader_rules), C(management_kept_without_ours), C(management_message).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import FirewallStateError
from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate_windows_firewall import EvaluationError
from ansible_collections.safeq.hardening.plugins.plugin_utils.windows_audit import audit


def windows_firewall_audit(state, policy, desired, group="SafeQ Hardening", prefix="SafeQ Hardening"):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": state, "policy": policy, "desired": desired,
                                                  "group": group, "prefix": prefix}, "windows_firewall_audit")
        return audit(args["_input"], args["policy"], args["desired"], args["group"], args["prefix"])
    except (ValueError, KeyError, TypeError, FirewallStateError, EvaluationError) as exc:
        raise AnsibleFilterError("safeq.hardening.windows_firewall_audit: %s" % exc)


class FilterModule:
    def filters(self):
        return {"windows_firewall_audit": windows_firewall_audit}
