# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDAP prerequisite checks against a real slapd, through the shipped Ansible path.

One ansible-playbook run of playbooks/prerequisites.yml (the safeq.hardening.prerequisites role)
against five CML hosts of one inventory that all connect locally and differ only in their LDAP
settings:

* cml-good       - right password (holding '{{', marked !unsafe), existing container, complete users
* cml-wrongpw    - wrong password of the integration account
* cml-containers - one configured container DN does not exist, and another container holds
                   users without the card-number attribute (employeeNumber)
* cml-noport     - nothing listens on the configured LDAP port
* cml-braces     - the right password in clear text, not marked: Ansible cannot template it, so the
                   playbook stops the host before the role and never shows the value

The assertions read the JSON report the role writes; the passwords must not appear in any output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from slapd_directory import BIND_DN, BIND_PASSWORD, PASSWORD_MARKERS, ROOT, SUFFIX, WRONG_PASSWORD, free_port

PEOPLE = "ou=People," + SUFFIX
CONTRACTORS = "ou=Contractors," + SUFFIX
MISSING = "ou=Missing," + SUFFIX
PLAYBOOK_TIMEOUT = 300
EVALUATED = ("cml-good", "cml-wrongpw", "cml-containers", "cml-noport")


def _yaml_string(text):
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _write_inventory(directory, slapd, output_dir, closed_port):
    common = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "safeq_features": ["terminal_professional"],
        "prerequisites_output_dir": str(output_dir),
        "prerequisites_check_updates": False,
        "prerequisites_ldap_server": "127.0.0.1",
        "prerequisites_ldap_port": slapd.port,
        "prerequisites_ldap_scheme": "ldap",
        "prerequisites_ldap_connect_timeout": 2,
        "prerequisites_ldap_task_timeout": 60,
        "prerequisites_ldap_bind_dn": BIND_DN,
        "prerequisites_ldap_domains": ["safeq.test"],
        "prerequisites_ldap_user_filter": "(objectClass=inetOrgPerson)",
        "prerequisites_ldap_attributes": {
            "login": "uid", "given_name": "givenName", "surname": "sn", "department": "departmentNumber",
            "card_number": "employeeNumber", "unique_id": "entryUUID", "email": "mail",
        },
        "prerequisites_ldap_replication": {"full": "daily 02:00", "differential": "hourly"},
    }
    hosts = {
        "cml-good": {"prerequisites_ldap_user_containers": [PEOPLE], "prerequisites_report_only": True},
        "cml-wrongpw": {"prerequisites_ldap_user_containers": [PEOPLE]},
        "cml-containers": {"prerequisites_ldap_user_containers": [PEOPLE, CONTRACTORS, MISSING]},
        "cml-noport": {"prerequisites_ldap_port": closed_port, "prerequisites_ldap_user_containers": [PEOPLE]},
        "cml-braces": {"prerequisites_ldap_user_containers": [PEOPLE]},
    }
    for index, name in enumerate(hosts):
        hosts[name]["safeq_address"] = "10.77.0.%d" % (11 + index)  # labels for the plan; never contacted
    (directory / "hosts.yml").write_text(yaml.safe_dump(
        {"all": {"children": {"safeq_cml": {"hosts": hosts, "vars": common}}}}), encoding="utf-8")
    passwords = {"cml-good": "!unsafe " + _yaml_string(BIND_PASSWORD),
                 "cml-wrongpw": "!unsafe " + _yaml_string(WRONG_PASSWORD),
                 "cml-containers": "!unsafe " + _yaml_string(BIND_PASSWORD),
                 "cml-noport": "!unsafe " + _yaml_string(BIND_PASSWORD),
                 "cml-braces": _yaml_string(BIND_PASSWORD)}
    (directory / "host_vars").mkdir()
    for host, value in passwords.items():
        (directory / "host_vars" / ("%s.yml" % host)).write_text(
            "---\nprerequisites_ldap_bind_password: %s\n" % value, encoding="utf-8")


@pytest.fixture(scope="module")
def run(slapd, tmp_path_factory):
    work = tmp_path_factory.mktemp("ldap-run")
    output_dir = work / "out"
    inventory = work / "inventory"
    inventory.mkdir()
    _write_inventory(inventory, slapd, output_dir, free_port())
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_SHOW_CUSTOM_STATS="1")
    started = time.monotonic()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-v", "-i", str(inventory),
         str(ROOT / "playbooks" / "prerequisites.yml")],
        cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False,
    )
    elapsed = time.monotonic() - started
    report_file = output_dir / "prerequisites.json"
    assert report_file.exists(), "no report written; rc=%s\n%s\n%s" % (proc.returncode, proc.stdout[-4000:],
                                                                       proc.stderr[-2000:])
    report = json.loads(report_file.read_text())
    return {"proc": proc, "report": report, "output_dir": output_dir, "elapsed": elapsed}


def _results(run, host):
    return {r["id"]: r for r in run["report"]["hosts"][host]["results"]}


def test_good_bind_and_attributes(run):
    res = _results(run, "cml-good")
    for check_id in ("PRE-LDAP-SERVER", "PRE-LDAP-REACH", "PRE-LDAP-BIND", "PRE-LDAP-DOMAINS", "PRE-LDAP-CONTAINERS",
                     "PRE-LDAP-ATTR-LOGIN", "PRE-LDAP-ATTR-NAME", "PRE-LDAP-ATTR-DEPARTMENT", "PRE-LDAP-ATTR-CARD",
                     "PRE-LDAP-ATTR-UID", "PRE-LDAP-ATTR-EMAIL", "PRE-LDAP-REPLICATION"):
        assert res[check_id]["status"] == "pass", (check_id, res[check_id])
    assert "2 users" in res["PRE-LDAP-CONTAINERS"]["evidence"]
    assert "entryUUID" in res["PRE-LDAP-ATTR-UID"]["evidence"]


def test_wrong_password_fails_clearly(run):
    res = _results(run, "cml-wrongpw")
    bind = res["PRE-LDAP-BIND"]
    assert bind["status"] == "fail" and bind["mandatory"] is True
    assert "Invalid credentials" in bind["evidence"] and "49" in bind["evidence"]
    assert res["PRE-LDAP-REACH"]["status"] == "pass"
    # what depends on the bind is not claimed either way
    for check_id in ("PRE-LDAP-CONTAINERS", "PRE-LDAP-ATTR-LOGIN", "PRE-LDAP-DOMAINS"):
        assert res[check_id]["status"] == "manual" and "bind did not succeed" in res[check_id]["evidence"]
    failures = {(f["host"], f["id"]) for f in run["report"]["mandatory_failures"]}
    assert ("cml-wrongpw", "PRE-LDAP-BIND") in failures


def test_missing_container(run):
    res = _results(run, "cml-containers")
    containers = res["PRE-LDAP-CONTAINERS"]
    assert containers["status"] == "fail"
    assert MISSING in containers["evidence"] and "not found" in containers["evidence"]
    assert containers["data"]["missing"] == [MISSING]
    assert "ou=People" in containers["evidence"] and "ou=Contractors" in containers["evidence"]  # found ones listed
    assert res["PRE-LDAP-ATTR-LOGIN"]["status"] == "pass"


def test_users_missing_card_number(run):
    res = _results(run, "cml-containers")
    card = res["PRE-LDAP-ATTR-CARD"]
    assert card["status"] == "warn"
    assert "2 of 4" in card["evidence"] and "employeeNumber" in card["evidence"]
    assert sorted(card["data"]["missing"]) == ["uid=carol," + CONTRACTORS, "uid=dave," + CONTRACTORS]
    assert res["PRE-LDAP-ATTR-EMAIL"]["status"] == "pass"


def test_unreachable_port(run):
    res = _results(run, "cml-noport")
    assert res["PRE-LDAP-REACH"]["status"] == "fail"
    assert res["PRE-LDAP-BIND"]["status"] == "fail"
    assert "contact LDAP server" in res["PRE-LDAP-BIND"]["evidence"]


def test_clear_text_password_with_braces_is_refused_without_showing_it(run):
    proc = run["proc"]
    assert "hostvars[cml-braces].prerequisites_ldap_bind_password cannot be used as written" in proc.stdout
    assert "cml-braces" not in run["report"]["hosts"]
    connect = [r for r in run["report"]["run"]["results"] if r["id"] == "PRE-CONNECT"]
    assert [(r["host"], r["status"]) for r in connect] == [("cml-braces", "fail")]


def test_password_never_in_output(run):
    outputs = {"stdout": run["proc"].stdout, "stderr": run["proc"].stderr}
    for path in sorted(run["output_dir"].rglob("*")):
        if path.is_file():
            outputs[str(path)] = path.read_text(errors="replace")
    # stdout/stderr + (run + 4 evaluated hosts) x 3 formats + the manifest
    assert len(outputs) == 2 + 3 * (1 + len(EVALUATED)) + 1, sorted(outputs)
    for name, text in outputs.items():
        for secret in (BIND_PASSWORD, WRONG_PASSWORD) + PASSWORD_MARKERS:
            assert secret not in text, "a bind password leaked into %s" % name


def test_playbook_fails_on_mandatory_failure_unless_report_only(run):
    proc = run["proc"]
    assert proc.returncode == 2, proc.stdout[-3000:]
    recap = proc.stdout[proc.stdout.rindex("PLAY RECAP"):]
    lines = {line.split()[0]: line for line in recap.splitlines()[1:] if line.strip() and ":" in line}
    assert "failed=0" in lines["cml-good"]           # report_only: true
    assert "failed=1" in lines["cml-wrongpw"]
    assert "failed=1" in lines["cml-braces"]
    assert "PRE-LDAP-BIND" in proc.stdout


def test_reports_in_every_format(run):
    out = run["output_dir"]
    junit = (out / "prerequisites.xml").read_text()
    assert 'name="[MANUAL]' in junit or "status" in junit
    assert '<failure type="mandatory"' in junit
    md = (out / "cml-containers.md").read_text()
    assert "PRE-LDAP-ATTR-CARD" in md and "WARN" in md
    assert run["report"]["summary"]["hosts"] == 4
    stats = run["proc"].stdout[run["proc"].stdout.rindex("CUSTOM STATS"):]
    assert "safeq_prerequisites" in stats and "cml-wrongpw:PRE-LDAP-BIND" in stats  # set_stats, AWX or not
    topology = {r["id"]: r for r in run["report"]["run"]["results"]}
    assert topology["PRE-TOPOLOGY-TERMINALS"]["status"] == "pass"
    assert "cluster default: 5 CML node(s), terminal_professional (at most 10" in topology[
        "PRE-TOPOLOGY-TERMINALS"]["evidence"]
    print("ldap integration playbook run took %.1fs" % run["elapsed"])
