#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module nftables_table: load, persist, guard and remove one nftables table."""
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
  - The script is parsed before nft runs. At top level it may only contain C(table <family> <table>),
    C(delete table <family> <table>), C(flush table <family> <table>) and
    C(table <family> <table> { ... }) for the table of O(family) and O(table); C(include), C(define),
    C(redefine), C(undefine) and C($variables) are refused everywhere outside quoted strings.
  - Unchanged when the script equals the last applied one, the live table still matches what was
    loaded and the boot config already includes the script; then nothing is reloaded.
  - With O(rollback_timeout) > 0, the previous table is saved and a detached timer restores it (and
    writes it to O(path), so a reboot loads the restored table too) unless the change is confirmed
    within the timeout (by the task itself when O(guard_probe_host) is set, else with
    O(state=confirmed)).
  - With O(guard_probe_host), the action on the controller confirms a guarded change in the same task.
    It opens a TCP connection to O(guard_probe_host):O(guard_probe_port) from the controller (for up
    to O(guard_probe_timeout) seconds) and, once that succeeds, cancels the rollback with one fixed
    shell command over the task's connection (C(rm) of the pending marker), not a second module run.
    When the port is not reached the task fails and the host restores its previous table by itself.
options:
  content:
    description: The nft script. Required with O(state=present).
    type: str
  state:
    description:
      - V(present) loads O(content) and adds the include line to O(persist_config);
        V(confirmed) cancels the rollback of O(token);
        V(absent) deletes the table, removes the include line from O(persist_config) and removes
        O(path) and its C(.live) copy.
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
    description:
      - Where the applied script is kept (for idempotence, persistence and audit).
      - The live table as loaded is kept beside it, in O(path) with a C(.live) suffix.
    type: path
    default: /etc/safeq_hardening/ruleset.nft
  persist_config:
    description:
      - Boot-time nftables config that loads the table. With O(state=present), one line
        C(include "<path>") is added at its end (atomically) when the file exists; a missing file is
        left alone. With O(state=absent), only that line is removed, and the config is checked with
        C(nft -c -f) before and after the change.
      - An empty string disables persistence.
    type: path
    default: /etc/nftables.conf
  rollback_timeout:
    description: Seconds before an unconfirmed change is rolled back; 0 disables the guard.
    type: int
    default: 0
  token:
    description: The token returned by a guarded apply; required with O(state=confirmed).
    type: str
  guard_dir:
    description: Directory of the rollback guard's state (pending changes and saved tables).
    type: path
    default: /run/safeq_hardening
  guard_probe_host:
    description:
      - Address the controller must reach after a guarded change (the host's management address).
        Empty leaves the confirmation to a later O(state=confirmed) task.
      - Used by the action on the controller only.
    type: str
    default: ""
  guard_probe_port:
    description: TCP port of O(guard_probe_host) the controller must reach (the management port).
    type: int
    default: 22
  guard_probe_timeout:
    description: Seconds the controller keeps trying to reach O(guard_probe_host):O(guard_probe_port).
    type: int
    default: 15
attributes:
  check_mode:
    description: Validates the script with C(nft -c) and reports the change without loading or writing anything.
    support: full
  diff_mode:
    description: Shows the live table before and the script after, and the change of O(persist_config).
    support: full
  platform:
    description: Linux with nftables.
    support: full
    platforms: posix
requirements:
  - nft (nftables) on the target
"""

EXAMPLES = r"""
- name: Apply the table with a 60 s rollback guard, loaded at boot by /etc/nftables.conf
  safeq.hardening.nftables_table:
    content: "{{ firewall_policy | safeq.hardening.nftables_ruleset }}"
    rollback_timeout: 60
  register: applied

- name: Confirm once the controller reaches the host again
  safeq.hardening.nftables_table:
    state: confirmed
    token: "{{ applied.token }}"
  when: applied.token is truthy

- name: Apply and confirm in one task once the controller reaches the host's SSH port again
  safeq.hardening.nftables_table:
    content: "{{ firewall_policy | safeq.hardening.nftables_ruleset }}"
    rollback_timeout: 60
    guard_probe_host: "{{ firewall_policy.address }}"
    guard_probe_port: 22

- name: Apply without touching the boot config
  safeq.hardening.nftables_table:
    content: "{{ firewall_policy | safeq.hardening.nftables_ruleset }}"
    persist_config: ""

- name: Remove the table, its script and its include line
  safeq.hardening.nftables_table:
    state: absent
"""

RETURN = r"""
token:
  description: Rollback token of a guarded change (empty when nothing was applied or no guard).
  returned: always
  type: str
reloaded:
  description: Whether nft loaded a ruleset (or deleted the table) in this run.
  returned: always
  type: bool
rolled_back:
  description: With O(state=confirmed), true when the guard had already restored the previous table.
  returned: when state is confirmed
  type: bool
confirmed:
  description: With O(guard_probe_host), whether the controller reached the probe port and confirmed the change.
  returned: when a guarded change was made and O(guard_probe_host) is set
  type: bool
probe_seconds:
  description: With O(guard_probe_host), seconds until the controller reached the probe port (or gave up).
  returned: when a guarded change was made and O(guard_probe_host) is set
  type: float
"""

import difflib
import os
import re
import secrets
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.safeq.hardening.plugins.module_utils.nft_script import (
    NftScriptError,
    check_table_script,
)

FAMILIES = ("inet", "ip", "ip6", "arp", "bridge", "netdev")
# The rollback guard's state; the action plugin confirms with the same marker path and token form.
GUARD_DIR = "/run/safeq_hardening"
TOKEN = re.compile(r"^[0-9a-f]{16}$")


def pending_marker(guard_dir, token):
    """The file whose removal confirms ``token`` (the host's timer claims a rollback by renaming it)."""
    return os.path.join(guard_dir, "pending-%s" % token)


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
    rc, out, dummy = module.run_command([nft, "list", "table", family, table])
    return out if rc == 0 else None


def run_nft_file(module, nft, path, check_only):
    """Error text of ``nft [-c] -f path``, or None when it succeeds."""
    args = [nft, "-c", "-f", path] if check_only else [nft, "-f", path]
    rc, out, err = module.run_command(args)
    return None if rc == 0 else (err.strip() or out.strip() or "exit code %d" % rc)


def nft_text(module, nft, text, check_only, directory=None):
    """Error text of ``nft [-c] -f`` on ``text`` (written to a temporary file), or None."""
    # a hidden name without .nft: include globs in ``directory`` cannot pick it up
    fd, tmp = tempfile.mkstemp(prefix=".safeq-nft-", suffix=".tmp", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        return run_nft_file(module, nft, tmp, check_only)
    finally:
        os.unlink(tmp)


def config_change(module, config, line, present):
    """(before, after) of the boot config with ``line`` ensured or removed; (None, None) without one."""
    if not config or not os.path.exists(config):
        return None, None
    before = _read(config)
    if before is None:
        module.fail_json(msg="persist_config: cannot read %s" % config)
    lines = before.split("\n")
    if present:
        if any(item.strip() == line for item in lines):
            return before, before
        separator = "" if not before or before.endswith("\n") else "\n"
        return before, before + separator + line + "\n"
    return before, "\n".join(item for item in lines if item.strip() != line)


def config_diff(config, before, after):
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        "before: " + config, "after: " + config))


def replace_config(module, config, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(config), prefix=".%s." % os.path.basename(config))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    module.atomic_move(tmp, config)


def start_guard(module, nft, family, table, previous, timeout, guard_dir, path):
    """Arm a detached timer that restores ``previous`` (live table text or None) unless confirmed."""
    token = secrets.token_hex(8)
    os.makedirs(guard_dir, mode=0o700, exist_ok=True)
    names = dict((key, shlex.quote(os.path.join(guard_dir, pattern % token))) for key, pattern in (
        ("rollback", "rollback-%s.nft"), ("pending", "pending-%s"), ("claimed", "rolling-back-%s"),
        ("done", "rolled-back-%s.done")))
    body = "table %s %s\ndelete table %s %s\n" % (family, table, family, table)
    if previous:
        body += previous
    _write(os.path.join(guard_dir, "rollback-%s.nft" % token), body)
    _write(pending_marker(guard_dir, token), "")
    restored = shlex.quote(path + ".rollback")
    # Renaming the pending file claims the rollback atomically against a concurrent confirm;
    # the restored table also replaces the script so a reboot loads the same table.
    script = ("sleep {timeout}; if mv {pending} {claimed} 2>/dev/null; then"
              " if {nft} -f {rollback}; then cp {rollback} {restored} && chmod 600 {restored}"
              " && mv -f {restored} {path}; touch {done}; fi; rm -f {claimed}; fi; rm -f {rollback}").format(
        timeout=int(timeout), nft=shlex.quote(nft), restored=restored, path=shlex.quote(path), **names)
    # detached timer: its own session, no stdio, so run_command returns at once
    module.run_command("setsid /bin/sh -c %s </dev/null >/dev/null 2>&1 &" % shlex.quote(script),
                       use_unsafe_shell=True, check_rc=True)
    return token


def cancel_guard(guard_dir, token):
    try:
        os.unlink(pending_marker(guard_dir, token))
        return True
    except FileNotFoundError:
        return False


def confirm(module, guard_dir, token):
    if not TOKEN.match(token):
        module.fail_json(msg="token: %r is not a rollback token" % token)
    if module.check_mode:
        confirmed = os.path.exists(pending_marker(guard_dir, token))
    else:
        confirmed = cancel_guard(guard_dir, token)
    if confirmed:
        module.exit_json(changed=True, token=token, reloaded=False, rolled_back=False)
    done = os.path.join(guard_dir, "rolled-back-%s.done" % token)
    module.fail_json(msg="change %s was not confirmed in time: the previous table was restored" % token,
                     rolled_back=os.path.exists(done), token=token)


def remove(module, nft, live, include):
    params = module.params
    family, table, path, config = params["family"], params["table"], params["path"], params["persist_config"]
    result = dict(changed=False, token="", reloaded=False)
    before, after = config_change(module, config, include, present=False)
    leftovers = [name for name in (path, path + ".live") if os.path.exists(name)]
    if live is None and before == after and not leftovers:
        module.exit_json(**result)
    diff = {}
    if live is not None:
        diff.update(before=live, after="", before_header="live table %s %s" % (family, table),
                    after_header="(deleted)")
    if before != after:
        diff["prepared"] = config_diff(config, before, after)
        error = nft_text(module, nft, after, check_only=True, directory=os.path.dirname(config))
        if error:
            module.fail_json(msg="persist_config: %s would not pass `nft -c -f` without the line %s, so nothing "
                             "was changed: %s" % (config, include, error), diff=diff)
    result.update(changed=True, diff=diff)
    if module.check_mode:
        module.exit_json(**result)
    if live is not None:
        module.run_command([nft, "delete", "table", family, table], check_rc=True)
        result["reloaded"] = True
    if before != after:
        replace_config(module, config, after)
    for name in leftovers:
        os.unlink(name)
    if before is not None:
        error = run_nft_file(module, nft, config, check_only=True)
        if error:
            module.fail_json(msg="persist_config: %s does not pass `nft -c -f` now that table %s %s and %s are "
                             "removed (does it still refer to them?): %s" % (config, family, table, path, error),
                             **result)
    module.exit_json(**result)


def apply(module, nft, live, include):
    params = module.params
    family, table, path, config = params["family"], params["table"], params["path"], params["persist_config"]
    content = params["content"]
    result = dict(changed=False, token="", reloaded=False)
    before, after = config_change(module, config, include, present=True)
    table_current = _read(path) == content and live is not None and live == _read(path + ".live")
    if table_current and before == after:
        module.exit_json(**result)

    diff = {}
    if not table_current:
        diff.update(before=live or "", after=content, before_header="live table %s %s" % (family, table),
                    after_header=path)
        error = nft_text(module, nft, content, check_only=True)
        if error:
            module.fail_json(msg="nft validation failed: %s" % error)
    if before != after:
        diff["prepared"] = config_diff(config, before, after)
    result.update(changed=True, diff=diff)
    if module.check_mode:
        module.exit_json(**result)

    if not table_current:
        if params["rollback_timeout"] > 0:
            result["token"] = start_guard(module, nft, family, table, live, params["rollback_timeout"],
                                          params["guard_dir"], path)
        error = nft_text(module, nft, content, check_only=False)
        if error:
            if result["token"]:
                cancel_guard(params["guard_dir"], result["token"])
            module.fail_json(msg="nft load failed: %s" % error)
        _write(path, content)
        _write(path + ".live", live_table(module, nft, family, table) or "")
        result["reloaded"] = True
    if before != after:
        replace_config(module, config, after)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            content=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "confirmed", "absent"]),
            family=dict(type="str", default="inet"),
            table=dict(type="str", default="safeq_hardening"),
            path=dict(type="path", default="/etc/safeq_hardening/ruleset.nft"),
            persist_config=dict(type="path", default="/etc/nftables.conf"),
            rollback_timeout=dict(type="int", default=0),
            token=dict(type="str", no_log=False),
            guard_dir=dict(type="path", default=GUARD_DIR),
            # handled by the action on the controller; ignored here
            guard_probe_host=dict(type="str", default=""),
            guard_probe_port=dict(type="int", default=22),
            guard_probe_timeout=dict(type="int", default=15),
        ),
        required_if=[("state", "present", ["content"]), ("state", "confirmed", ["token"])],
        supports_check_mode=True,
    )
    params = module.params
    family, table, path = params["family"], params["table"], params["path"]
    if not re.match(r"^[A-Za-z0-9_]+$", table) or family not in FAMILIES:
        module.fail_json(msg="family/table: %r %r is not a valid nftables table" % (family, table))
    if params["persist_config"] and not re.match(r'^/[^"\n]*$', path):
        module.fail_json(msg="path: %r cannot be included by persist_config (absolute, no quote or newline)" % path)
    if params["state"] == "present":
        try:
            statements = check_table_script(params["content"], family, table)
        except NftScriptError as error:
            module.fail_json(msg="content: %s" % error)
        if not any(statement.action == "define" for statement in statements):
            module.fail_json(msg="content: the script does not define table %s %s" % (family, table))

    nft = module.get_bin_path("nft", required=True)
    if params["state"] == "confirmed":
        confirm(module, params["guard_dir"], params["token"])
    live = live_table(module, nft, family, table)
    include = 'include "%s"' % path
    if params["state"] == "absent":
        remove(module, nft, live, include)
    apply(module, nft, live, include)


if __name__ == "__main__":
    main()
