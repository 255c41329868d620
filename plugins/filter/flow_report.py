# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: flow_report
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Render the SafeQ flow matrix for a network team
description:
  - Renders the C(flows) of C(host_policies) as JSON, CSV, Markdown or a Mermaid flowchart.
options:
  _input:
    description: The flow list.
    type: list
    elements: dict
    required: true
  format:
    description: Output format.
    type: str
    choices: [json, csv, md, mmd]
    default: json
"""

EXAMPLES = r"""
- name: Write the CSV for a change request
  ansible.builtin.copy:
    content: "{{ safeq_plan.flows | safeq.hardening.flow_report('csv') }}"
    dest: output/flows.csv
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The rendered text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_flows import RENDERERS


def flow_report(flows, format="json"):  # noqa: A002 - the option name users write
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": flows, "format": format}, "flow_report")
        return RENDERERS["flows." + args["format"]](args["_input"])
    except (ValueError, KeyError) as exc:
        raise AnsibleFilterError("safeq.hardening.flow_report: %s" % exc)


class FilterModule:
    def filters(self):
        return {"flow_report": flow_report}
