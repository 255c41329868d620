# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side implementation of safeq.hardening.policy_plan."""

from __future__ import annotations

import gc
import os

from ansible.plugins.action import ActionBase

from ansible_collections.safeq.hardening.plugins.modules.policy_plan import DOCUMENTATION
from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import (
    compute_plan,
    iter_plan_files,
    plan_files,
    write_files,
)

RUNNER_ARTIFACT_ENV = "AWX_ISOLATED_DATA_DIR"


def output_base(value):
    """The base output directory, absolute: the option, else the ansible-runner artifact dir, else ./output."""
    if not value:
        value = os.environ.get(RUNNER_ARTIFACT_ENV) or "output"
    return os.path.abspath(os.path.expanduser(value))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        # The plan allocates many objects and keeps them to the end of the task, in a worker that also
        # carries the whole inventory: the cyclic collector would walk both again and again while the
        # plan builds up (seconds at 2,000 hosts) and find nothing, as the plan's data has no cycles
        # (reference counting frees it). It is switched back on when the task ends.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(tmp, task_vars)
        finally:
            if enabled:
                gc.enable()

    def _run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        try:
            args = validate_arguments(DOCUMENTATION, self._task.args, "policy_plan")
            plan = compute_plan(task_vars.get("groups") or {}, task_vars.get("hostvars") or {},
                                catalog_path=args["catalog_path"], render_options=args["render"])
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        wanted = [h for h in args["hosts"] if h in plan["policies"]]
        result.update(
            changed=False,
            summary=plan["summary"],
            warnings_list=plan["warnings"],
            unresolved=plan["unresolved"],
            policies={h: plan["policies"][h] for h in wanted},
            rendered={h: plan["rendered"][h] for h in wanted},
        )
        if wanted:
            result["topology"] = dict(plan["topology_view"], hosts={h: plan["topology_view"]["hosts"][h] for h in wanted})
        if args["write"]:
            directory = os.path.join(output_base(args["output_dir"]), "plan")
            if self._play_context.check_mode:
                plan_files(plan, args["flow_detail"], host_files=args["host_files"])  # made as in a real run (renders are checked), not written
                result.update(plan_dir=directory, files={"written": [], "unchanged": 0, "removed": []})
            else:
                try:
                    # streamed (each file is stored while the next one is made), the reports made meanwhile
                    # by a forked process
                    written = write_files(directory, iter_plan_files(plan, args["flow_detail"], parallel=True,
                                                                     host_files=args["host_files"]))
                except OSError as exc:
                    return dict(result, failed=True, msg="policy_plan: cannot write %s: %s" % (directory, exc))
                result.update(plan_dir=directory, files=written,
                              changed=bool(written["written"] or written["removed"]))
        return result
