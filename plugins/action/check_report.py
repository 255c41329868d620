# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side implementation of safeq.hardening.check_report."""

from __future__ import annotations

import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.safeq.hardening.plugins.action.policy_plan import output_base
from ansible_collections.safeq.hardening.plugins.modules.check_report import DOCUMENTATION
from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import write_files
from ansible_collections.safeq.hardening.plugins.plugin_utils.verify import verify_report_files


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        try:
            args = validate_arguments(DOCUMENTATION, self._task.args, "check_report")
            generated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            report, files, stats = verify_report_files(args["hosts"], args["results"], generated)
        except ValueError as exc:
            return dict(result, failed=True, msg=str(exc))
        directory = os.path.join(output_base(args["output_dir"]), "verify")
        written = {"written": [], "unchanged": 0, "removed": []}
        if not self._play_context.check_mode:
            try:
                written = write_files(directory, files)
            except OSError as exc:
                return dict(result, failed=True, msg="check_report: cannot write %s: %s" % (directory, exc))
        result.update(changed=bool(written["written"] or written["removed"]), summary=report["summary"],
                      stats=stats, report_dir=directory, files=written)
        return result
