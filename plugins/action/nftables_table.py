# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of safeq.hardening.nftables_table: runs the module, then (with guard_probe_host)
probes the management port from the controller and confirms a guarded change in the same task."""

from __future__ import annotations

import re
import shlex
import socket
import time

from ansible.plugins.action import ActionBase

from ansible_collections.safeq.hardening.plugins.modules.nftables_table import GUARD_DIR, TOKEN, pending_marker

PROBE_OPTIONS = ("guard_probe_host", "guard_probe_port", "guard_probe_timeout")
# A host name or an IPv4/IPv6 address; nothing a shell or socket would read differently.
PROBE_HOST = re.compile(r"^[A-Za-z0-9_.:-]{1,253}$")
PROBE_ATTEMPT_SECONDS = 2.0
PROBE_PAUSE_SECONDS = 0.25


def probe(host, port, timeout, clock=time.monotonic, sleep=time.sleep, connect=socket.create_connection):
    """(reached, seconds): TCP connect attempts to host:port, a pause apart, until ``timeout`` seconds have passed."""
    start = clock()
    deadline = start + max(timeout, 0)
    while True:
        try:
            connection = connect((host, port), timeout=max(min(PROBE_ATTEMPT_SECONDS, deadline - clock()), 0.1))
        except OSError:
            remaining = deadline - clock()
            if remaining <= 0:
                return False, round(clock() - start, 3)
            sleep(min(PROBE_PAUSE_SECONDS, remaining))
            continue
        connection.close()
        return True, round(clock() - start, 3)


def probe_arguments(args):
    """The probe options, validated; raises ValueError naming the option and value."""
    host = args.get("guard_probe_host") or ""
    if not isinstance(host, str) or (host and not PROBE_HOST.match(host)):
        raise ValueError("guard_probe_host: %r is not a host name or address" % (host,))
    values = {"guard_probe_host": host}
    for name, default, low, high in (("guard_probe_port", 22, 1, 65535), ("guard_probe_timeout", 15, 0, 3600)):
        value = args.get(name, default)
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, bool) or str(number) != str(value).strip() or not low <= number <= high:
            raise ValueError("%s: %r is not an integer from %d to %d" % (name, value, low, high))
        values[name] = number
    return values


def confirm_command(guard_dir, token):
    """The one fixed command that confirms ``token``: rm succeeds only while the change is still pending."""
    if not TOKEN.match(token or ""):
        raise ValueError("token: %r is not a rollback token" % (token,))
    if not isinstance(guard_dir, str) or not guard_dir.startswith("/") or "\n" in guard_dir:
        raise ValueError("guard_dir: %r is not an absolute path" % (guard_dir,))
    return "rm %s" % shlex.quote(pending_marker(guard_dir, token))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        try:
            guard = probe_arguments(args)
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        module_args = dict((k, v) for k, v in args.items() if k not in PROBE_OPTIONS)
        result.update(self._execute_module(module_args=module_args, task_vars=task_vars))
        token = result.get("token") or ""
        if result.get("failed") or not token or not guard["guard_probe_host"] or self._task.check_mode:
            return result

        host, port = guard["guard_probe_host"], guard["guard_probe_port"]
        reached, seconds = probe(host, port, guard["guard_probe_timeout"])
        result.update(confirmed=False, probe_seconds=seconds)
        if not reached:
            result.update(failed=True, msg=(
                "The controller could not reach %s:%d within %d s after the change. The change is not confirmed; "
                "the host restores its previous table within %s s. Check safeq_controller_address and "
                "safeq_management_networks." % (host, port, guard["guard_probe_timeout"], args.get("rollback_timeout"))))
            return result
        try:
            command = confirm_command(module_args.get("guard_dir") or GUARD_DIR, token)
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        outcome = self._low_level_execute_command(command, sudoable=True)
        if outcome.get("rc") != 0:
            result.update(failed=True, msg=(
                "change %s was not confirmed in time: the host had already started restoring the previous table "
                "(%s s rollback timeout; the probe took %s s)" % (token, args.get("rollback_timeout"), seconds)))
            return result
        result["confirmed"] = True
        return result
