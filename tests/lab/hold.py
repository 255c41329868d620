"""Hold one TCP connection open and check that it keeps carrying data (stdlib only).

    hold.py TARGET_IP PORT [--seconds N] [--timeout S] [--out FILE] [--detach]
    hold.py --collect FILE [--wait S]

Connects to TARGET_IP:PORT (a lab listener, which echoes), then once a second sends one byte and
waits up to --timeout for its echo, for --seconds seconds (at most 1800). The first missing echo or
send error ends the run. Prints (or writes to --out, atomically) one JSON object:

    {"target": ..., "port": ..., "connected": bool, "seconds": N, "sent": n, "echoed": n,
     "ok": bool, "error": str|null, "elapsed": s, "started_at": epoch, "finished_at": epoch}

ok is true when the connection was established and every byte came back. A plain send() is not
enough to notice a firewall that drops an established flow (the kernel buffers and retransmits for
minutes), hence the echo.

--detach runs the hold in the background (needs --out) and prints {"detached": true, "out": ...}; start
it before a second converge and --collect the result after it: --collect waits up to --wait
seconds (default 60, at most 900) for the file, prints it and exits 0 if ok, 1 otherwise.

Safety: the target must lie in --allow (default the lab network 10.213.7.0/24 and loopback).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
import time

MAX_SECONDS = 1800
MAX_WAIT = 900
DEFAULT_ALLOW = "10.213.7.0/24,127.0.0.0/8"


def hold(target: str, port: int, seconds: int, timeout: float) -> dict:
    result = {"target": target, "port": port, "connected": False, "seconds": seconds,
              "sent": 0, "echoed": 0, "ok": False, "error": None, "elapsed": 0.0,
              "started_at": round(time.time(), 3), "finished_at": None}
    start = time.monotonic()
    try:
        sock = socket.create_connection((target, port), timeout=timeout)
    except OSError as exc:
        result["error"] = f"connect: {exc}"
        result["elapsed"] = round(time.monotonic() - start, 2)
        result["finished_at"] = round(time.time(), 3)
        return result
    result["connected"] = True
    with sock:
        sock.settimeout(timeout)
        for i in range(seconds):
            tick = start + i
            delay = tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                sock.sendall(b"x")
                result["sent"] += 1
                data = sock.recv(16)
            except socket.timeout:
                result["error"] = f"no echo within {timeout} s after byte {i + 1}"
                break
            except OSError as exc:
                result["error"] = f"byte {i + 1}: {exc}"
                break
            if not data:
                result["error"] = f"peer closed the connection after byte {i + 1}"
                break
            result["echoed"] += len(data)
    result["ok"] = result["connected"] and result["error"] is None and result["echoed"] == seconds
    result["elapsed"] = round(time.monotonic() - start, 2)
    result["finished_at"] = round(time.time(), 3)
    return result


def write_atomic(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def collect(path: str, wait: float) -> int:
    deadline = time.monotonic() + min(wait, MAX_WAIT)
    while True:
        try:
            with open(path, encoding="utf-8") as fh:
                payload = json.load(fh)
            break
        except (OSError, ValueError):
            if time.monotonic() >= deadline:
                print(json.dumps({"ok": False, "error": f"no result in {path} after {wait} s"}))
                return 1
            time.sleep(0.5)
    print(json.dumps(payload, sort_keys=True))
    return 0 if payload.get("ok") else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("target", nargs="?")
    ap.add_argument("port", nargs="?", type=int)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=1.5, help="connect and per-echo timeout (s)")
    ap.add_argument("--out", help="write the JSON result here instead of stdout")
    ap.add_argument("--detach", action="store_true", help="run in the background (needs --out)")
    ap.add_argument("--allow", default=DEFAULT_ALLOW)
    ap.add_argument("--collect", metavar="FILE", help="wait for and print a --out result")
    ap.add_argument("--wait", type=float, default=60.0)
    args = ap.parse_args(argv)

    if args.collect:
        return collect(args.collect, args.wait)
    if args.target is None or args.port is None:
        ap.error("TARGET_IP and PORT are required")
    try:
        target = ipaddress.IPv4Address(args.target)
        allowed = [ipaddress.IPv4Network(c.strip()) for c in args.allow.split(",") if c.strip()]
    except ValueError as exc:
        ap.error(str(exc))
    if not any(target in net for net in allowed):
        ap.error(f"refusing to connect to {target}: not in {args.allow}")
    if not 1 <= args.port <= 65535:
        ap.error("bad port")
    seconds = max(1, min(args.seconds, MAX_SECONDS))
    timeout = max(0.2, min(args.timeout, 5.0))
    if args.detach and not args.out:
        ap.error("--detach needs --out")

    if args.out:
        try:
            os.unlink(args.out)  # never let --collect read a previous run's result
        except OSError:
            pass
    if args.detach:
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
            print(json.dumps({"detached": True, "out": args.out, "seconds": seconds}))
            return 0
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)

    result = hold(str(target), args.port, seconds, timeout)
    if args.out:
        write_atomic(args.out, result)
    else:
        print(json.dumps(result, sort_keys=True))
    if args.detach:
        os._exit(0)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
