# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JMX binding: which interface properties a host must set to 127.0.0.1, and where (both platforms)."""

from __future__ import annotations

JMX_INTERFACE = "127.0.0.1"
CONF_FILE_LOCATIONS = ("cmldb-cluster.conf", "crs.conf")


def jmx_interface_settings(components, entries, files=None):
    """JMX interface properties to bind to 127.0.0.1 on a host with ``components``.

    From catalog ``entries`` with hardening (local_only/self_only) and a setting that controls the
    interface. Returns a sorted list of ``{property, location, value, catalog_ids, path, instruction}``;
    ``path`` is ``files[location]`` for configuration files (None for system settings and for files
    without a path), ``instruction`` a sentence for the report.
    """
    components = set(components or [])
    files = files or {}
    found = {}
    for entry in entries or []:
        if not entry.get("hardening") or not set(entry.get("components") or []) & components:
            continue
        for setting in entry.get("settings") or []:
            if setting.get("controls") != "interface":
                continue
            if setting.get("component") is not None and setting["component"] not in components:
                continue
            key = (setting["location"], setting["property"])
            found.setdefault(key, set()).add(entry["id"])
    result = []
    for (location, prop), ids in sorted(found.items()):
        path = files.get(location) if location in CONF_FILE_LOCATIONS else None
        where = "SafeQ system settings" if location == "system_settings" else (path or location)
        result.append({
            "property": prop,
            "location": location,
            "value": JMX_INTERFACE,
            "catalog_ids": sorted(ids),
            "path": path,
            "instruction": "set %s=%s in %s (catalog: %s)" % (prop, JMX_INTERFACE, where, ", ".join(sorted(ids))),
        })
    return result
