# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The listening_sockets module run through Ansible finds this process's own sockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


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


def test_module_through_ansible_finds_own_sockets(own_sockets, find_socket):
    result = _ansible_module("", check=True)
    assert result["changed"] is False
    for name, (protocol, address, port) in own_sockets.items():
        hits = find_socket(result["listeners"], protocol, address, port)
        assert bool(hits) is not name.startswith("_"), (name, hits)
        if hits:
            assert hits[0]["pid"] == os.getpid()
    tcp_only = _ansible_module("protocols=tcp resolve_processes=false")
    assert {r["protocol"] for r in tcp_only["listeners"]} == {"tcp"}
    assert tcp_only["unresolved"] == 0 and all(r["pid"] is None for r in tcp_only["listeners"])
