# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: reachability_findings
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Judge probe results against a SafeQ host's policy
description:
  - Takes the result of M(safeq.hardening.port_probe) against the host and decides, for the source
    address the probe host used, which ports must answer (an allow rule admits the source) and which
    must not (a deny rule, or no allow rule admits it); returns findings naming each mismatch.
options:
  _input:
    description: The registered M(safeq.hardening.port_probe) result.
    type: dict
    required: true
  policy:
    description: The host's policy.
    type: dict
    required: true
  max_ports:
    description: The same limit given to P(safeq.hardening.reachability_ports#filter).
    type: int
    default: 64
"""

EXAMPLES = r"""
- name: Judge the probes
  ansible.builtin.set_fact:
    reach: "{{ probe | safeq.hardening.reachability_findings(policy) }}"
"""

RETURN = r"""
_value:
  description: Findings C({status, kind, port, observed, message}).
  type: list
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.verify import judge_reachability


def _findings(probe, policy, max_ports):
    results = (probe.get("states") or {}).get(policy["address"], {})
    source = (probe.get("sources") or {}).get(policy["address"])
    if not results or not source:
        return [{"status": "warn", "kind": "not_probed",
                 "message": "no probe result for %s (%s)" % (policy["host"], policy["address"])}]
    return judge_reachability(policy, results, source, max_ports)


def reachability_findings(probe, policy, max_ports=64):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": probe, "policy": policy, "max_ports": max_ports}, "reachability_findings")
        return _findings(args["_input"], args["policy"], args["max_ports"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.reachability_findings: %s" % exc)


class FilterModule:
    def filters(self):
        return {"reachability_findings": reachability_findings}
