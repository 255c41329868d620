"""Broadcast discovery for the Molecule lab (stdlib only, Python >= 3.7).

    discovery.py --respond PORT --seconds N [--max N] [--out FILE] [--detach]
    discovery.py --ask ADDRESS PORT [--timeout S]

Simulates the Terminal Professional/UltraLight discovery: the SafeQ server broadcasts one UDP
datagram to port 64099 and each terminal answers from that port to the server's (ephemeral)
source port. The reply comes from the terminal's own address, not from the broadcast address the
request went to, so conntrack does not see it as a reply: only an explicit inbound rule lets it in.

--respond binds 0.0.0.0:PORT and answers every datagram to its sender, from PORT, for --seconds
seconds (at most 600) or until --max datagrams (default 16, at most 256) were answered. With --out
(emptied and opened before anything is answered) it writes one JSON line per datagram:
{"from": "ip:port", "bytes": n, "replied": bool, "at": epoch}.
--detach binds first (a bind error fails the command), then answers in the background and prints
{"detached": true, "port": PORT, "pid": n}.

--ask sends one datagram with SO_BROADCAST to ADDRESS:PORT from an ephemeral port and waits up to
--timeout seconds (at most 5) for the first reply. Prints one JSON object and exits 0 either way:

    {"replied": bool, "from": "ip:port"|null, "sent_port": n, "to": "ADDRESS:PORT", "elapsed": s}

Safety: ADDRESS must lie in --allow (default the lab network 10.213.7.0/24 and loopback) or be
the limited broadcast 255.255.255.255, which the kernel sends on the container's one interface,
the lab network (a limited broadcast is never forwarded by a router). One datagram per --ask.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
import time

MAX_SECONDS = 600
MAX_REPLIES = 256
MAX_TIMEOUT = 5.0
DEFAULT_ALLOW = "10.213.7.0/24,127.0.0.0/8"
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
PAYLOAD = b"safeq-lab-discovery"


def ask(address: str, port: int, timeout: float) -> dict:
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("0.0.0.0", 0))
        sock.settimeout(timeout)
        sock.sendto(PAYLOAD, (address, port))
        result = {"replied": False, "from": None, "sent_port": sock.getsockname()[1],
                  "to": f"{address}:{port}", "elapsed": None}
        try:
            _data, peer = sock.recvfrom(2048)
            result["replied"] = True
            result["from"] = f"{peer[0]}:{peer[1]}"
        except (socket.timeout, ConnectionRefusedError):
            pass
    result["elapsed"] = round(time.monotonic() - start, 3)
    return result


def respond(sock: socket.socket, seconds: int, max_replies: int, out_fh) -> int:
    deadline = time.monotonic() + seconds
    answered = 0
    while answered < max_replies:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(min(left, 1.0))
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            continue
        except OSError:
            break
        try:
            sock.sendto(data, peer)
            replied = True
        except OSError:
            replied = False
        answered += 1
        if out_fh is not None:
            out_fh.write(json.dumps({"from": f"{peer[0]}:{peer[1]}", "bytes": len(data), "replied": replied,
                                     "at": round(time.time(), 3)}, sort_keys=True) + "\n")
            out_fh.flush()
    return answered


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--respond", type=int, metavar="PORT", help="answer datagrams on this UDP port")
    mode.add_argument("--ask", nargs=2, metavar=("ADDRESS", "PORT"), help="send one datagram, wait for a reply")
    ap.add_argument("--seconds", type=int, default=30, help=f"--respond: run this long (at most {MAX_SECONDS})")
    ap.add_argument("--max", type=int, default=16, help=f"--respond: stop after this many datagrams (at most {MAX_REPLIES})")
    ap.add_argument("--out", help="--respond: write one JSON line per datagram to this file")
    ap.add_argument("--detach", action="store_true", help="--respond: run in the background")
    ap.add_argument("--timeout", type=float, default=2.0, help=f"--ask: wait this long for a reply (at most {MAX_TIMEOUT})")
    ap.add_argument("--allow", default=DEFAULT_ALLOW, help="--ask: CIDRs ADDRESS must be in (besides 255.255.255.255)")
    args = ap.parse_args(argv)

    if args.ask:
        try:
            address = ipaddress.IPv4Address(args.ask[0])
            port = int(args.ask[1])
            allowed = [ipaddress.IPv4Network(c.strip()) for c in args.allow.split(",") if c.strip()]
        except ValueError as exc:
            ap.error(str(exc))
        if address != LIMITED_BROADCAST and not any(address in net for net in allowed):
            ap.error(f"refusing to send to {address}: not in {args.allow} and not 255.255.255.255")
        if not 1 <= port <= 65535:
            ap.error("bad port")
        timeout = max(0.1, min(args.timeout, MAX_TIMEOUT))
        print(json.dumps(ask(str(address), port, timeout), sort_keys=True))
        return 0

    if not 1 <= args.respond <= 65535:
        ap.error("bad port")
    seconds = max(1, min(args.seconds, MAX_SECONDS))
    max_replies = max(1, min(args.max, MAX_REPLIES))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0", args.respond))
    except OSError as exc:
        print(f"discovery.py: bind udp/0.0.0.0:{args.respond} failed: {exc.strerror}", file=sys.stderr)
        return 1
    out_fh = None
    if args.out:
        try:
            # truncated: a previous run's lines must not count; opened before detaching, so an
            # unwritable path fails the command
            out_fh = open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            print(f"discovery.py: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            sock.close()
            return 1
    if args.detach:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid:
            os.close(write_end)
            os.waitpid(pid, 0)
            with os.fdopen(read_end, encoding="ascii") as fh:
                child = fh.read().strip()
            print(json.dumps({"detached": True, "port": args.respond, "pid": int(child) if child else None,
                              "seconds": seconds}))
            return 0 if child else 1
        os.close(read_end)
        os.setsid()
        if os.fork():
            os._exit(0)
        os.write(write_end, f"{os.getpid()}\n".encode("ascii"))
        os.close(write_end)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        os.chdir("/")
    with sock:
        answered = respond(sock, seconds, max_replies, out_fh)
    if out_fh is not None:
        out_fh.close()
    if args.detach:
        os._exit(0)
    print(json.dumps({"answered": answered, "port": args.respond}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
