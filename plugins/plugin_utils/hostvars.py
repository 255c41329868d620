# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pick the variables the policy needs from Ansible hostvars without templating the rest.

Touching only these keys keeps vault-encrypted secrets (e.g. ansible_password) encrypted.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import COMPONENT_GROUPS

ANSIBLE_KEYS = ("ansible_host", "ansible_port", "ansible_connection", "ansible_winrm_scheme", "ansible_os_family")


def policy_inputs(groups, hostvars):
    """Return (groups, {host: {needed vars}}) for the hosts of the safeq_* groups."""
    wanted = {}
    for group in COMPONENT_GROUPS:
        for host in groups.get(group) or []:
            wanted[host] = None
    selected = {}
    for host in wanted:
        hvars = hostvars[host]
        selected[host] = {
            key: hvars[key] for key in list(hvars.keys())
            if key.startswith("safeq_") or key in ANSIBLE_KEYS
        }
    return {g: list(groups.get(g) or []) for g in COMPONENT_GROUPS}, selected
