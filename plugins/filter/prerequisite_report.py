# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter safeq.hardening.prerequisite_report: render prerequisite results as JSON, JUnit XML, Markdown or stats."""

from __future__ import annotations

DOCUMENTATION = r"""
name: prerequisite_report
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Render SafeQ prerequisite results as JSON, JUnit XML, Markdown or AWX stats
description:
  - Renders a run report (from C(safeq.hardening.prerequisite_run_report)) or the result list of
    one host (from C(safeq.hardening.prerequisite_evaluate)).
  - JUnit - one testsuite per host, one testcase per check; C(fail) is a failure (type mandatory or
    recommended); C(not_applicable) is skipped; C(manual) is not skipped - the testcase carries
    the properties C(status=manual), C(question), C(answered_by) and its name starts with C([MANUAL]);
    C(warn) carries C(status=warn).
options:
  _input:
    description: A run report, or the result list of one host.
    type: raw
    required: true
  format:
    description:
      - C(json), C(junit) or C(markdown) return the text.
      - C(stats) returns a small dict for M(ansible.builtin.set_stats).
      - C(files) returns a dict of file name to text - C(prerequisites.json), C(.xml), C(.md) for the whole
        run and C(<host>.json), C(.xml), C(.md) for every host, in the formats of O(formats).
    type: str
    choices: [json, junit, markdown, stats, files]
    default: json
  formats:
    description: Formats written by C(format=files).
    type: list
    elements: str
    choices: [json, junit, markdown]
    default: [json, junit, markdown]
  host:
    description: With a run report, render only this host (its results, no run-level part).
    type: str
  generated:
    description: Timestamp written into a report built from a result list.
    type: str
"""

EXAMPLES = r"""
- name: Write every report file in one loop
  ansible.builtin.copy:
    content: "{{ item.value }}"
    dest: "output/prerequisites/{{ item.key }}"
    mode: "0644"
  loop: "{{ __prerequisites_report | safeq.hardening.prerequisite_report('files') | dict2items }}"
  loop_control:
    label: "{{ item.key }}"
  delegate_to: localhost
  run_once: true

- name: Write the JUnit file of the run
  ansible.builtin.copy:
    content: "{{ __prerequisites_report | safeq.hardening.prerequisite_report('junit') }}"
    dest: output/prerequisites/prerequisites.xml
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The rendered text (a dict for C(stats)).
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils import report as R
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import run_report


def _report(data, host, generated):
    if isinstance(data, list):
        name = host or (data[0]["host"] if data else "unknown")
        return R.host_report(name, list(data), generated, run_report.SCHEMA)
    report = R.as_report(data)
    if host:
        if host not in report["hosts"]:
            raise R.ReportError("host %r is not in the report" % host)
        return R.host_report(host, report["hosts"][host]["results"], report.get("generated"), report["schema"])
    return report


def prerequisite_report(data, format="json", host=None, generated=None, formats=None):  # noqa: A002 - the option name users write
    try:
        arguments = {"_input": data, "format": format, "host": host, "generated": generated}
        if formats is not None:
            arguments["formats"] = formats
        args = validate_arguments(DOCUMENTATION, arguments, "prerequisite_report")
        report = _report(args["_input"], args["host"], args["generated"])
        if args["format"] == "stats":
            return R.stats_summary(report)
        if args["format"] == "files":
            return run_report.files(report, args["formats"])
        return R.render(report, args["format"], run_report.TITLE)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise AnsibleFilterError("safeq.hardening.prerequisite_report: %s" % exc)


class FilterModule:
    def filters(self):
        return {"prerequisite_report": prerequisite_report}
