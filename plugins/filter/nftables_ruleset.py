# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: nftables_ruleset
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Render one host's SafeQ policy as a complete nftables table
description:
  - Returns an C(nft -f) script that atomically replaces only the C(inet safeq_hardening) table.
  - Established/related traffic and loopback are accepted first, then management access, then the
    explicit denies (RMI, JMX, Tomcat shutdown), then the allow rules; everything else inbound is dropped.
options:
  _input:
    description: One host's policy (an item of C(host_policies().policies)).
    type: dict
    required: true
  outbound_default:
    description: Policy of the output chain; C(drop) enforces the outbound allow rules too.
    type: str
    choices: [accept, drop]
    default: accept
  allow_icmp:
    description: Accept ICMP and ICMPv6 (ping, path MTU discovery, neighbour discovery).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Render the table
  ansible.builtin.set_fact:
    nft_text: "{{ firewall_policy | safeq.hardening.nftables_ruleset(outbound_default='accept') }}"
"""

RETURN = r"""
_value:
  description: The nft script text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import RenderError, render_table


def nftables_ruleset(policy, outbound_default="accept", allow_icmp=True):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": policy, "outbound_default": outbound_default,
                                                  "allow_icmp": allow_icmp}, "nftables_ruleset")
        return render_table(args["_input"], args["outbound_default"], args["allow_icmp"])
    except (ValueError, RenderError, KeyError) as exc:
        raise AnsibleFilterError("safeq.hardening.nftables_ruleset: %s" % exc)


class FilterModule:
    def filters(self):
        return {"nftables_ruleset": nftables_ruleset}
