#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: port_catalog_info
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Return the SafeQ 5 port catalog or a filtered part of it
description:
  - Returns entries of the collection's port catalog as a module result.
  - Runs on the controller through its action plugin, so it works for Linux and Windows hosts alike
    and never executes code on the target.
options:
  ids:
    description: Only entries with these ids.
    type: list
    elements: str
  components:
    description: Only entries that a host of one of these components applies.
    type: list
    elements: str
    choices: [cml, ors, crs, ap_connector, etcd]
  section:
    description: Only entries of this seed table.
    type: str
    choices: [workstation_to_server, server_to_printer, printer_to_server, inter_server, other, cluster_installation]
  query:
    description: JMESPath expression applied after the other filters.
    type: str
attributes:
  action:
    description: Runs on the controller through its action plugin.
    support: full
  check_mode:
    description: Read-only; the same result in check mode.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
  platform:
    description: Any target; nothing runs on it.
    support: full
    platforms: all
"""

EXAMPLES = r"""
- name: Inter-server entries of CML
  safeq.hardening.port_catalog_info:
    components: [cml]
    section: inter_server
  register: cml_inter_server
"""

RETURN = r"""
entries:
  description: Matching catalog entries.
  returned: always
  type: list
  elements: dict
count:
  description: Number of matching entries.
  returned: always
  type: int
result:
  description: The JMESPath result when O(query) is given.
  returned: when query is given
  type: raw
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    # The work is done by the action plugin of the same name on the controller.
    module = AnsibleModule(
        argument_spec=dict(
            ids=dict(type="list", elements="str"),
            components=dict(type="list", elements="str", choices=["cml", "ors", "crs", "ap_connector", "etcd"]),
            section=dict(type="str", choices=["workstation_to_server", "server_to_printer", "printer_to_server",
                                              "inter_server", "other", "cluster_installation"]),
            query=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg="safeq.hardening.port_catalog_info runs through its action plugin on the controller")


if __name__ == "__main__":
    main()
