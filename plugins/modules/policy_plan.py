#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: policy_plan
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Compute and validate every SafeQ host's firewall policy from the inventory
description:
  - Builds the one validated topology from the C(safeq_*) inventory groups and variables, computes
    every SafeQ host's least-privilege policy and the grouped flow matrix, and renders every host's
    firewall configuration (nftables table or Windows Firewall rules). It fails, naming the variable,
    the host and the value, before anything is returned when any input or any host's rendered
    configuration is invalid, so no host is changed on bad input.
  - Runs on the controller through its action plugin; run it once per play (C(run_once)).
  - With O(write=true) it writes the plan files (every host's policy in C(policies.json), per-host JSON
    and nftables files (see O(host_files)), the flow matrix as JSON, CSV, Markdown, Mermaid and SVG, a
    self-contained HTML report) in one pass under
    C(<output_dir>/plan); unchanged files are kept, files of an earlier run that this run no longer
    writes are removed.
  - Only C(safeq_*) variables and the connection variables C(ansible_host), C(ansible_port),
    C(ansible_connection), C(ansible_winrm_scheme), C(ansible_winrm_port), C(ansible_psrp_port),
    C(ansible_psrp_protocol), C(ansible_ssh_port) are read; secrets are never templated.
options:
  write:
    description: Write the plan files.
    type: bool
    default: false
  output_dir:
    description:
      - Base output directory; files go to its C(plan) subdirectory. Relative paths are relative to the
        directory ansible-playbook runs from.
      - Default is the ansible-runner artifact directory (C(AWX_ISOLATED_DATA_DIR)) under AWX or
        ansible-runner, else C(./output).
    type: path
  flow_detail:
    description: V(hosts) also writes C(flows-hosts.csv), one row per rule of every host.
    type: str
    choices: [groups, hosts]
    default: groups
  host_files:
    description:
      - V(always) writes C(hosts/<host>.json) and, for Linux hosts, C(hosts/<host>.nft); V(never) writes only
        C(policies.json) (every host's policy in one file); V(auto) writes the per-host files for up to 500
        hosts (one file per host is what slows plan down at customer scale, not the computation).
    type: str
    choices: [auto, always, never]
    default: auto
  hosts:
    description: Hosts whose policy and rendered configuration are returned (all hosts are always validated).
    type: list
    elements: str
    default: []
  render:
    description: Render options, as the firewall role passes them.
    type: dict
    default: {}
    suboptions:
      outbound_default:
        description: nftables output chain policy.
        type: str
        choices: [accept, drop]
        default: accept
      allow_icmp:
        description: Accept ICMP in nftables.
        type: bool
        default: true
      windows_prefix:
        description: Windows rule name prefix.
        type: str
        default: SafeQ Hardening
      windows_group:
        description: Windows rule group.
        type: str
        default: SafeQ Hardening
      windows_profiles:
        description: Windows Firewall profiles the rules apply to.
        type: list
        elements: str
        default: [domain, private, public]
  catalog_path:
    description: Alternative port catalog file.
    type: path
attributes:
  action:
    description: Runs on the controller through its action plugin.
    support: full
  check_mode:
    description: Computes and validates; with O(write=true) reports which files would change without writing.
    support: full
  diff_mode:
    description: Not supported; the written files are the diff.
    support: none
  platform:
    description: Controller only.
    platforms: all
    support: full
"""

EXAMPLES = r"""
- name: Compute, validate and write the plan
  safeq.hardening.policy_plan:
    write: true
    output_dir: "{{ safeq_output_dir | default(omit) }}"
  run_once: true
  register: plan

- name: Compute every host's policy before changing any host
  safeq.hardening.policy_plan:
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  register: __plan
"""

RETURN = r"""
summary:
  description: Hosts, rules per host, flows, warnings and unresolved ports (what set_stats publishes).
  returned: always
  type: dict
warnings_list:
  description: Topology and policy warnings, each with C(host), C(variable) and C(message).
  returned: always
  type: list
  elements: dict
unresolved:
  description: Symbolic ports without an override, per host.
  returned: always
  type: list
  elements: dict
policies:
  description: Policy of each host named in O(hosts).
  returned: always
  type: dict
rendered:
  description: Rendered configuration of each host named in O(hosts) (C(nftables) text or C(windows) rule arguments).
  returned: always
  type: dict
topology:
  description:
    - The validated topology as plain data, C(clusters) (per CML cluster its C(features), C(members) by
      component and C(feature_hosts)), C(near_roaming_groups) (C(cluster/group) -> hosts),
      C(etcd_clusters) and C(hosts) (for the hosts named in O(hosts)), each with C(address),
      C(platform), C(components), C(features), C(cml_cluster), C(near_roaming_group), C(etcd_cluster),
      C(management_port), C(port_overrides) and C(networks).
  returned: when O(hosts) names a SafeQ host
  type: dict
plan_dir:
  description: Absolute directory the plan files are written to.
  returned: when O(write=true)
  type: str
files:
  description: C(written), C(unchanged) and C(removed) files (relative to plan_dir).
  returned: when O(write=true)
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    # The work is done by the action plugin of the same name on the controller.
    module = AnsibleModule(argument_spec=dict(
        write=dict(type="bool", default=False),
        output_dir=dict(type="path"),
        flow_detail=dict(type="str", choices=["groups", "hosts"], default="groups"),
        host_files=dict(type="str", choices=["auto", "always", "never"], default="auto"),
        hosts=dict(type="list", elements="str", default=[]),
        render=dict(type="dict", default={}, options=dict(
            outbound_default=dict(type="str", choices=["accept", "drop"], default="accept"),
            allow_icmp=dict(type="bool", default=True),
            windows_prefix=dict(type="str", default="SafeQ Hardening"),
            windows_group=dict(type="str", default="SafeQ Hardening"),
            windows_profiles=dict(type="list", elements="str", default=["domain", "private", "public"]),
        )),
        catalog_path=dict(type="path"),
    ), supports_check_mode=True)
    module.fail_json(msg="safeq.hardening.policy_plan runs through its action plugin on the controller")


if __name__ == "__main__":
    main()
