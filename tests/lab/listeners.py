"""Simulated SafeQ services for the Molecule lab (stdlib only, Python >= 3.7).

Listens on a list of TCP/UDP ports, each with its own bind address:

    listeners.py [--daemon] [--pidfile F] [--log F] [--replace] SPEC [SPEC ...]

    SPEC = PROTO/BIND:PORT or PROTO/BIND:FIRST-LAST, e.g. tcp/0.0.0.0:4111,
           tcp/127.0.0.1:19898, tcp/0.0.0.0:20222-20225, udp/0.0.0.0:37

TCP: accept, echo every byte back, close when the peer closes (so a port probe sees "open" and
tests/lab/hold.py can keep a connection open and check it still carries data). UDP: echo each
datagram back to its sender.

All sockets are bound before the process detaches, so a bind error (port in use, bad address)
makes the command fail with exit code 1 instead of leaving a half-started listener behind.
Bounded: at most --max-conns open TCP connections, each closed after --idle seconds of silence.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import time

MAX_PORTS = 512


def parse_spec(spec: str) -> list[tuple[str, str, int]]:
    try:
        proto, rest = spec.split("/", 1)
        bind, ports = rest.rsplit(":", 1)
    except ValueError:
        raise ValueError(f"bad spec {spec!r}: want PROTO/BIND:PORT[-PORT]") from None
    proto = proto.lower()
    if proto not in ("tcp", "udp"):
        raise ValueError(f"bad protocol in {spec!r}")
    socket.inet_aton(bind)  # IPv4 only; raises OSError on junk
    if "-" in ports:
        first, last = (int(p) for p in ports.split("-", 1))
    else:
        first = last = int(ports)
    if not (1 <= first <= last <= 65535):
        raise ValueError(f"bad port range in {spec!r}")
    return [(proto, bind, port) for port in range(first, last + 1)]


def log_line(fh, msg: str) -> None:
    if fh is not None:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")
        fh.flush()


def stop_previous(pidfile: str) -> None:
    try:
        with open(pidfile, encoding="ascii") as fh:
            pid = int(fh.read().strip())
    except (OSError, ValueError):
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"listeners.py" not in fh.read():
                return
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    for _attempt in range(50):  # up to 5 s
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.1)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.2)


def bind_all(items: list[tuple[str, str, int]]) -> list[tuple[socket.socket, str, str, int]]:
    bound = []
    for proto, bind, port in items:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind, port))
        except OSError as exc:
            for other in bound:
                other[0].close()
            sock.close()
            raise OSError(exc.errno, f"{proto}/{bind}:{port}: {exc.strerror}") from None
        if proto == "tcp":
            sock.listen(64)
        sock.setblocking(False)
        bound.append((sock, proto, bind, port))
    return bound


def serve(bound, log_fh, max_conns: int, idle: float) -> None:
    sel = selectors.DefaultSelector()
    for sock, proto, bind, port in bound:
        sel.register(sock, selectors.EVENT_READ, ("listen" if proto == "tcp" else "udp", f"{bind}:{port}"))
    conns: dict[socket.socket, float] = {}
    running = True

    def on_term(_signo, _frame):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    log_line(log_fh, f"started pid={os.getpid()} sockets={len(bound)}")
    while running:
        try:
            events = sel.select(timeout=1.0)
        except InterruptedError:
            continue
        now = time.monotonic()
        for key, _mask in events:
            kind, where = key.data
            sock = key.fileobj
            if kind == "listen":
                try:
                    conn, peer = sock.accept()
                except OSError:
                    continue
                if len(conns) >= max_conns:
                    conn.close()
                    log_line(log_fh, f"tcp {where} from {peer[0]}:{peer[1]} refused (max conns)")
                    continue
                conn.setblocking(False)
                conns[conn] = now
                sel.register(conn, selectors.EVENT_READ, ("conn", where))
                log_line(log_fh, f"tcp {where} accept {peer[0]}:{peer[1]}")
            elif kind == "conn":
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    conns[sock] = now
                    try:
                        sock.sendall(data)  # small payloads; kernel buffer suffices
                    except OSError:
                        data = b""
                if not data:
                    sel.unregister(sock)
                    conns.pop(sock, None)
                    sock.close()
            else:  # udp
                try:
                    data, peer = sock.recvfrom(2048)
                except OSError:
                    continue
                log_line(log_fh, f"udp {where} from {peer[0]}:{peer[1]} {len(data)} bytes")
                try:
                    sock.sendto(data, peer)
                except OSError:
                    pass
        for conn, last in list(conns.items()):
            if now - last > idle:
                sel.unregister(conn)
                conns.pop(conn, None)
                conn.close()
    log_line(log_fh, "stopped")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("specs", nargs="+", metavar="SPEC")
    ap.add_argument("--daemon", action="store_true", help="detach after binding")
    ap.add_argument("--pidfile", default="/run/safeq-lab-listeners.pid")
    ap.add_argument("--log", default="/var/log/safeq-lab-listeners.log")
    ap.add_argument("--replace", action="store_true", help="stop the listener named in --pidfile first")
    ap.add_argument("--max-conns", type=int, default=256)
    ap.add_argument("--idle", type=float, default=900.0, help="close TCP connections idle this long (s)")
    args = ap.parse_args(argv)

    try:
        items = [item for spec in args.specs for item in parse_spec(spec)]
    except (ValueError, OSError) as exc:
        print(f"listeners.py: {exc}", file=sys.stderr)
        return 2
    if len(items) > MAX_PORTS:
        print(f"listeners.py: {len(items)} ports requested, limit is {MAX_PORTS}", file=sys.stderr)
        return 2
    if len(set(items)) != len(items):
        print("listeners.py: duplicate PROTO/BIND:PORT", file=sys.stderr)
        return 2

    if args.replace:
        stop_previous(args.pidfile)
    try:
        bound = bind_all(items)
    except OSError as exc:
        print(f"listeners.py: bind failed: {exc.strerror}", file=sys.stderr)
        return 1

    summary = {"pid": None, "listening": [f"{p}/{b}:{n}" for _s, p, b, n in bound]}
    try:
        os.unlink(args.pidfile)  # stale file of a listener that is gone
    except OSError:
        pass
    if args.daemon:
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
            for _attempt in range(50):  # the grandchild writes the pidfile; wait up to 5 s
                try:
                    with open(args.pidfile, encoding="ascii") as fh:
                        summary["pid"] = int(fh.read().strip())
                    break
                except (OSError, ValueError):
                    time.sleep(0.1)
            print(json.dumps(summary))
            return 0 if summary["pid"] else 1
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        os.chdir("/")

    tmp = f"{args.pidfile}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(tmp, args.pidfile)
    log_fh = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115
    if not args.daemon:
        summary["pid"] = os.getpid()
        print(json.dumps(summary), flush=True)
    try:
        serve(bound, log_fh, args.max_conns, args.idle)
    finally:
        try:
            with open(args.pidfile, encoding="ascii") as fh:
                mine = int(fh.read().strip()) == os.getpid()
            if mine:
                os.unlink(args.pidfile)
        except (OSError, ValueError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
