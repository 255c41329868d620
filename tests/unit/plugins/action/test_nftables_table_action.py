# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of nftables_table's guard: the bounded probe, its options and the confirm command.
(ansible-playbook runs of the whole guard: tests/integration/test_nftables_table_guard.py)"""

from __future__ import annotations

import socket

import pytest

from ansible_collections.safeq.hardening.plugins.action.nftables_table import (
    confirm_command, probe, probe_arguments)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def refusing(clock, cost=0.0):
    calls = []

    def connect(address, timeout):
        calls.append((address, timeout))
        clock.now += cost
        raise ConnectionRefusedError(111, "refused")
    return connect, calls


def test_probe_keeps_trying_until_the_timeout_then_gives_up():
    clock = FakeClock()
    connect, calls = refusing(clock)
    reached, seconds = probe("10.0.0.5", 22, 3, clock=clock, sleep=clock.sleep, connect=connect)
    assert (reached, seconds) == (False, 3.0)
    assert len(calls) == 13 and all(call[0] == ("10.0.0.5", 22) for call in calls)
    assert sum(clock.sleeps) == 3.0 and max(clock.sleeps) == 0.25


def test_probe_attempts_never_outlast_the_deadline():
    clock = FakeClock()
    connect, calls = refusing(clock, cost=0.9)
    reached, seconds = probe("h", 5985, 2, clock=clock, sleep=clock.sleep, connect=connect)
    assert not reached and 2 <= seconds < 3
    assert calls[0][1] == 2 and all(call[1] >= 0.1 for call in calls)


def test_probe_succeeds_on_a_later_attempt_and_closes_the_connection():
    clock = FakeClock()
    closed = []

    class Connection:
        def close(self):
            closed.append(True)

    def connect(address, timeout):
        if clock.now < 101:
            raise socket.timeout("timed out")
        return Connection()
    reached, seconds = probe("h", 22, 15, clock=clock, sleep=clock.sleep, connect=connect)
    assert reached and seconds == 1.0 and closed == [True]


def test_probe_with_zero_timeout_tries_once():
    clock = FakeClock()
    connect, calls = refusing(clock)
    assert probe("h", 22, 0, clock=clock, sleep=clock.sleep, connect=connect) == (False, 0.0)
    assert len(calls) == 1


def test_probe_reaches_a_real_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        reached, seconds = probe("127.0.0.1", server.getsockname()[1], 2)
    assert reached and seconds < 1


@pytest.mark.parametrize("args, expected", [
    ({}, {"guard_probe_host": "", "guard_probe_port": 22, "guard_probe_timeout": 15}),
    ({"guard_probe_host": "fe80::1", "guard_probe_port": "5986", "guard_probe_timeout": 0},
     {"guard_probe_host": "fe80::1", "guard_probe_port": 5986, "guard_probe_timeout": 0}),
    ({"guard_probe_host": "cml-1.corp.example", "guard_probe_port": 65535},
     {"guard_probe_host": "cml-1.corp.example", "guard_probe_port": 65535, "guard_probe_timeout": 15}),
])
def test_probe_arguments(args, expected):
    assert probe_arguments(args) == expected


@pytest.mark.parametrize("args, message", [
    ({"guard_probe_host": "a b"}, "guard_probe_host: 'a b' is not a host name or address"),
    ({"guard_probe_host": "$(id)"}, "guard_probe_host: '$(id)' is not a host name or address"),
    ({"guard_probe_host": ["10.0.0.1"]}, "guard_probe_host: ['10.0.0.1'] is not a host name or address"),
    ({"guard_probe_port": 0}, "guard_probe_port: 0 is not an integer from 1 to 65535"),
    ({"guard_probe_port": True}, "guard_probe_port: True is not an integer from 1 to 65535"),
    ({"guard_probe_port": "22.5"}, "guard_probe_port: '22.5' is not an integer from 1 to 65535"),
    ({"guard_probe_timeout": -1}, "guard_probe_timeout: -1 is not an integer from 0 to 3600"),
])
def test_probe_arguments_refused(args, message):
    with pytest.raises(ValueError) as error:
        probe_arguments(args)
    assert str(error.value) == message


def test_confirm_command_removes_only_the_pending_marker():
    assert confirm_command("/run/safeq_hardening", "0123456789abcdef") == "rm /run/safeq_hardening/pending-0123456789abcdef"
    assert confirm_command("/tmp/my guard", "0123456789abcdef") == "rm '/tmp/my guard/pending-0123456789abcdef'"


@pytest.mark.parametrize("guard_dir, token, message", [
    ("/run/x", "0123456789ABCDEF", "token: '0123456789ABCDEF' is not a rollback token"),
    ("/run/x", "01234567; rm -rf /", "token: '01234567; rm -rf /' is not a rollback token"),
    ("/run/x", None, "token: None is not a rollback token"),
    ("run/x", "0123456789abcdef", "guard_dir: 'run/x' is not an absolute path"),
    ("/run/x\n", "0123456789abcdef", "guard_dir: '/run/x\\n' is not an absolute path"),
])
def test_confirm_command_refuses(guard_dir, token, message):
    with pytest.raises(ValueError) as error:
        confirm_command(guard_dir, token)
    assert str(error.value) == message
