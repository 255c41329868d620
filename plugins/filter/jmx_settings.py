# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: jmx_settings
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: JMX interface properties to bind to 127.0.0.1 on one SafeQ host, from the port catalog
description:
  - For the host's components, lists every catalog setting that controls the network interface of a
    hardened (local-only) JMX port, with the value C(127.0.0.1).
  - Settings kept in C(cmldb-cluster.conf) or C(crs.conf) get the file path from O(files); settings kept
    in SafeQ system settings (for example C(cmlJmxNetworkInterface)) get C(path=None) and are only
    reported.
options:
  _input:
    description: One host's policy (its C(components) are used).
    type: dict
    required: true
  component:
    description: Only the settings of this component (the component roles each own theirs).
    type: str
    choices: [cml, ors, crs, ap_connector, etcd]
  files:
    description: Configuration file name (C(cmldb-cluster.conf), C(crs.conf)) to its path on the host.
    type: dict
    default: {}
  catalog_path:
    description: Alternative catalog file.
    type: path
"""

EXAMPLES = r"""
- name: JMX settings of this host
  ansible.builtin.set_fact:
    firewall_windows_jmx: >-
      {{ firewall_policy
         | safeq.hardening.jmx_settings(files={'crs.conf': firewall_windows_crs_conf}) }}
"""

RETURN = r"""
_value:
  description: Sorted list of C({property, location, value, catalog_ids, path, instruction}).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, load_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.jmx import jmx_interface_settings


def jmx_settings(policy, files=None, catalog_path=None, component=None):
    try:
        args = validate_arguments(DOCUMENTATION, {"_input": policy, "files": files or {}, "component": component,
                                                  "catalog_path": catalog_path}, "jmx_settings")
        components = args["_input"].get("components")
        if not isinstance(components, list):
            raise ValueError("_input.components: must be a list, got %r" % (components,))
        return jmx_interface_settings(components, load_catalog(args["catalog_path"]).entries, args["files"],
                                      component=args["component"])
    except (ValueError, CatalogError, OSError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("safeq.hardening.jmx_settings: %s" % exc)


class FilterModule:
    def filters(self):
        return {"jmx_settings": jmx_settings}
