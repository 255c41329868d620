# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: windows_install_dirs
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Install folders of SafeQ Windows services, from their executable paths
description:
  - Takes registered results of M(ansible.windows.win_service_info) and returns, for each service, the
    folder two levels above its executable (for example C(C:\SafeQ5\Management\bin\x.exe) gives
    C(C:\SafeQ5)), never above the drive root, followed by O(roots); without duplicates.
  - The component roles search their configuration files (C(cmldb-cluster.conf), C(crs.conf)) there.
options:
  _input:
    description: The C(results) of a looped M(ansible.windows.win_service_info) task.
    type: list
    elements: dict
    required: true
  roots:
    description: Extra folders to search.
    type: list
    elements: str
    default: []
  levels:
    description: How many folders above the executable's folder the install folder is.
    type: int
    default: 2
"""

EXAMPLES = r"""
- name: Folders to search for the configuration files
  ansible.builtin.set_fact:
    search: "{{ services.results | safeq.hardening.windows_install_dirs(['C:\\SafeQ5']) }}"
"""

RETURN = r"""
_value:
  description: Folders, services' install folders first.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.jmx import windows_install_dirs as install_dirs


def windows_install_dirs(results, roots=None, levels=2):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": results, "roots": roots or [], "levels": levels},
                                  "windows_install_dirs")
        return install_dirs(args["_input"], args["roots"], args["levels"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("safeq.hardening.windows_install_dirs: %s" % exc)


class FilterModule:
    def filters(self):
        return {"windows_install_dirs": windows_install_dirs}
