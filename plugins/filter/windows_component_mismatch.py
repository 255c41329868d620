# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: windows_component_mismatch
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Where inventory components and installed YSoft SafeQ Windows services disagree
description:
  - Compares the C(services) list of M(ansible.windows.win_service_info) with the host's SafeQ components
    from the inventory and returns one message per disagreement (empty list when they agree).
  - A component whose main service (C(cml) YSoftSafeQCML, C(ors) YSoftSafeQORS, C(etcd) YSoftEtcd) is
    missing or not running is reported, and so is an installed SafeQ service that belongs to none of
    the host's components. C(crs) and C(ap_connector) have no known service and are not checked.
options:
  _input:
    description: The C(services) list returned by M(ansible.windows.win_service_info).
    type: list
    elements: dict
    required: true
  components:
    description: The host's SafeQ components (C(firewall_policy.components)).
    type: list
    elements: str
    required: true
  service_components:
    description:
      - Service name to the components that install it. Defaults to the built-in table
        (YSoftSafeQCML, YSoftSafeQCMLDBS, YSoftSafeQLDAPReplicator -> cml; YSoftSafeQORS -> ors;
        YSoftSafeQTerminalServer, YSoftWeb -> cml or ors; YSoftEtcd -> etcd).
    type: dict
"""

EXAMPLES = r"""
- name: Compare services and inventory
  ansible.builtin.set_fact:
    firewall_windows_mismatch: >-
      {{ firewall_windows_services.services
         | safeq.hardening.windows_component_mismatch(firewall_policy.components) }}
"""

RETURN = r"""
_value:
  description: Messages, one per disagreement; empty when services and inventory agree.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import component_mismatches


def windows_component_mismatch(services, components, service_components=None):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": services or [], "components": components,
                                                  "service_components": service_components},
                                  "windows_component_mismatch")
        return component_mismatches(args["_input"], args["components"], args["service_components"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.windows_component_mismatch: %s" % exc)


class FilterModule:
    def filters(self):
        return {"windows_component_mismatch": windows_component_mismatch}
