# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listening_sockets module run through Ansible finds this process's own sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def _find(records, protocol, address, port):
    return [r for r in records if r["protocol"] == protocol and r["address"] == address and r["port"] == port]


# ---- the module through Ansible ---------------------------------------------------------------

def _ansible_module(args, check=False):
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "safeq.hardening.listening_sockets",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-o"]
    if args:
        cmd += ["-a", args]
    if check:
        cmd.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.split(" => ", 1)[1])


def test_module_through_ansible_finds_own_sockets(own_sockets):
    result = _ansible_module("", check=True)
    assert result["changed"] is False
    for name, (protocol, address, port) in own_sockets.items():
        hits = _find(result["listeners"], protocol, address, port)
        assert bool(hits) is not name.startswith("_"), (name, hits)
        if hits:
            assert hits[0]["pid"] == os.getpid()
    tcp_only = _ansible_module("protocols=tcp resolve_processes=false")
    assert {r["protocol"] for r in tcp_only["listeners"]} == {"tcp"}
    assert tcp_only["unresolved"] == 0 and all(r["pid"] is None for r in tcp_only["listeners"])
