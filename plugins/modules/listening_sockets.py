#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: listening_sockets
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: List the listening TCP and bound UDP sockets of a Linux host with their processes
description:
  - Reads C(/proc/net/tcp), C(tcp6), C(udp) and C(udp6) and returns one record per socket.
  - TCP sockets are returned in state LISTEN only; UDP sockets are returned whenever they are bound
    to a local port (a bound UDP port blocks another program from binding it).
  - The owning process is found best effort by mapping the socket inode to C(/proc/<pid>/fd);
    without root (or C(become)), sockets of other users have O(resolve_processes) data missing
    (C(pid) and C(process) are null).
  - Read-only; needs no external command (no C(ss) or C(netstat)).
  - For Windows hosts use M(ansible.windows.win_listen_ports_facts) or the fixed command documented
    in the C(safeq.hardening.listener_records) filter, which give the same records.
options:
  protocols:
    description: Which protocols to read.
    type: list
    elements: str
    choices: [tcp, udp]
    default: [tcp, udp]
  resolve_processes:
    description: Map each socket to its owning process (pid and name).
    type: bool
    default: true
  proc_root:
    description: Root of the proc file system (only change it for testing).
    type: path
    default: /proc
attributes:
  check_mode:
    support: full
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Linux only (needs C(/proc/net)).
notes:
  - Records have the same shape as the Windows parsers of C(plugins/module_utils/listeners.py), so
    C(safeq.hardening.listener_judge) and the prerequisites role judge both platforms alike.
"""

EXAMPLES = r"""
- name: Read the listening sockets
  safeq.hardening.listening_sockets:
  become: true
  register: sockets

- name: Show who listens on TCP 80
  ansible.builtin.debug:
    msg: "{{ sockets.listeners | selectattr('protocol', 'eq', 'tcp') | selectattr('port', 'eq', 80) }}"
"""

RETURN = r"""
listeners:
  description: One record per listening TCP or bound UDP socket, sorted by protocol, port, family and address.
  returned: always
  type: list
  elements: dict
  contains:
    protocol:
      description: C(tcp) or C(udp).
      type: str
      sample: tcp
    family:
      description: C(ipv4) or C(ipv6).
      type: str
      sample: ipv4
    address:
      description: Local address the socket is bound to (C(0.0.0.0) and C(::) mean every interface).
      type: str
      sample: 127.0.0.1
    port:
      description: Local port.
      type: int
      sample: 19898
    pid:
      description: Lowest process id holding the socket, null when it could not be read.
      type: int
      sample: 1234
    process:
      description: Name of that process (C(/proc/<pid>/comm)), null when unknown.
      type: str
      sample: java
  sample:
    - {protocol: tcp, family: ipv4, address: 0.0.0.0, port: 22, pid: 612, process: sshd}
unresolved:
  description: Number of sockets whose owning process could not be read.
  returned: always
  type: int
  sample: 0
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import (
    ListenerParseError,
    linux_listeners,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            protocols=dict(type="list", elements="str", choices=["tcp", "udp"], default=["tcp", "udp"]),
            resolve_processes=dict(type="bool", default=True),
            proc_root=dict(type="path", default="/proc"),
        ),
        supports_check_mode=True,
    )
    proc_root = module.params["proc_root"]
    if not os.path.isdir(os.path.join(proc_root, "net")):
        module.fail_json(msg="%s/net does not exist: listening_sockets needs a Linux /proc" % proc_root)
    try:
        records = linux_listeners(
            proc_root=proc_root,
            protocols=tuple(module.params["protocols"]),
            resolve_processes=module.params["resolve_processes"],
        )
    except ListenerParseError as exc:
        module.fail_json(msg="cannot parse %s/net: %s" % (proc_root, exc))
    unresolved = sum(1 for r in records if r["pid"] is None) if module.params["resolve_processes"] else 0
    module.exit_json(changed=False, listeners=records, unresolved=unresolved)


if __name__ == "__main__":
    main()
