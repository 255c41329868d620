# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: listener_judge
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Judge listening sockets against the SafeQ ports the catalog expects
description:
  - Compares listener records (see C(safeq.hardening.listener_records)) with expected catalog ports
    and returns findings (C(plugins/plugin_utils/evaluate.py), C(judge_listeners)).
  - C(exposed) (fail) - the catalog binds the port to localhost (JMX, RMI, etcd client...) but it is
    bound to C(0.0.0.0), C(::) or a LAN address; C(properties) names the vendor property to change
    (e.g. C(cmlJmxNetworkInterface)).
  - C(conflict) (fail), only with O(owner_patterns) - before installation any listener on an
    expected port; after installation a listener of a process matching none of the patterns.
  - C(unknown_owner) (warn), C(not_listening) (info, only with O(report_missing)).
options:
  _input:
    description: Listener records, or any input C(safeq.hardening.listener_records) accepts.
    type: raw
    required: true
  expected:
    description: List of C({port, protocol, bind, catalog_id, settings}); C(port) is an int or C("a-b").
    type: list
    elements: dict
    required: true
  owner_patterns:
    description: Regular expressions of SafeQ process names; enables the conflict check.
    type: list
    elements: str
  installed:
    description: Whether SafeQ is installed (changes the conflict rule).
    type: bool
    default: true
  components:
    description: SafeQ components of the host; limits the named properties to them.
    type: list
    elements: str
  report_missing:
    description: Also report expected ports nothing listens on.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: JMX must listen on loopback only
  ansible.builtin.set_fact:
    jmx_findings: >-
      {{ sockets | safeq.hardening.listener_judge(expected=[{'port': 19898, 'protocol': 'tcp', 'bind': 'localhost',
         'catalog_id': 'ws-jmx-cml-19898', 'settings': [{'property': 'cmlJmxNetworkInterface', 'controls': 'interface',
         'location': 'system_settings', 'component': None}]}]) }}
"""

RETURN = r"""
_value:
  description: Findings C({kind, status, protocol, port, address, pid, process, catalog_ids, properties, message}).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import ListenerParseError
from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate import EvaluateError, judge_listeners


def listener_judge(records, expected, owner_patterns=None, installed=True, components=None, report_missing=False):
    try:
        args = validate_arguments(DOCUMENTATION, {
            "_input": records, "expected": expected, "owner_patterns": owner_patterns, "installed": installed,
            "components": components, "report_missing": report_missing}, "listener_judge")
        return judge_listeners(args["_input"], args["expected"], owner_patterns=args["owner_patterns"],
                               installed=args["installed"], components=args["components"],
                               report_missing=args["report_missing"])
    except (ValueError, EvaluateError, ListenerParseError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.listener_judge: %s" % exc)


class FilterModule:
    def filters(self):
        return {"listener_judge": listener_judge}
