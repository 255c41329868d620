# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole-run prerequisites report: every host's results plus the run-level results.

The document is plugins/plugin_utils/report.py's run report with the schema
``safeq.hardening.prerequisites/v1``; report.py renders it as JSON, JUnit XML and Markdown.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.plugin_utils import report
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.evaluation import evaluate_run

SCHEMA = "safeq.hardening.prerequisites/v1"
TITLE = "SafeQ pre-installation checklist"
RUN_NAME = "prerequisites"


def host_results_from(hostvars, hosts, results_var):
    """{host: results} of the hosts that have ``results_var`` (hostvars may be Ansible's HostVars)."""
    found = {}
    for host in hosts:
        try:
            variables = hostvars[host]
            results = variables.get(results_var) if hasattr(variables, "get") else variables[results_var]
        except KeyError:
            results = None
        if results is not None:
            found[host] = list(results)
    return found


def build(host_results, plan, hosts, generated=None, mandatory=None):
    """The run report of ``hosts`` (the play's hosts) from their results and the plan."""
    run_results = evaluate_run(plan, host_results, hosts, mandatory)
    return report.build_run_report(host_results, run_results, generated, SCHEMA)


def files(run_report, formats=report.FORMATS):
    """{file name: text}: prerequisites.<ext> for the run and <host>.<ext> for every host."""
    return report.report_files(run_report, formats, RUN_NAME, TITLE)
