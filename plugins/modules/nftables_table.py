#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: nftables_table
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Load one nftables table atomically, with a commit-confirm rollback guard
description:
  - Loads a complete table script (rendered on the controller by the
    P(safeq.hardening.nftables_ruleset#filter) filter) in one C(nft -f) transaction after C(nft -c)
    validation. Only the named table is replaced; other tables and other tools' rules are untouched.
  - Unchanged when the script equals the last applied one and the live table still matches what was
    loaded; then nothing is reloaded.
  - With O(rollback_timeout) > 0, the previous table is saved and a detached timer restores it unless
    the change is confirmed with O(state=confirmed) within the timeout.
options:
  content:
    description: The nft script. Required with O(state=present).
    type: str
  state:
    description:
      - V(present) loads O(content); V(confirmed) cancels the rollback of O(token);
        V(absent) deletes the table.
    type: str
    choices: [present, confirmed, absent]
    default: present
  family:
    description: Table family.
    type: str
    default: inet
  table:
    description: Table name; must be the table the script defines.
    type: str
    default: safeq_hardening
  path:
    description: Where the applied script is kept (for idempotence, persistence and audit).
    type: path
    default: /etc/safeq_hardening/ruleset.nft
  rollback_timeout:
    description: Seconds before an unconfirmed change is rolled back; 0 disables the guard.
    type: int
    default: 0
  token:
    description: The token returned by a guarded apply; required with O(state=confirmed).
    type: str
attributes:
  check_mode:
    description: Validates the script with C(nft -c) and reports the change without loading it.
    support: full
  diff_mode:
    description: Shows the live table before and the script after.
    support: full
  platform:
    description: Linux with nftables.
    support: full
    platforms: posix
requirements:
  - nft (nftables) on the target
"""

EXAMPLES = r"""
- name: Apply the table with a 60 s rollback guard
  safeq.hardening.nftables_table:
    content: "{{ firewall_policy | safeq.hardening.nftables_ruleset }}"
    rollback_timeout: 60
  register: applied

- name: Confirm once the controller reaches the host again
  safeq.hardening.nftables_table:
    state: confirmed
    token: "{{ applied.token }}"
  when: applied.token is truthy
"""

RETURN = r"""
token:
  description: Rollback token of a guarded change (empty when nothing was applied or no guard).
  returned: always
  type: str
reloaded:
  description: Whether nft loaded a ruleset in this run.
  returned: always
  type: bool
rolled_back:
  description: With O(state=confirmed), true when the guard had already restored the previous table.
  returned: when state is confirmed
  type: bool
"""

import os
import re
import secrets
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule

GUARD_DIR = "/run/safeq_hardening"


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _write(path, text):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def live_table(module, nft, family, table):
    rc, out, err = module.run_command([nft, "list", "table", family, table])
    return out if rc == 0 else None


def nft_file(module, nft, text, check_only):
    fd, tmp = tempfile.mkstemp(suffix=".nft")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        args = [nft, "-c", "-f", tmp] if check_only else [nft, "-f", tmp]
        rc, out, err = module.run_command(args)
    finally:
        os.unlink(tmp)
    if rc != 0:
        module.fail_json(msg="nft %s failed: %s" % ("validation" if check_only else "load", err.strip() or out.strip()))


def start_guard(module, nft, family, table, previous, timeout):
    token = secrets.token_hex(8)
    os.makedirs(GUARD_DIR, mode=0o700, exist_ok=True)
    rollback = os.path.join(GUARD_DIR, "rollback-%s.nft" % token)
    pending = os.path.join(GUARD_DIR, "pending-%s" % token)
    body = "table %s %s\ndelete table %s %s\n" % (family, table, family, table)
    if previous:
        body += previous
    _write(rollback, body)
    _write(pending, "")
    script = "sleep %d; if [ -e %s ]; then %s -f %s && rm -f %s && touch %s.done; fi; rm -f %s" % (
        timeout, shlex.quote(pending), shlex.quote(nft), shlex.quote(rollback), shlex.quote(pending),
        shlex.quote(os.path.join(GUARD_DIR, "rolled-back-" + token)), shlex.quote(rollback))
    # detached timer: its own session, no stdio, so run_command returns at once
    module.run_command("setsid /bin/sh -c %s </dev/null >/dev/null 2>&1 &" % shlex.quote(script),
                       use_unsafe_shell=True, check_rc=True)
    return token


def main():
    module = AnsibleModule(
        argument_spec=dict(
            content=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "confirmed", "absent"]),
            family=dict(type="str", default="inet"),
            table=dict(type="str", default="safeq_hardening"),
            path=dict(type="path", default="/etc/safeq_hardening/ruleset.nft"),
            rollback_timeout=dict(type="int", default=0),
            token=dict(type="str", no_log=False),
        ),
        required_if=[("state", "present", ["content"]), ("state", "confirmed", ["token"])],
        supports_check_mode=True,
    )
    params = module.params
    family, table, path = params["family"], params["table"], params["path"]
    if not re.match(r"^[A-Za-z0-9_]+$", table) or family not in ("inet", "ip", "ip6", "arp", "bridge", "netdev"):
        module.fail_json(msg="family/table: %r %r is not a valid nftables table" % (family, table))
    nft = module.get_bin_path("nft", required=True)
    result = dict(changed=False, token="", reloaded=False)

    if params["state"] == "confirmed":
        if not re.match(r"^[0-9a-f]{16}$", params["token"]):
            module.fail_json(msg="token: %r is not a rollback token" % params["token"])
        pending = os.path.join(GUARD_DIR, "pending-" + params["token"])
        done = os.path.join(GUARD_DIR, "rolled-back-" + params["token"] + ".done")
        if os.path.exists(pending):
            if not module.check_mode:
                os.unlink(pending)
            module.exit_json(changed=True, token=params["token"], reloaded=False, rolled_back=False)
        module.fail_json(msg="change %s was not confirmed in time: the previous table was restored"
                         % params["token"], rolled_back=os.path.exists(done), token=params["token"])

    live = live_table(module, nft, family, table)
    if params["state"] == "absent":
        if live is not None:
            result.update(changed=True, diff=dict(before=live, after=""))
            if not module.check_mode:
                rc, out, err = module.run_command([nft, "delete", "table", family, table], check_rc=True)
                for leftover in (path, path + ".live"):
                    if os.path.exists(leftover):
                        os.unlink(leftover)
                result["reloaded"] = True
        module.exit_json(**result)

    content = params["content"]
    if "table %s %s {" % (family, table) not in content:
        module.fail_json(msg="content: the script does not define table %s %s" % (family, table))
    if _read(path) == content and live is not None and live == _read(path + ".live"):
        module.exit_json(**result)

    result.update(changed=True, diff=dict(before=live or "", after=content,
                                          before_header="live table %s %s" % (family, table),
                                          after_header=path))
    nft_file(module, nft, content, check_only=True)
    if module.check_mode:
        module.exit_json(**result)
    if params["rollback_timeout"] > 0:
        result["token"] = start_guard(module, nft, family, table, live, params["rollback_timeout"])
    nft_file(module, nft, content, check_only=False)
    _write(path, content)
    _write(path + ".live", live_table(module, nft, family, table) or "")
    result["reloaded"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
