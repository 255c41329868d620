# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side implementation of safeq.hardening.port_catalog_info."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.safeq.hardening.plugins.modules.port_catalog_info import DOCUMENTATION
from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, load_catalog, query


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        try:
            args = validate_arguments(DOCUMENTATION, self._task.args, "port_catalog_info")
            entries = load_catalog().entries
        except (ValueError, CatalogError) as exc:
            return dict(result, failed=True, msg=str(exc))
        if args["ids"]:
            entries = [e for e in entries if e["id"] in args["ids"]]
        if args["components"]:
            entries = [e for e in entries if set(e["components"]) & set(args["components"])]
        if args["section"]:
            entries = [e for e in entries if e["section"] == args["section"]]
        result.update(changed=False, entries=entries, count=len(entries))
        if args["query"]:
            try:
                result["result"] = query(entries, args["query"])
            except CatalogError as exc:
                return dict(result, failed=True, msg=str(exc))
        return result
