# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge what a host really does (its listening sockets) against what the catalog expects.

``judge_listeners(records, expected, ...)`` is generic: the prerequisites role uses it for
port conflicts, the firewall roles for the JMX/RMI binding check.

Inputs
------
``records``: listener records from ``module_utils/listeners.py``
(``{protocol, family, address, port, pid, process}``; see ``normalize_records``).

``expected``: a list of ``{port, protocol, bind, catalog_id, settings}`` where ``port`` is an
int or an ``"a-b"`` range string (``ports``, a list of those, is accepted too), ``bind`` is the
catalog bind (``localhost`` or ``any``) and ``settings`` the catalog settings of the entry
(``{property, location, controls, component}``).

Findings
--------
One dict per problem (or per expected port for ``not_listening``)::

    {"kind": "exposed"|"conflict"|"unknown_owner"|"not_listening",
     "status": "fail"|"warn"|"info",
     "protocol": "tcp", "port": 19898, "address": "0.0.0.0", "pid": 1234, "process": "java",
     "catalog_ids": ["ws-jmx-cml-19898"], "properties": ["cmlJmxNetworkInterface"],
     "message": "..."}

* ``exposed`` (fail): the catalog binds the port to localhost but the socket is bound to a
  non-loopback address (``0.0.0.0``, ``::``, a LAN address). ``properties`` names the vendor
  setting(s) that control the binding interface (``controls: interface``), filtered by the
  host ``components`` when given; the message says to set it to 127.0.0.1.
* ``conflict`` (fail): only when ``owner_patterns`` is given. Before installation
  (``installed=False``) any listener on an expected port is a conflict; after installation a
  listener whose process matches none of ``owner_patterns`` (regular expressions, searched
  case-insensitively in the process name) is a conflict.
* ``unknown_owner`` (warn): after installation, the owning process could not be read.
* ``not_listening`` (info): only with ``report_missing=True``; nothing listens on the port.

A conflicting socket is reported as a conflict only (not also as exposed).
"""

from __future__ import annotations

import re

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import is_loopback, normalize_records

KIND_STATUS = {"exposed": "fail", "conflict": "fail", "unknown_owner": "warn", "not_listening": "info"}


class EvaluateError(ValueError):
    """Expected-listener input that is not in the documented shape."""


def _port_range(value, where):
    if isinstance(value, bool):
        raise EvaluateError("%s: %r is not a port" % (where, value))
    if isinstance(value, int):
        return value, value
    text = str(value).strip()
    if text.isdigit():
        return int(text), int(text)
    match = re.match(r"^(\d+)-(\d+)$", text)
    if match:
        low, high = int(match.group(1)), int(match.group(2))
        if low <= high:
            return low, high
    raise EvaluateError("%s: %r is not a port or an 'a-b' range" % (where, value))


def _expected_items(expected):
    items = []
    for index, item in enumerate(expected or []):
        where = "expected[%d]" % index
        if not isinstance(item, dict):
            raise EvaluateError("%s: must be a mapping" % where)
        ports = item.get("ports") if item.get("port") is None else [item["port"]]
        if not ports:
            raise EvaluateError("%s: needs port (or ports)" % where)
        protocol = str(item.get("protocol", "tcp")).lower()
        if protocol not in ("tcp", "udp"):
            raise EvaluateError("%s.protocol: %r is not tcp or udp" % (where, protocol))
        bind = item.get("bind", "any")
        if bind not in ("localhost", "any"):
            raise EvaluateError("%s.bind: %r is not localhost or any" % (where, bind))
        for port in ports:
            items.append({
                "range": _port_range(port, where + ".port"), "protocol": protocol, "bind": bind,
                "catalog_id": item.get("catalog_id"), "settings": item.get("settings") or [],
            })
    return items


def interface_properties(settings, components=None):
    """Vendor properties that control the binding interface, for the host's components."""
    props = []
    for setting in settings or []:
        if setting.get("controls") != "interface":
            continue
        if components and setting.get("component") and setting["component"] not in components:
            continue
        if setting.get("property") and setting["property"] not in props:
            props.append(setting["property"])
    return props


def owner_matches(process, patterns):
    """True when ``process`` matches one of the regular expressions (case-insensitive search)."""
    if not process:
        return False
    return any(re.search(p, process, re.IGNORECASE) for p in patterns or [])


def _port_text(low, high):
    return str(low) if low == high else "%d-%d" % (low, high)


def judge_listeners(records, expected, owner_patterns=None, installed=True, components=None,
                    report_missing=False):
    """Judge listener ``records`` against ``expected`` catalog ports; return findings (see module doc)."""
    records = normalize_records(records)
    items = _expected_items(expected)
    findings = {}

    def add(kind, record, item, message, props=()):
        port = record["port"] if record else _port_text(*item["range"])
        key = (kind, item["protocol"], port,
               record["address"] if record else None, record["pid"] if record else None)
        finding = findings.get(key)
        if finding is None:
            finding = findings[key] = {
                "kind": kind, "status": KIND_STATUS[kind], "protocol": item["protocol"], "port": port,
                "address": record["address"] if record else None,
                "pid": record["pid"] if record else None,
                "process": record["process"] if record else None,
                "catalog_ids": [], "properties": [], "message": message,
            }
        if item["catalog_id"] and item["catalog_id"] not in finding["catalog_ids"]:
            finding["catalog_ids"].append(item["catalog_id"])
        for prop in props:
            if prop not in finding["properties"]:
                finding["properties"].append(prop)

    for item in items:
        low, high = item["range"]
        matching = [r for r in records if r["protocol"] == item["protocol"] and low <= r["port"] <= high]
        if not matching and report_missing:
            add("not_listening", None, item, "nothing listens on %s/%s" % (item["protocol"], _port_text(low, high)))
        for record in matching:
            where = "%s/%d on %s" % (record["protocol"], record["port"], record["address"])
            owner = "%s (pid %s)" % (record["process"] or "unknown process", record["pid"] if record["pid"] is not None else "?")
            if owner_patterns is not None:
                if not installed:
                    add("conflict", record, item,
                        "%s is already used by %s before SafeQ is installed" % (where, owner))
                    continue
                if record["process"] is None:
                    add("unknown_owner", record, item,
                        "%s: the owning process could not be read (run with administrator rights)" % where)
                elif not owner_matches(record["process"], owner_patterns):
                    add("conflict", record, item, "%s is used by %s, which is not a SafeQ process" % (where, owner))
                    continue
            if item["bind"] == "localhost" and not is_loopback(record["address"]):
                props = interface_properties(item["settings"], components)
                if props:
                    fix = "set %s to 127.0.0.1" % " / ".join(props)
                else:
                    fix = "bind it to 127.0.0.1 (no vendor property is documented for its interface)"
                add("exposed", record, item,
                    "%s (%s) listens on a non-loopback address; the vendor binds it to localhost: %s"
                    % (where, record["process"] or "unknown process", fix), props)
    order = {"exposed": 0, "conflict": 1, "unknown_owner": 2, "not_listening": 3}
    return sorted(findings.values(), key=lambda f: (order[f["kind"]], f["protocol"], str(f["port"]).zfill(5),
                                                    f["address"] or "", f["pid"] if f["pid"] is not None else -1))
