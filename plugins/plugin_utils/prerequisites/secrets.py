# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find role secrets Ansible cannot template, without ever putting their value into output.

Ansible templates a variable wherever it is used, the role's argument validation first. A password
written in clear in the inventory that contains ``{{``, ``{%`` or ``{#`` is a broken or foreign
template there, and the error Ansible prints shows the inventory line, password included, whatever
``no_log`` says. ``unusable(hostvars, hosts, names)`` asks Ansible's own templating (through
``hostvars``, which yields an undefined marker instead of raising) whether each value can be used,
and reports only the host and the variable. A vaulted value, an ``!unsafe`` value and a valid
template such as ``{{ vault_ldap_password }}`` are usable.
"""

from __future__ import annotations

from jinja2 import Undefined

from ansible.errors import AnsibleError

SECRETS = ("prerequisites_ldap_bind_password",)


def _defined_names(hostvars, host):
    raw = hostvars.raw_get(host) if hasattr(hostvars, "raw_get") else hostvars[host]
    return set(raw) if hasattr(raw, "keys") else set()


def unusable(hostvars, hosts, names=SECRETS):
    """[{"host", "variable", "message"}] for every secret of ``names`` that Ansible cannot template on ``hosts``."""
    problems = []
    for host in hosts:
        defined = _defined_names(hostvars, host)
        for name in names:
            if name not in defined:
                continue
            try:
                value = hostvars[host][name]
                usable = not isinstance(value, Undefined)
            except AnsibleError:
                usable = False
            if not usable:
                problems.append({"host": host, "variable": name, "message": (
                    "hostvars[%s].%s cannot be used as written: Ansible evaluates '{{', '{%%' and '{#' in it as a"
                    " template, which fails (syntax error or undefined variable), and its error would print the"
                    " value. Encrypt it with ansible-vault encrypt_string, or mark it !unsafe. The value is not"
                    " shown." % (host, name))})
    return problems
