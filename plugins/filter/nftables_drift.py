# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: nftables_drift
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Judge a Linux host's nftables table against what was applied and what the policy wants now
description:
  - Takes the result of M(safeq.hardening.nftables_table_info) and the host's expected table script
    (from M(safeq.hardening.policy_plan)) and returns findings - the table missing, the policy changed
    since the last apply, rules removed or added since the apply (named by their comments).
options:
  _input:
    description: The registered M(safeq.hardening.nftables_table_info) result.
    type: dict
    required: true
  expected:
    description: The expected table script.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Drift of our table
  ansible.builtin.set_fact:
    drift: "{{ table_info | safeq.hardening.nftables_drift(plan.rendered[inventory_hostname].nftables) }}"
"""

RETURN = r"""
_value:
  description: Findings C({status, kind, message}).
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.verify import nftables_drift as judge_table


def nftables_drift(info, expected):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": info, "expected": expected}, "nftables_drift")
        return judge_table(args["expected"], args["_input"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.nftables_drift: %s" % exc)


class FilterModule:
    def filters(self):
        return {"nftables_drift": nftables_drift}
