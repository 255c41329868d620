# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: listener_records
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Normalise listening-socket output of Linux and Windows hosts into one record shape
description:
  - Returns records C({protocol, family, address, port, pid, process}) from any of these inputs -
  - The registered result of M(safeq.hardening.listening_sockets) (Linux).
  - The registered result of M(ansible.windows.win_listen_ports_facts) or
    M(community.general.listen_ports_facts) (C(ansible_facts.tcp_listen) / C(udp_listen)).
  - A list of records (returned normalised and sorted).
options:
  _input:
    description: One of the inputs above.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Listening sockets of a Windows host
  ansible.windows.win_listen_ports_facts:
  register: raw_listeners

- name: The same record shape as on Linux
  ansible.builtin.set_fact:
    records: "{{ raw_listeners | safeq.hardening.listener_records }}"
"""

RETURN = r"""
_value:
  description: Records sorted by protocol, port, family, address.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import ListenerParseError, normalize_records


def listener_records(data):
    try:
        return normalize_records(data)
    except (ListenerParseError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.listener_records: %s" % exc)


class FilterModule:
    def filters(self):
        return {"listener_records": listener_records}
