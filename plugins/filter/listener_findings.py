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
    or of M(ansible.windows.win_listen_ports_facts) on Windows)
    and returns findings worded by what was observed (the socket and its address, not whether a
    firewall lets traffic in). A port the vendor binds to localhost (JMX, the etcd client port 2379,
    the TerminalServer port 5556 when no AP Connector uses it) that listens on another address is a
    C(fail) finding naming the vendor property to change, such as C(cmlJmxNetworkInterface). A hardened
    port the vendor leaves on every interface (RMI 20222-20225, Tomcat 8005) on a non-loopback address
    is a C(warn) finding, because the firewall deny rule must keep it closed.
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
  component:
    description: Only the ports of this component (each component role judges its own).
    type: str
    choices: [cml, ors, crs, ap_connector, etcd]
  passes:
    description: Return one C(pass) finding when nothing is wrong (for reports).
    type: bool
    default: false
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


def _select(expected, component, exposure):
    items = [e for e in expected if e.get("exposure") == exposure]
    if component:
        items = [e for e in items if component in (e.get("components") or [])]
    return [dict(e, bind="localhost") for e in items]


def listener_findings(sockets, policy, component=None, passes=False):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": sockets, "policy": policy, "component": component,
                                                  "passes": passes}, "listener_findings")
        policy = args["policy"]
        expected = policy["expected_listeners"]
        components = [args["component"]] if args["component"] else policy["components"]
        findings = judge_listeners(args["_input"], _select(expected, args["component"], "fail"),
                                   components=components)
        for finding in judge_listeners(args["_input"], _select(expected, args["component"], "warn"),
                                       components=components):
            where = "%s/%s on %s" % (finding["protocol"], finding["port"], finding["address"])
            owner = finding["process"] or "unknown process"
            findings.append(dict(finding, status="warn", kind="listens_everywhere",
                                 message="%s (%s) listens on a non-loopback address; the vendor does not bind it"
                                         " to localhost, so the firewall's deny rule must keep it closed"
                                         % (where, owner)))
        if not findings and args["passes"]:
            checked = sum(1 for e in expected if e.get("exposure"))
            findings.append({"status": "pass", "kind": "loopback_only",
                             "message": "%d localhost-bound or hardened port(s) checked: none listens on another"
                                        " address" % checked})
        return findings
    except (ValueError, KeyError, ListenerParseError, EvaluateError) as exc:
        raise AnsibleFilterError("safeq.hardening.listener_findings: %s" % exc)


class FilterModule:
    def filters(self):
        return {"listener_findings": listener_findings}
