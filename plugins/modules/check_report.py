#!/usr/bin/python
# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: check_report
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Write the report of a verify run (JSON, JUnit XML, Markdown, HTML) in one pass
description:
  - Collects the check results of every host of the run (hosts without results, e.g. unreachable, get a
    failed C(VERIFY-CONNECT) result), and writes one report for the run and one per host under
    C(<output_dir>/verify) - JSON, JUnit XML (one test case per host and check), Markdown and a
    self-contained HTML page (summary first, failures first). Unchanged files are kept; files of an
    earlier run that this run does not write are removed.
  - Runs on the controller through its action plugin.
options:
  hosts:
    description: Every host the run was about.
    type: list
    elements: str
    required: true
  results:
    description: Host -> its check results (C(verify_host_results)).
    type: dict
    required: true
  output_dir:
    description:
      - Base output directory; files go to its C(verify) subdirectory. Default is the ansible-runner
        artifact directory (C(AWX_ISOLATED_DATA_DIR)) under AWX or ansible-runner, else C(./output).
    type: path
attributes:
  action:
    description: Runs on the controller through its action plugin.
    support: full
  check_mode:
    description: Reports without writing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  platform:
    description: Controller only.
    platforms: all
    support: full
"""

EXAMPLES = r"""
- name: Write the verify report
  safeq.hardening.check_report:
    hosts: "{{ groups['safeq_cml'] }}"
    results: "{{ dict(groups['safeq_cml'] | zip(groups['safeq_cml'] | map('extract', hostvars, 'verify_host_results'))) }}"
  register: report
"""

RETURN = r"""
summary:
  description: Counts by status (pass, warn, fail, ...) and C(result).
  returned: always
  type: dict
stats:
  description: The small summary for set_stats.
  returned: always
  type: dict
report_dir:
  description: Where the files are.
  returned: always
  type: str
files:
  description: C(written), C(unchanged) and C(removed) files.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    # The work is done by the action plugin of the same name on the controller.
    module = AnsibleModule(argument_spec=dict(
        hosts=dict(type="list", elements="str", required=True),
        results=dict(type="dict", required=True),
        output_dir=dict(type="path"),
    ), supports_check_mode=True)
    module.fail_json(msg="safeq.hardening.check_report runs through its action plugin on the controller")


if __name__ == "__main__":
    main()
