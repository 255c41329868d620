"""Put the collection on sys.path for every test directory; fixtures shared by unit and integration tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".collections"
_link = COLLECTIONS / "ansible_collections" / "safeq" / "hardening"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("../../..", _link)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture
def netns():
    """A network namespace of its own (its nftables ruleset is not the host's); yields its name. At the end,
    processes left in it (rollback timers of nftables_table) are stopped and the namespace is deleted."""
    name = "safeq-test-" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        yield name
    finally:
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=30,
                              check=False).stdout
        for pid in pids.split():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "delete", name], check=True, timeout=30)


def _ipv6_available():
    if not socket.has_ipv6 or not os.path.exists("/proc/net/tcp6"):
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def own_sockets():
    """Real sockets of this test process; yields {name: (protocol, address, port)}."""
    opened, found = [], {}

    def tcp_listen(name, family, address):
        sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, 0))
        sock.listen(4)
        opened.append(sock)
        found[name] = ("tcp", address, sock.getsockname()[1])
        return sock

    def udp_bind(name, family, address):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((address, 0))
        opened.append(sock)
        found[name] = ("udp", address, sock.getsockname()[1])

    server = tcp_listen("tcp_loopback", socket.AF_INET, "127.0.0.1")
    tcp_listen("tcp_any", socket.AF_INET, "0.0.0.0")
    udp_bind("udp_loopback", socket.AF_INET, "127.0.0.1")
    udp_bind("udp_any", socket.AF_INET, "0.0.0.0")
    if _ipv6_available():
        tcp_listen("tcp6_loopback", socket.AF_INET6, "::1")
        tcp_listen("tcp6_any", socket.AF_INET6, "::")
        udp_bind("udp6_loopback", socket.AF_INET6, "::1")
    # an established connection (client and accepted side) - not listeners
    client = socket.create_connection(server.getsockname())
    accepted = server.accept()[0]
    opened += [client, accepted]
    found["_client_port"] = ("tcp", "127.0.0.1", client.getsockname()[1])
    # bound, never listening (state CLOSE) - not a listener
    idle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    idle.bind(("127.0.0.1", 0))
    opened.append(idle)
    found["_idle_port"] = ("tcp", "127.0.0.1", idle.getsockname()[1])
    try:
        yield found
    finally:
        for sock in opened:
            sock.close()


@pytest.fixture
def find_socket():
    """find(records, protocol, address, port): the records of one socket."""

    def find(records, protocol, address, port):
        return [r for r in records if r["protocol"] == protocol and r["address"] == address and r["port"] == port]

    return find
