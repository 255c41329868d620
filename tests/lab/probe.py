"""Bounded port probe for the Molecule lab (stdlib only, Python >= 3.7).

    probe.py TARGET_IP tcp|udp PORTS [--timeout S] [--allow CIDR,...]
    probe.py --batch JSON [--timeout S] [--allow CIDR,...]

PORTS is a comma-separated list of ports and FIRST-LAST ranges (at most 64 ports). Prints one JSON
object {"<port>": "open"|"closed"|"filtered", ...} on stdout and exits 0 (exit 2 on bad arguments).

--batch runs several probes in one call (one `podman exec` instead of one per target): JSON is a
list of {"address": TARGET_IP, "proto": "tcp"|"udp", "ports": PORTS} (at most 16 items and 256 ports
in all); it prints a JSON list with one {"<port>": state} object per item, in the same order.

TCP: connect() with a timeout. Connected -> open; refused (RST) -> closed; timeout or an ICMP
error (host/net/admin prohibited) -> filtered.
UDP: send one datagram on a connected socket, wait for a reply. Reply -> open (the lab's listeners
echo); ICMP port unreachable (ECONNREFUSED) -> closed; nothing within the timeout -> filtered.

Safety: every target must lie in --allow (default: the lab network 10.213.7.0/24 and loopback);
the timeout is capped at 1.5 s and at most 8 ports (16 with --batch) are probed at once, so one
call takes at most ceil(ports / 8) * timeout seconds (about 12 s for 64 ports; 24 s for a full batch).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

MAX_PORTS = 64
MAX_TIMEOUT = 1.5
WORKERS = 8
MAX_BATCH_ITEMS = 16
MAX_BATCH_PORTS = 256
BATCH_WORKERS = 16
DEFAULT_ALLOW = "10.213.7.0/24,127.0.0.0/8"
FILTERED_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.ETIMEDOUT}


def parse_ports(text: str) -> list[int]:
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            first, last = (int(p) for p in part.split("-", 1))
        else:
            first = last = int(part)
        if not (1 <= first <= last <= 65535):
            raise ValueError(f"bad port range {part!r}")
        ports.extend(range(first, last + 1))
    ports = sorted(set(ports))
    if not ports:
        raise ValueError("no ports given")
    if len(ports) > MAX_PORTS:
        raise ValueError(f"{len(ports)} ports given, limit is {MAX_PORTS}")
    return ports


def probe_tcp(target: str, port: int, timeout: float) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((target, port))
        except ConnectionRefusedError:
            return "closed"
        except socket.timeout:
            return "filtered"
        except OSError as exc:
            if exc.errno in FILTERED_ERRNOS:
                return "filtered"
            raise
        return "open"


def probe_udp(target: str, port: int, timeout: float) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((target, port))
        try:
            sock.send(b"safeq-lab-probe")
            sock.recv(2048)
        except ConnectionRefusedError:
            return "closed"
        except socket.timeout:
            return "filtered"
        except OSError as exc:
            if exc.errno in FILTERED_ERRNOS:
                return "filtered"
            raise
        return "open"


def _target(text: str, allowed: list) -> str:
    target = ipaddress.IPv4Address(text)
    if not any(target in net for net in allowed):
        raise ValueError(f"refusing to probe {target}: not in the allowed networks")
    return str(target)


def _batch(text: str, allowed: list) -> list[tuple[str, str, list[int]]]:
    items = json.loads(text)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH_ITEMS:
        raise ValueError(f"--batch: want a list of 1-{MAX_BATCH_ITEMS} items")
    jobs = []
    for item in items:
        if not isinstance(item, dict) or item.get("proto") not in ("tcp", "udp"):
            raise ValueError(f"--batch: bad item {item!r}")
        ports = item.get("ports")
        ports = ",".join(str(p) for p in ports) if isinstance(ports, list) else str(ports)
        jobs.append((_target(str(item.get("address")), allowed), item["proto"], parse_ports(ports)))
    if sum(len(ports) for _a, _p, ports in jobs) > MAX_BATCH_PORTS:
        raise ValueError(f"--batch: more than {MAX_BATCH_PORTS} ports in all")
    return jobs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("target", nargs="?")
    ap.add_argument("proto", nargs="?", choices=("tcp", "udp"))
    ap.add_argument("ports", nargs="?")
    ap.add_argument("--batch", metavar="JSON", help="several probes in one call (see the module doc)")
    ap.add_argument("--timeout", type=float, default=1.0, help=f"per port, capped at {MAX_TIMEOUT} s")
    ap.add_argument("--allow", default=DEFAULT_ALLOW, help="comma-separated CIDRs the target must be in")
    args = ap.parse_args(argv)
    try:
        allowed = [ipaddress.IPv4Network(c.strip()) for c in args.allow.split(",") if c.strip()]
        if args.batch is not None:
            if args.target or args.proto or args.ports:
                raise ValueError("--batch takes no TARGET_IP, protocol or PORTS")
            jobs = _batch(args.batch, allowed)
        elif args.target and args.proto and args.ports:
            jobs = [(_target(args.target, allowed), args.proto, parse_ports(args.ports))]
        else:
            raise ValueError("give TARGET_IP tcp|udp PORTS, or --batch JSON")
    except ValueError as exc:
        print(f"probe.py: {exc}", file=sys.stderr)
        return 2
    timeout = min(max(args.timeout, 0.1), MAX_TIMEOUT)
    tasks = [(index, target, proto, port) for index, (target, proto, ports) in enumerate(jobs) for port in ports]

    def run(task):
        _index, target, proto, port = task
        return (probe_tcp if proto == "tcp" else probe_udp)(target, port, timeout)

    with ThreadPoolExecutor(max_workers=BATCH_WORKERS if args.batch is not None else WORKERS) as pool:
        states = list(pool.map(run, tasks))
    results = [{} for _job in jobs]
    for (index, _target_ip, _proto, port), state in zip(tasks, states):
        results[index][str(port)] = state
    if args.batch is None:
        print(json.dumps(results[0], sort_keys=True))
    else:
        print(json.dumps([dict(sorted(r.items())) for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
