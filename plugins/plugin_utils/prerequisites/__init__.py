# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SafeQ CML pre-installation checklist: data, decisions and run report, one concern per module.

* ``checklist``   loads and validates catalog/checklist.yml (the checklist lines and every check).
* ``registry``    check functions registered by check id (``@check("PRE-WEB-80")``).
* ``gathered``    helpers over the registered results the role gathers on a host.
* ``commands``    the fixed read-only commands the role runs and the parsers of their output.
* ``plan_view``   what the checks read from the validated plan (safeq.hardening.policy_plan).
* ``context``     the evaluation of one host: settings, plan view, gathered data, result builders.
* ``checks_*``    the check functions (hardware, system, software, network, ldap, run).
* ``evaluation``  runs the registered checks of one host, and the run-level checks.
* ``run_report``  the whole-run report (plugins/plugin_utils/report.py renders it).
* ``secrets``     finds role secrets Ansible could not template, without templating them into output.
* ``docs``        the checklist mapping table of the documentation.

Nothing here reads the inventory: components, features, clusters, addresses and expected
listeners come from the plan.
"""
