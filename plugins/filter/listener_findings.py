# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: listener_findings
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Judge a host's listening sockets against its SafeQ policy
description:
  - Takes the listening sockets of a host (the result of M(safeq.hardening.listening_sockets) on Linux,
    or of the fixed C(WINDOWS_LISTENERS_COMMAND) run through M(ansible.windows.win_powershell) on Windows)
    and returns findings. A port that the catalog keeps on localhost (JMX, RMI, Tomcat shutdown, or
    bound to 127.0.0.1 by default) but that listens on another address is a C(fail) finding naming the
    vendor property to change, such as C(cmlJmxNetworkInterface).
  - The same Python core judges Linux and Windows records.
options:
  _input:
    description: The registered module result, or a list of listener records.
    type: raw
    required: true
  policy:
    description: The host's policy (it carries C(expected_listeners) and C(components)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Judge the sockets
  ansible.builtin.set_fact:
    findings: "{{ sockets | safeq.hardening.listener_findings(firewall_policy) }}"
"""

RETURN = r"""
_value:
  description: Findings, each with kind, status, protocol, port, address, process, catalog_ids, properties, message.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import ListenerParseError
from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate import EvaluateError, judge_listeners


def listener_findings(sockets, policy):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": sockets, "policy": policy}, "listener_findings")
        local_only = [e for e in args["policy"]["expected_listeners"] if e["bind"] == "localhost"]
        return judge_listeners(args["_input"], local_only, components=args["policy"]["components"])
    except (ValueError, KeyError, ListenerParseError, EvaluateError) as exc:
        raise AnsibleFilterError("safeq.hardening.listener_findings: %s" % exc)


class FilterModule:
    def filters(self):
        return {"listener_findings": listener_findings}
