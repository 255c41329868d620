# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the variables the topology needs from Ansible ``groups``/``hostvars`` without templating the rest.

Only safeq_* keys and the ansible_* keys listed in catalog/inventory.yml are read, so vault-encrypted
secrets (ansible_password, ...) are never decrypted or templated.

With Ansible's lazy ``HostVars`` each host's variables are read once, untemplated (``raw_get``);
only the needed values that templating could change (strings with a template marker, vaulted or
other non-plain values, and containers holding them) go through Ansible's templating, exactly as
``hostvars[host][key]`` does. Plain values are what templating would return anyway.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import COMPONENT_GROUPS

# Jinja's default block, variable and comment start strings: a string without them is not a template.
TEMPLATE_MARKERS = ("{{", "{%", "{#")


def _plain(value):
    """True when templating returns ``value`` unchanged: scalars, marker-free strings, containers of them."""
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if isinstance(value, str):
        return "{" not in value or not any(marker in value for marker in TEMPLATE_MARKERS)
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(key) and _plain(item) for key, item in value.items())
    return False  # vaulted values, dates, undefined markers...: let Ansible template them


def _templated_view(hostvars, host, raw):
    """The host's variables as ``hostvars[host]`` gives them (templated on access), built from ``raw``."""
    loader = getattr(hostvars, "_loader", None)
    if loader is not None:
        try:
            from ansible.vars.hostvars import HostVarsVars

            return HostVarsVars(raw, loader=loader, host=host)
        except (ImportError, TypeError):
            pass
    return hostvars[host]


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
    raw_get = getattr(hostvars, "raw_get", None)
    selected = {}
    for group in COMPONENT_GROUPS:
        members = plain_groups.get(group)
        if not isinstance(members, list):
            continue
        for host in members:
            if not isinstance(host, str) or host in selected or host not in hostvars:
                continue
            raw = raw_get(host) if callable(raw_get) else None
            if isinstance(raw, dict):
                needed = {key: value for key, value in raw.items()
                          if isinstance(key, str) and (key.startswith("safeq_") or key in wanted_ansible)}
                templated = [key for key, value in needed.items() if not _plain(value)]
                if templated:
                    view = _templated_view(hostvars, host, raw)
                    for key in templated:
                        needed[key] = view[key]
                selected[host] = needed
                continue
            hvars = hostvars[host]
            if not hasattr(hvars, "keys"):
                selected[host] = hvars  # the topology reports it, naming the host
                continue
            selected[host] = {
                key: hvars[key] for key in list(hvars.keys())
                if isinstance(key, str) and (key.startswith("safeq_") or key in wanted_ansible)
            }
    return plain_groups, selected
