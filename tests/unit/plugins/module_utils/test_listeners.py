"""Listening-socket parsers (plugins/module_utils/listeners.py) and the listening_sockets module.

Linux parsing is tested against the real /proc of this machine: the test opens its own
sockets (TCP listeners on 127.0.0.1, 0.0.0.0, ::1, ::; UDP sockets; a connected TCP pair and a
bound-but-not-listening TCP socket that must NOT be reported) and checks that the parser finds
exactly those with this process as owner. The Windows parsers get realistic JSON/module output.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.safeq.hardening.plugins.module_utils import listeners as L

ROOT = Path(__file__).resolve().parents[4]


def test_linux_listeners_find_real_sockets(own_sockets, find_socket):
    records = L.linux_listeners()
    me = os.getpid()
    with open("/proc/self/comm") as handle:
        comm = handle.read().strip()
    for name, (protocol, address, port) in own_sockets.items():
        hits = find_socket(records, protocol, address, port)
        if name.startswith("_"):
            assert not hits, "%s must not be reported: %r" % (name, hits)
            continue
        assert len(hits) == 1, (name, hits)
        rec = hits[0]
        assert rec["family"] == ("ipv6" if ":" in address else "ipv4")
        assert rec["pid"] == me and rec["process"] == comm, rec
        assert set(rec) == {"protocol", "family", "address", "port", "pid", "process"}
    assert records == L.sort_records(records)


def test_parse_raw_proc_net_tcp_text(own_sockets, find_socket):
    with open("/proc/net/tcp") as handle:
        text = handle.read()
    assert text.splitlines()[0].split()[0] == "sl"
    records = L.parse_proc_net(text, "tcp", "ipv4")
    address, port = own_sockets["tcp_any"][1:]
    hit = find_socket(records, "tcp", address, port)
    assert len(hit) == 1 and isinstance(hit[0]["inode"], int) and hit[0]["inode"] > 0
    assert not find_socket(records, "tcp", "127.0.0.1", own_sockets["_client_port"][2])


def test_without_process_resolution(own_sockets, find_socket):
    records = L.linux_listeners(protocols=("tcp",), resolve_processes=False)
    assert all(r["protocol"] == "tcp" and r["pid"] is None and r["process"] is None for r in records)
    assert find_socket(records, "tcp", "127.0.0.1", own_sockets["tcp_loopback"][2])


PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4D9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 41001 1
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 41002 1
   2: 0100007F:D5C2 0100007F:4D9A 01 00000000:00000000 00:00000000 00000000  0  0 41003 1
   3: 0B01A8C0:4D9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 41004 1
"""
PROC_TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 42001 1
   1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 42002 1
   2: 0000000000000000FFFF00000100007F:2382 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 42003 1
   3: 000080FE00000000FF005452B8FA59FE:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 42004 1
"""
PROC_UDP = """   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000  0  0 43001 2 0000000000000000 0
  101: 0100007F:FA0A 0101A8C0:0035 01 00000000:00000000 00:00000000 00000000  0  0 43002 2 0000000000000000 0
  102: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000  0  0 43003 2 0000000000000000 0
"""


def test_parse_proc_net_decodes_ipv4_and_states():
    records = L.parse_proc_net(PROC_TCP, "tcp")
    assert [(r["address"], r["port"]) for r in records] == [
        ("127.0.0.1", 19866), ("0.0.0.0", 80), ("192.168.1.11", 19866)]  # ESTABLISHED row dropped


def test_parse_proc_net_decodes_ipv6():
    records = L.parse_proc_net(PROC_TCP6, "tcp", "ipv6")
    assert [(r["address"], r["port"]) for r in records] == [
        ("::1", 8080), ("::", 443), ("::ffff:127.0.0.1", 9090), ("fe80::5254:ff:fe59:fab8", 22)]
    assert L.is_loopback("::ffff:127.0.0.1") and L.is_wildcard("::") and not L.is_loopback("fe80::1")


def test_parse_proc_net_udp_keeps_every_bound_socket():
    records = L.parse_proc_net(PROC_UDP, "udp")
    assert [(r["address"], r["port"]) for r in records] == [("0.0.0.0", 68), ("127.0.0.1", 64010)]


@pytest.mark.parametrize("text", [
    "   0: 0100007F:4D9A\n",
    "   0: 0100007G:4D9A 00000000:0000 0A 0 0 0 0 0 1 1\n",
    "   0: 0100:4D9A 00000000:0000 0A 0 0 0 0 0 1 1\n",
])
def test_parse_proc_net_rejects_garbage(text):
    with pytest.raises(L.ListenerParseError):
        L.parse_proc_net(text, "tcp")


def test_parse_proc_net_rejects_family_mismatch():
    with pytest.raises(L.ListenerParseError, match="ipv4 address in a ipv6 file"):
        L.parse_proc_net(PROC_TCP, "tcp", "ipv6")


def test_fake_proc_root_with_owner(tmp_path, find_socket):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(PROC_TCP)
    fd_dir = tmp_path / "4242" / "fd"
    fd_dir.mkdir(parents=True)
    (tmp_path / "4242" / "comm").write_text("java\n")
    os.symlink("socket:[41001]", fd_dir / "7")
    os.symlink("/dev/null", fd_dir / "0")
    worker = tmp_path / "4300" / "fd"
    worker.mkdir(parents=True)
    (tmp_path / "4300" / "comm").write_text("java\n")
    os.symlink("socket:[41001]", worker / "3")  # pre-forked worker shares the socket: lowest pid wins
    records = L.linux_listeners(proc_root=str(tmp_path))
    jmx = find_socket(records, "tcp", "127.0.0.1", 19866)[0]
    assert (jmx["pid"], jmx["process"]) == (4242, "java")
    assert find_socket(records, "tcp", "0.0.0.0", 80)[0]["pid"] is None


# ---- Windows ----------------------------------------------------------------------------------

def test_listen_ports_facts_shape():
    registered = {"changed": False, "ansible_facts": {
        "tcp_listen": [{"address": "0.0.0.0", "name": "java.exe", "pid": 3120, "port": 443, "protocol": "tcp",
                        "stime": "Thu Nov 18 15:27:42 2021", "user": "NT AUTHORITY\\SYSTEM"}],
        "udp_listen": [{"address": "::", "name": "svchost.exe", "pid": 1500, "port": 5353, "protocol": "udp",
                        "stime": None, "user": None}],
    }}
    records = L.normalize_records(registered)
    assert [(r["protocol"], r["address"], r["port"], r["process"]) for r in records] == [
        ("tcp", "0.0.0.0", 443, "java.exe"), ("udp", "::", 5353, "svchost.exe")]


def test_module_result_and_record_list():
    recs = [{"protocol": "TCP", "address": "127.0.0.1", "port": "80"}]
    assert L.normalize_records({"listeners": recs}) == [
        {"protocol": "tcp", "family": "ipv4", "address": "127.0.0.1", "port": 80, "pid": None, "process": None}]
    with pytest.raises(L.ListenerParseError):
        L.normalize_records([{"port": 1}])
