# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening sockets as plain records, from Linux /proc or from Windows module/command output.

Every parser returns a sorted list of records of one shape::

    {"protocol": "tcp"|"udp", "family": "ipv4"|"ipv6", "address": "0.0.0.0", "port": 80,
     "pid": 1234 or None, "process": "nginx" or None}

Linux (``linux_listeners``): ``/proc/net/tcp``, ``tcp6`` (state ``0A`` = LISTEN only),
``udp``, ``udp6`` (every socket bound to a local port, connected or not, because a bound
UDP port blocks another bind just the same). Owning processes are found best effort by
mapping socket inodes to ``/proc/<pid>/fd/*`` links (``socket:[inode]``); without the
rights to read another user's fds, ``pid``/``process`` stay None.

Windows (``parse_listen_ports_facts``): the ``tcp_listen``/``udp_listen`` facts of the maintained
``ansible.windows.win_listen_ports_facts`` module (also the Linux ``community.general.listen_ports_facts``
shape).

Pure Python 3 standard library; shared by modules (on the target) and plugins (controller).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

PROC_NET_FILES = (
    ("tcp", "ipv4", "tcp"),
    ("tcp", "ipv6", "tcp6"),
    ("udp", "ipv4", "udp"),
    ("udp", "ipv6", "udp6"),
)
TCP_LISTEN = "0A"


class ListenerParseError(ValueError):
    """Input that is not in the documented shape."""


# ---- addresses -------------------------------------------------------------------------------

def _decode_proc_address(hex_address):
    """'0100007F:0050' -> ('127.0.0.1', 80, 'ipv4'); IPv6 words are little-endian 32-bit each."""
    try:
        addr_hex, port_hex = hex_address.split(":")
        port = int(port_hex, 16)
        if len(addr_hex) == 8:
            packed = struct.pack("<I", int(addr_hex, 16))
            return socket.inet_ntop(socket.AF_INET, packed), port, "ipv4"
        if len(addr_hex) == 32:
            words = [int(addr_hex[i:i + 8], 16) for i in range(0, 32, 8)]
            packed = struct.pack("<IIII", *words)
            address = socket.inet_ntop(socket.AF_INET6, packed)
            mapped = ipaddress.IPv6Address(address).ipv4_mapped
            return (address if mapped is None else "::ffff:%s" % mapped), port, "ipv6"
    except (ValueError, struct.error, OSError) as exc:
        raise ListenerParseError("bad /proc/net address %r: %s" % (hex_address, exc))
    raise ListenerParseError("bad /proc/net address %r" % hex_address)


def address_family(address):
    try:
        return "ipv6" if ipaddress.ip_address(str(address).split("%", maxsplit=1)[0]).version == 6 else "ipv4"
    except ValueError:
        return "ipv6" if ":" in str(address) else "ipv4"


def is_loopback(address):
    """True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z."""
    try:
        addr = ipaddress.ip_address(str(address).split("%", maxsplit=1)[0])
    except ValueError:
        return str(address).lower() == "localhost"
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def is_wildcard(address):
    """True for 0.0.0.0, :: and ::ffff:0.0.0.0 (every interface)."""
    try:
        addr = ipaddress.ip_address(str(address).split("%", maxsplit=1)[0])
    except ValueError:
        return str(address) in ("*", "")
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_unspecified


# ---- Linux /proc ---------------------------------------------------------------------------

def parse_proc_net(text, protocol, family=None):
    """Parse the content of one /proc/net/{tcp,tcp6,udp,udp6} file.

    Returns records with an extra ``inode`` key (used to find the owning process).
    TCP keeps only LISTEN sockets; UDP keeps every socket with a non-zero local port.
    """
    if protocol not in ("tcp", "udp"):
        raise ListenerParseError("protocol must be tcp or udp, got %r" % protocol)
    records = []
    for lineno, line in enumerate(text.splitlines()):
        fields = line.split()
        if not fields or lineno == 0 and fields[0] == "sl":
            continue
        if len(fields) < 10 or not fields[0].endswith(":"):
            raise ListenerParseError("line %d of /proc/net/%s is not a socket line: %r" % (lineno + 1, protocol, line))
        address, port, fam = _decode_proc_address(fields[1])
        if family and fam != family:
            raise ListenerParseError("line %d: %s address in a %s file" % (lineno + 1, fam, family))
        state = fields[3].upper()
        if protocol == "tcp" and state != TCP_LISTEN:
            continue
        if port == 0:
            continue
        records.append({
            "protocol": protocol, "family": fam, "address": address, "port": port,
            "pid": None, "process": None, "inode": int(fields[9]),
        })
    return records


def socket_owners(proc_root="/proc"):
    """Map socket inode -> (pid, process name) by reading /proc/<pid>/fd links (best effort)."""
    owners = {}
    try:
        pids = sorted(int(p) for p in os.listdir(proc_root) if p.isdigit())
    except OSError:
        return owners
    for pid in pids:
        fd_dir = os.path.join(proc_root, str(pid), "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # process gone, or not ours to read
        name = None
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if not target.startswith("socket:["):
                continue
            try:
                inode = int(target[8:-1])
            except ValueError:
                continue
            if inode in owners:
                continue  # keep the lowest pid (the parent of pre-forked workers)
            if name is None:
                name = _process_name(proc_root, pid)
            owners[inode] = (pid, name)
    return owners


def _process_name(proc_root, pid):
    try:
        with open(os.path.join(proc_root, str(pid), "comm"), encoding="utf-8", errors="replace") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def linux_listeners(proc_root="/proc", protocols=("tcp", "udp"), resolve_processes=True):
    """Read every /proc/net file of ``protocols`` and return the listener records (sorted)."""
    records = []
    for protocol, family, name in PROC_NET_FILES:
        if protocol not in protocols:
            continue
        path = os.path.join(proc_root, "net", name)
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue  # e.g. no IPv6 in this kernel
        records.extend(parse_proc_net(text, protocol, family))
    owners = socket_owners(proc_root) if resolve_processes else {}
    for record in records:
        inode = record.pop("inode")
        if inode in owners:
            record["pid"], record["process"] = owners[inode]
    return sort_records(records)


# ---- Windows -------------------------------------------------------------------------------

def _as_list(value):
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]  # ConvertTo-Json turns a one-element array into an object
    if isinstance(value, list):
        return value
    raise ListenerParseError("expected a list, got %r" % (value,))


def _int(value, what):
    if isinstance(value, dict) and "Value" in value:
        value = value["Value"]  # win_powershell enum/number wrapper
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ListenerParseError("%s %r is not an integer" % (what, value))


def parse_listen_ports_facts(tcp_listen=None, udp_listen=None):
    """Records from ``tcp_listen``/``udp_listen`` of win_listen_ports_facts or listen_ports_facts."""
    records = []
    for protocol, items in (("tcp", tcp_listen), ("udp", udp_listen)):
        for item in _as_list(items):
            if not isinstance(item, dict):
                raise ListenerParseError("%s_listen entry %r is not an object" % (protocol, item))
            address = str(item.get("address", ""))
            pid = item.get("pid")
            records.append({
                "protocol": protocol, "family": address_family(address), "address": address,
                "port": _int(item.get("port"), "port"),
                "pid": None if pid in (None, "") else _int(pid, "pid"),
                "process": item.get("name") or None,
            })
    return sort_records(records)


# ---- common ---------------------------------------------------------------------------------

def _sort_key(record):
    return (record["protocol"], record["port"], record["family"], record["address"],
            record["pid"] if record["pid"] is not None else -1)


def sort_records(records):
    """Sort and drop exact duplicates (the same socket seen twice)."""
    seen = set()
    result = []
    for record in sorted(records, key=_sort_key):
        key = tuple(record.get(k) for k in ("protocol", "family", "address", "port", "pid", "process"))
        if key in seen:
            continue
        seen.add(key)
        result.append(record)
    return result


def normalize_records(data):
    """Accept any supported shape and return records.

    Supported: a list of records; a ``listening_sockets`` module result (``listeners``);
    a win_listen_ports_facts/listen_ports_facts result (``ansible_facts.tcp_listen``...).
    """
    if isinstance(data, list):
        for record in data:
            if not isinstance(record, dict) or not {"protocol", "address", "port"} <= set(record):
                raise ListenerParseError("listener record %r lacks protocol/address/port" % (record,))
        return sort_records([{
            "protocol": str(r["protocol"]).lower(), "family": r.get("family") or address_family(r["address"]),
            "address": str(r["address"]), "port": _int(r["port"], "port"),
            "pid": None if r.get("pid") in (None, "") else _int(r["pid"], "pid"),
            "process": r.get("process") or None,
        } for r in data])
    if isinstance(data, dict):
        if "listeners" in data:
            return normalize_records(data["listeners"])
        facts = data.get("ansible_facts", data)
        if isinstance(facts, dict) and ("tcp_listen" in facts or "udp_listen" in facts):
            return parse_listen_ports_facts(facts.get("tcp_listen"), facts.get("udp_listen"))
    raise ListenerParseError("listener data is not a listening_sockets or win_listen_ports_facts result, nor a"
                             " list of records")
