# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: count the module runs each host makes, per module, and the changed ones.

Enabled by scripts/bench (ANSIBLE_CALLBACK_PLUGINS=scripts/bench/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=bench_count); writes JSON to the file named by BENCH_COUNT_FILE at the
end of the run. A module run on a host is one execution of a task (one per loop item) that is
neither skipped, nor delegated to another host, nor an action that runs on the controller only.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_count
type: aggregate
short_description: count module runs per host (scripts/bench)
description: Counts module runs per host and module; writes JSON to BENCH_COUNT_FILE.
"""

# Actions that never run a module on the target host.
CONTROLLER_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("set_fact", "debug", "assert", "fail", "include_tasks", "import_tasks", "include_role",
                 "import_role", "meta", "set_stats", "add_host", "group_by", "include_vars", "pause",
                 "validate_argument_spec")
) | frozenset(("safeq.hardening.policy_plan", "safeq.hardening.port_catalog_info"))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.hosts = {}

    def _record(self, result, status):
        task = result._task  # pylint: disable=protected-access
        host = result._host.get_name()  # pylint: disable=protected-access
        entry = self.hosts.setdefault(host, {"module_runs": 0, "changed": 0, "by_module": {}, "controller": 0,
                                             "failed": 0})
        delegated = task.delegate_to not in (None, "", host)
        if task.action in CONTROLLER_ACTIONS or delegated:
            entry["controller"] += 1
            return
        entry["module_runs"] += 1
        entry["by_module"][task.action] = entry["by_module"].get(task.action, 0) + 1
        if result._result.get("changed"):  # pylint: disable=protected-access
            entry["changed"] += 1
        if status == "failed":
            entry["failed"] += 1

    def _task_result(self, result, status):
        if result._task.loop is not None and "results" in result._result:  # pylint: disable=protected-access
            return  # a loop: each item was counted
        self._record(result, status)

    def v2_runner_on_ok(self, result):
        self._task_result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task_result(result, "failed")

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_COUNT_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"hosts": self.hosts}, handle, indent=1, sort_keys=True)
