# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: windows_query
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: The collection's fixed, read-only PowerShell queries
description:
  - Returns the text of a fixed, read-only query for M(ansible.windows.win_powershell), so roles never
    carry PowerShell of their own. The queries only read state and print JSON; every decision is
    made in Python on the controller.
  - C(firewall_state) reads the firewall profiles, the active connection profiles, every enabled
    inbound rule with its port, address, program and service filters, and the listening sockets with
    their processes (docs/windows-effective-policy.md).
options:
  _terms:
    description: The query name.
    required: true
    type: list
    elements: str
    choices: [firewall_state]
"""

EXAMPLES = r"""
- name: Read the Windows Firewall state
  ansible.windows.win_powershell:
    script: "{{ lookup('safeq.hardening.windows_query', 'firewall_state') }}"
  register: state
  changed_when: false
  check_mode: false
"""

RETURN = r"""
_raw:
  description: The query text.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import (
    WINDOWS_FIREWALL_STATE_COMMAND,
)

QUERIES = {"firewall_state": WINDOWS_FIREWALL_STATE_COMMAND}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        result = []
        for term in terms:
            if term not in QUERIES:
                raise AnsibleLookupError("safeq.hardening.windows_query: unknown query %r (known: %s)"
                                         % (term, ", ".join(sorted(QUERIES))))
            result.append(QUERIES[term])
        return result
