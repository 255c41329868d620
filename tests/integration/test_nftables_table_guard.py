# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commit-confirm guard of nftables_table through ansible-playbook, in a network namespace.

The host is this machine with the module run under ``ip netns exec`` (the namespace's ruleset is the
one changed); the controller's probe targets a port of this process: a listening one (reached, the
action confirms in the same task) or a closed one (not reached, the task fails and the host rolls back
by itself). Needs root, ``ip`` and ``nft``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_STEPS, WAIT_STEP_S = 150, 0.1  # at most 15 s


def script(port):
    return "\n".join([
        "table inet safeq_hardening",
        "delete table inet safeq_hardening",
        "table inet safeq_hardening {",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state established,related accept",
        '\t\ttcp dport %d accept comment "port %d"' % (port, port),
        "\t}",
        "}",
        "",
    ])


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        return spare.getsockname()[1]


def table(netns):
    proc = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "safeq_hardening"],
                          capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout if proc.returncode == 0 else None


def apply(netns, tmp_path, port, probe_port, rollback_timeout=3, probe_timeout=1, check=False, **options):
    """One guarded nftables_table task through ansible-playbook; the task's result."""
    args = {"content": script(port), "path": str(tmp_path / "ruleset.nft"), "persist_config": "",
            "guard_dir": str(tmp_path / "guard"), "rollback_timeout": rollback_timeout,
            "guard_probe_host": "127.0.0.1", "guard_probe_port": probe_port, "guard_probe_timeout": probe_timeout}
    args.update(options)
    task = {"safeq.hardening.nftables_table": args, "register": "applied", "ignore_errors": True}
    show = {"ansible.builtin.copy": {"content": "{{ applied | to_json }}", "dest": str(tmp_path / "result.json")},
            "check_mode": False}
    playbook = tmp_path / "guard.yml"
    playbook.write_text(json.dumps([{"hosts": "netns", "gather_facts": False, "tasks": [task]},
                                    {"hosts": "localhost", "gather_facts": False,
                                     "tasks": [dict(show, vars={"applied": "{{ hostvars['netns'].applied }}"})]}]))
    # the module's interpreter: this Python inside the namespace
    interpreter = tmp_path / "netns-python"
    interpreter.write_text('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (netns, sys.executable))
    interpreter.chmod(0o755)
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": {
        "netns": {"ansible_connection": "local", "ansible_python_interpreter": str(interpreter)},
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)]
                          + (["--check"] if check else []),
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((tmp_path / "result.json").read_text())


def wait_until(condition):
    for dummy in range(WAIT_STEPS):
        if condition():
            return True
        time.sleep(WAIT_STEP_S)
    return condition()


def test_reached_probe_confirms_in_the_same_task(netns, tmp_path, listening_port):
    result = apply(netns, tmp_path, 443, listening_port)
    assert result["changed"] and result["confirmed"] is True and not result.get("failed"), result
    assert 0 <= result["probe_seconds"] < 1
    # the pending marker is gone and the table outlives the rollback timeout
    assert not list((tmp_path / "guard").glob("pending-*"))
    time.sleep(4)
    assert "tcp dport 443 accept" in table(netns)
    assert not list((tmp_path / "guard").glob("rolled-back-*"))

    again = apply(netns, tmp_path, 443, listening_port)
    assert again["changed"] is False and again["token"] == "" and "confirmed" not in again, again


def test_unreached_probe_fails_and_the_host_rolls_back(netns, tmp_path, listening_port, closed_port):
    apply(netns, tmp_path, 443, listening_port)
    result = apply(netns, tmp_path, 8443, closed_port, rollback_timeout=3, probe_timeout=1)
    assert result["failed"] and result["confirmed"] is False, result
    assert "is not confirmed" in result["msg"] and "127.0.0.1:%d" % closed_port in result["msg"]
    assert 1 <= result["probe_seconds"] < 3
    # the new table is live until the host's own timer restores the previous one
    assert "tcp dport 8443 accept" in table(netns)
    assert wait_until(lambda: "tcp dport 443 accept" in (table(netns) or ""))
    assert "8443" not in table(netns)
    assert wait_until(lambda: list((tmp_path / "guard").glob("rolled-back-*.done")))
    assert "dport 443 " in (tmp_path / "ruleset.nft").read_text()


def test_check_mode_neither_applies_nor_probes(netns, tmp_path, closed_port):
    result = apply(netns, tmp_path, 443, closed_port, check=True)
    assert result["changed"] and not result.get("failed") and result["token"] == "" and "confirmed" not in result
    assert table(netns) is None and not (tmp_path / "guard").exists()


@pytest.mark.parametrize("option, value, message", [
    ("guard_probe_host", "10.0.0.1; reboot", "guard_probe_host: '10.0.0.1; reboot' is not a host name or address"),
    ("guard_probe_port", 70000, "guard_probe_port: 70000 is not an integer from 1 to 65535"),
    ("guard_probe_timeout", "soon", "guard_probe_timeout: 'soon' is not an integer from 0 to 3600"),
])
def test_bad_probe_options_fail_before_the_host_is_changed(netns, tmp_path, listening_port, option, value, message):
    result = apply(netns, tmp_path, 443, listening_port, **{option: value})
    assert result["failed"] and result["msg"] == message, result
    assert table(netns) is None and not (tmp_path / "guard").exists()
