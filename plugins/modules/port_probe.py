#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: port_probe
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Bounded TCP connect probes from the host it runs on
description:
  - Connects to each listed TCP port of each target once and reports C(open) (connected),
    C(closed) (refused, so the packet reached the host and nothing listens) or C(filtered) (no answer within
    O(timeout), or an ICMP error, so a firewall dropped it).
  - Bounded in count and time, at most O(max_probes) probes, O(workers) at once, each at most
    O(timeout) seconds, so a run takes at most about C(max_probes / workers * timeout) seconds.
  - Sends nothing but TCP SYN and, for open ports, an immediate close. Changes nothing.
options:
  targets:
    description: What to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description: IPv4 address.
        type: str
        required: true
      ports:
        description: TCP ports.
        type: list
        elements: int
        required: true
  timeout:
    description: Seconds per probe (at most 5).
    type: float
    default: 1.5
  workers:
    description: Probes at once (at most 64).
    type: int
    default: 16
  max_probes:
    description: Refuse to run more probes than this.
    type: int
    default: 2048
attributes:
  check_mode:
    description: Probes run in check mode too; they change nothing.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
  platform:
    description: Any POSIX host with Python.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Probe two ports of a server
  safeq.hardening.port_probe:
    targets:
      - {address: 10.10.1.11, ports: [4111, 19898]}
  register: probes
"""

RETURN = r"""
states:
  description: Probe states by target address and port (open, closed or filtered).
  returned: always
  type: dict
probes:
  description: Number of probes run.
  returned: always
  type: int
sources:
  description: The local source address the host uses to reach each target (what the target firewall sees), by target address.
  returned: always
  type: dict
"""

import errno
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

FILTERED_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.ETIMEDOUT}


def probe(address, port, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            return "open"
        except ConnectionRefusedError:
            return "closed"
        except socket.timeout:
            return "filtered"
        except OSError as exc:
            return "filtered" if exc.errno in FILTERED_ERRNOS else "closed"


def source_address(address):
    """The local address the kernel picks to reach ``address`` (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address, 9))
            return sock.getsockname()[0]
        except OSError:
            return None


def main():
    module = AnsibleModule(argument_spec=dict(
        targets=dict(type="list", elements="dict", required=True, options=dict(
            address=dict(type="str", required=True),
            ports=dict(type="list", elements="int", required=True),
        )),
        timeout=dict(type="float", default=1.5),
        workers=dict(type="int", default=16),
        max_probes=dict(type="int", default=2048),
    ), supports_check_mode=True)
    params = module.params
    if not 0 < params["timeout"] <= 5:
        module.fail_json(msg="timeout: %s is not in (0, 5] seconds" % params["timeout"])
    if not 0 < params["workers"] <= 64:
        module.fail_json(msg="workers: %s is not in 1-64" % params["workers"])
    jobs = []
    for target in params["targets"]:
        try:
            address = str(ipaddress.IPv4Address(target["address"]))
        except ValueError:
            module.fail_json(msg="targets.address: %r is not an IPv4 address" % target["address"])
        for port in target["ports"]:
            if not 1 <= port <= 65535:
                module.fail_json(msg="targets.ports: %r is outside 1-65535" % port)
            jobs.append((address, port))
    if len(jobs) > params["max_probes"]:
        module.fail_json(msg="%d probes requested, max_probes is %d" % (len(jobs), params["max_probes"]))
    results = {}
    with ThreadPoolExecutor(max_workers=params["workers"]) as pool:
        for (address, port), state in zip(jobs, pool.map(lambda job: probe(job[0], job[1], params["timeout"]), jobs)):
            results.setdefault(address, {})[str(port)] = state
    sources = {address: source_address(address) for address in results}
    module.exit_json(changed=False, states=results, probes=len(jobs), sources=sources)


if __name__ == "__main__":
    main()
