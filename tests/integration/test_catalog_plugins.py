"""The lookup and the info module through the real ansible CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
           ANSIBLE_LOAD_CALLBACK_PLUGINS="1")


def _adhoc(*args):
    proc = subprocess.run([str(BIN / "ansible"), "localhost", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_lookup_returns_every_entry():
    rc, result = _adhoc("-m", "ansible.builtin.debug",
                        "-a", "msg={{ lookup('safeq.hardening.port_catalog', wantlist=True) }}")
    assert rc == 0
    assert len(result["msg"]) >= 85
    assert {e["id"] for e in result["msg"]} >= {"ws-jmx-cml-19898", "is-rmi-20222"}


def test_lookup_jmespath_query():
    rc, result = _adhoc("-m", "ansible.builtin.debug", "-a",
                        "msg={{ lookup('safeq.hardening.port_catalog', query=\"[?hardening=='self_only'].ports[]\") }}")
    assert rc == 0 and sorted(result["msg"]) == [20222, 20223, 20224, 20225]


def test_lookup_bad_query_is_a_clear_error():
    rc, result = _adhoc("-m", "ansible.builtin.debug", "-a",
                        "msg={{ lookup('safeq.hardening.port_catalog', query='[?') }}")
    assert rc != 0 and "invalid JMESPath expression" in result["msg"]


def test_info_module_filters():
    rc, result = _adhoc("-m", "safeq.hardening.port_catalog_info", "-a", "components=crs section=inter_server")
    assert rc == 0 and result["changed"] is False
    assert [e["id"] for e in result["entries"]] and all("crs" in e["components"] for e in result["entries"])
    assert result["count"] == len(result["entries"])


def test_info_module_rejects_bad_choice():
    rc, result = _adhoc("-m", "safeq.hardening.port_catalog_info", "-a", "components=fax")
    assert rc != 0 and "components" in result["msg"] and "fax" in result["msg"]
