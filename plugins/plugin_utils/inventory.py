# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the variables the topology needs from Ansible ``groups``/``hostvars`` without templating the rest.

Only safeq_* keys and the ansible_* keys listed in catalog/inventory.yml are read, so vault-encrypted
secrets (ansible_password, ...) are never decrypted or templated.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import COMPONENT_GROUPS


def inventory_inputs(groups, hostvars, spec):
    """Return (groups, {host: {needed variables}}) for the hosts of the SafeQ component groups.

    ``groups`` keeps every group whose name starts with ``safeq_`` (so misspelled SafeQ groups are
    reported) as plain lists; ``hostvars`` may be Ansible's lazy HostVars or a plain mapping.
    """
    wanted_ansible = set(spec.get("ansible_variables") or ())
    plain_groups = {}
    for name in groups:
        if isinstance(name, str) and name.startswith("safeq_"):
            members = groups[name]
            plain_groups[name] = list(members) if isinstance(members, (list, tuple)) else members
    selected = {}
    for group in COMPONENT_GROUPS:
        members = plain_groups.get(group)
        if not isinstance(members, list):
            continue
        for host in members:
            if host in selected or not isinstance(host, str) or host not in hostvars:
                continue
            hvars = hostvars[host]
            selected[host] = {
                key: hvars[key] for key in list(hvars.keys())
                if isinstance(key, str) and (key.startswith("safeq_") or key in wanted_ansible)
            }
    return plain_groups, selected
