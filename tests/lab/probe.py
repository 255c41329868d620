"""Bounded port probe for the Molecule lab (stdlib only, Python >= 3.7).

    probe.py TARGET_IP tcp|udp PORTS [--timeout S] [--allow CIDR,...]

PORTS is a comma-separated list of ports and FIRST-LAST ranges (at most 64 ports). Prints one JSON
object {"<port>": "open"|"closed"|"filtered", ...} on stdout and exits 0 (exit 2 on bad arguments).

TCP: connect() with a timeout. Connected -> open; refused (RST) -> closed; timeout or an ICMP
error (host/net/admin prohibited) -> filtered.
UDP: send one datagram on a connected socket, wait for a reply. Reply -> open (the lab's listeners
echo); ICMP port unreachable (ECONNREFUSED) -> closed; nothing within the timeout -> filtered.

Safety: the target must lie in --allow (default: the lab network 10.213.7.0/24 and loopback);
the timeout is capped at 1.5 s and at most 8 ports are probed at once, so one call takes at most
ceil(ports / 8) * timeout seconds (about 12 s for 64 ports).
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("target")
    ap.add_argument("proto", choices=("tcp", "udp"))
    ap.add_argument("ports")
    ap.add_argument("--timeout", type=float, default=1.0, help=f"per port, capped at {MAX_TIMEOUT} s")
    ap.add_argument("--allow", default=DEFAULT_ALLOW, help="comma-separated CIDRs the target must be in")
    args = ap.parse_args(argv)
    try:
        target = ipaddress.IPv4Address(args.target)
        allowed = [ipaddress.IPv4Network(c.strip()) for c in args.allow.split(",") if c.strip()]
        ports = parse_ports(args.ports)
    except ValueError as exc:
        print(f"probe.py: {exc}", file=sys.stderr)
        return 2
    if not any(target in net for net in allowed):
        print(f"probe.py: refusing to probe {target}: not in {args.allow}", file=sys.stderr)
        return 2
    timeout = min(max(args.timeout, 0.1), MAX_TIMEOUT)
    fn = probe_tcp if args.proto == "tcp" else probe_udp
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        states = list(pool.map(lambda p: fn(str(target), p, timeout), ports))
    print(json.dumps({str(p): s for p, s in zip(ports, states)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
