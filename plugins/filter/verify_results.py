# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: verify_results
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: One verify check result per check for a host (report format)
description:
  - Turns the findings of each verify check (C(VERIFY-FIREWALL), C(VERIFY-EFFECTIVE), C(VERIFY-
    LISTENERS), C(VERIFY-REACHABILITY)) into check results C({id, item, title, status, evidence,
    remediation, mandatory, host, platform, findings}) for the run report; a check given as null is left
    out.
options:
  _input:
    description: The host name.
    type: str
    required: true
  platform:
    description: The host's platform.
    type: str
    required: true
  checks:
    description: Check id -> list of findings (or null).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Results of this host
  ansible.builtin.set_fact:
    verify_host_results: "{{ inventory_hostname | safeq.hardening.verify_results('linux', {'VERIFY-FIREWALL': drift}) }}"
"""

RETURN = r"""
_value:
  description: Check results.
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.verify import check_results


def verify_results(host, platform, checks):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": host, "platform": platform, "checks": checks}, "verify_results")
        return check_results(args["_input"], args["platform"], args["checks"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.verify_results: %s" % exc)


class FilterModule:
    def filters(self):
        return {"verify_results": verify_results}
