#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: nftables_table_info
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Read one nftables table and what M(safeq.hardening.nftables_table) last applied
description:
  - Read-only. Returns the live listing of the table (C(nft list table)), the script that
    M(safeq.hardening.nftables_table) last applied (O(path)) and the live listing recorded right after
    that apply (O(path) with a C(.live) suffix), so the controller can tell whether the table still is
    what was applied, and which rules were removed or added since.
options:
  family:
    description: Table family.
    type: str
    choices: [inet, ip, ip6, arp, bridge, netdev]
    default: inet
  table:
    description: Table name.
    type: str
    default: safeq_hardening
  path:
    description: Where M(safeq.hardening.nftables_table) keeps the applied script.
    type: path
    default: /etc/safeq_hardening/ruleset.nft
attributes:
  check_mode:
    description: Read-only; the same result in check mode.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
  platform:
    description: Linux with nftables.
    support: full
    platforms: posix
requirements:
  - nft (nftables) on the target
"""

EXAMPLES = r"""
- name: Read our table
  safeq.hardening.nftables_table_info:
  register: table
"""

RETURN = r"""
live:
  description: C(nft list table) output, or null when the table does not exist.
  returned: always
  type: str
applied:
  description: The script last applied, or null.
  returned: always
  type: str
applied_live:
  description: The listing recorded right after the last apply, or null.
  returned: always
  type: str
"""

import re

from ansible.module_utils.basic import AnsibleModule


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def main():
    module = AnsibleModule(argument_spec=dict(
        family=dict(type="str", default="inet", choices=["inet", "ip", "ip6", "arp", "bridge", "netdev"]),
        table=dict(type="str", default="safeq_hardening"),
        path=dict(type="path", default="/etc/safeq_hardening/ruleset.nft"),
    ), supports_check_mode=True)
    params = module.params
    if not re.match(r"^[A-Za-z0-9_]+$", params["table"]):
        module.fail_json(msg="table: %r is not a valid nftables table name" % params["table"])
    nft = module.get_bin_path("nft", required=True)
    rc, out, err = module.run_command([nft, "list", "table", params["family"], params["table"]])
    module.exit_json(changed=False, live=out if rc == 0 else None, applied=_read(params["path"]),
                     applied_live=_read(params["path"] + ".live"))


if __name__ == "__main__":
    main()
