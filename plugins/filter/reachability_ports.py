# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: reachability_ports
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: TCP ports verify probes on a SafeQ host
description:
  - The management port, the ports of the host's inbound TCP deny rules and of its allow rules (ranges sampled), at most O(max_ports).
options:
  _input:
    description: The host's policy.
    type: dict
    required: true
  max_ports:
    description: Most ports probed per host.
    type: int
    default: 64
"""

EXAMPLES = r"""
- name: Ports to probe
  ansible.builtin.set_fact:
    ports: "{{ policy | safeq.hardening.reachability_ports }}"
"""

RETURN = r"""
_value:
  description: Port numbers.
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.verify import reachability_ports as ports_to_probe


def reachability_ports(policy, max_ports=64):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": policy, "max_ports": max_ports}, "reachability_ports")
        return ports_to_probe(args["_input"], args["max_ports"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.reachability_ports: %s" % exc)


class FilterModule:
    def filters(self):
        return {"reachability_ports": reachability_ports}
