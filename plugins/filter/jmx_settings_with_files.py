# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: jmx_settings_with_files
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Give JMX settings kept in configuration files the path found on the host
description:
  - Takes the result of P(safeq.hardening.jmx_settings#filter) and the C(files) found by
    M(ansible.windows.win_find) and sets each file setting's C(path) (and C(instruction)) to the first
    found file whose name is the setting's location (C(cmldb-cluster.conf), C(crs.conf)).
  - A setting whose file was not found keeps C(path) null, so the role reports it as a finding.
options:
  _input:
    description: The JMX settings.
    type: list
    elements: dict
    required: true
  found:
    description: The C(files) list of M(ansible.windows.win_find).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Settings with the files found below the install folders
  ansible.builtin.set_fact:
    jmx: "{{ jmx | safeq.hardening.jmx_settings_with_files(found.files) }}"
"""

RETURN = r"""
_value:
  description: The settings, with C(path) set where a file was found.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.jmx import attach_found_files


def jmx_settings_with_files(settings, found):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": settings, "found": found}, "jmx_settings_with_files")
        return attach_found_files(args["_input"], args["found"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.jmx_settings_with_files: %s" % exc)


class FilterModule:
    def filters(self):
        return {"jmx_settings_with_files": jmx_settings_with_files}
