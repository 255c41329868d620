# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: port_catalog
author: SafeQ Hardening Maintainers (@safeq-hardening)
version_added: 0.1.0
short_description: Read the SafeQ 5 port catalog
description:
  - Returns the entries of the collection's port catalog (C(catalog/port_catalog.yml)), the single
    source of truth for every port of the YSoft SafeQ 5 network communication overview.
  - With O(query), returns the result of a JMESPath expression over the list of entries.
options:
  query:
    description: JMESPath expression evaluated over the list of entries.
    type: str
  catalog_path:
    description: Path of an alternative catalog file (validated against the same schema).
    type: path
requirements:
  - jmespath (only for O(query))
notes:
  - Use C(wantlist=True) or C(query()) to get the entries as a list.
"""

EXAMPLES = r"""
- name: All entries
  ansible.builtin.debug:
    msg: "{{ lookup('safeq.hardening.port_catalog', wantlist=True) | length }}"

- name: JMX ports of CML
  ansible.builtin.debug:
    msg: "{{ lookup('safeq.hardening.port_catalog', query=\"[?contains(components, 'cml') && hardening=='local_only'].ports[]\") }}"
"""

RETURN = r"""
_raw:
  description: The catalog entries (list of dicts), or the JMESPath result when O(query) is given.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError, load_catalog, query


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if terms:
            raise AnsibleLookupError("port_catalog: takes no positional terms, use query=")
        try:
            entries = load_catalog(self.get_option("catalog_path")).entries
            expression = self.get_option("query")
            result = query(entries, expression) if expression else entries
        except (CatalogError, OSError) as exc:
            raise AnsibleLookupError("port_catalog: %s" % exc)
        if result is None:
            return []
        return result if isinstance(result, list) else [result]
