# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JMX binding: which interface properties a host must set to 127.0.0.1, and where (both platforms)."""

from __future__ import annotations

JMX_INTERFACE = "127.0.0.1"
CONF_FILE_LOCATIONS = ("cmldb-cluster.conf", "crs.conf")


def jmx_interface_settings(components, entries, files=None, component=None):
    """JMX interface properties to bind to 127.0.0.1 on a host with ``components``.

    From catalog ``entries`` with hardening (local_only/self_only) and a setting that controls the
    interface. Returns a sorted list of ``{property, location, value, catalog_ids, path, instruction}``;
    ``path`` is ``files[location]`` for configuration files (None for system settings and for files
    without a path), ``instruction`` a sentence for the report. With ``component``, only the settings
    of that component (component roles each own theirs).
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
            if component is not None and setting.get("component") not in (None, component):
                continue
            if component is not None and setting.get("component") is None and component not in entry["components"]:
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


def _instruction(prop, where, ids):
    return "set %s=%s in %s (catalog: %s)" % (prop, JMX_INTERFACE, where, ", ".join(ids))


def attach_found_files(settings, found):
    """Give settings kept in configuration files the path of the file found on the host.

    ``found`` is the ``files`` list of ansible.windows.win_find (dicts with ``path`` and ``filename``);
    the first file whose name matches the setting's location (case-insensitive) is used.
    """
    by_name = {}
    for item in found or []:
        name = str(item.get("filename") or "").lower()
        if name and item.get("path") and name not in by_name:
            by_name[name] = item["path"]
    result = []
    for setting in settings or []:
        setting = dict(setting)
        if setting.get("location") in CONF_FILE_LOCATIONS and not setting.get("path"):
            path = by_name.get(setting["location"].lower())
            if path:
                setting["path"] = path
                setting["instruction"] = _instruction(setting["property"], path, setting["catalog_ids"])
        result.append(setting)
    return result


def windows_install_dirs(service_results, roots=None, levels=2):
    """Folders to search for configuration files: each service's install folder, then ``roots``.

    ``service_results`` are registered results of ansible.windows.win_service_info (each with
    ``services``, each with ``path``: the executable, quoted or not, maybe with arguments). The
    install folder is the executable's folder ``levels`` levels up (``...\\Management\\bin\\x.exe`` ->
    ``...\\Management``'s parent with 2), never above the drive root.
    """
    import ntpath

    dirs = []
    for result in service_results or []:
        for service in (result or {}).get("services") or []:
            path = str(service.get("path") or "").strip()
            if not path:
                continue
            exe = path[1:path.index('"', 1)] if path.startswith('"') and '"' in path[1:] else path.split(" -", 1)[0].split(" //", 1)[0]
            folder = ntpath.dirname(exe)
            for _level in range(levels):
                parent = ntpath.dirname(folder)
                if not parent or parent == folder or len(parent) <= 3:
                    break
                folder = parent
            if folder and folder not in dirs:
                dirs.append(folder)
    for root in roots or []:
        if root and root not in dirs:
            dirs.append(root)
    return dirs
