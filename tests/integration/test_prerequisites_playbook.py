# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/prerequisites.yml run with ansible-playbook against this machine (local connection).

* A bad inventory fails the play with the plan's own error (compute_plan on the same inventory).
* A clear-text LDAP password holding '{{' stops its host before the role validates its arguments,
  and the password appears in no output.
* Reports go to <safeq_output_dir>/prerequisites (default ./output where ansible-playbook runs, the
  ansible-runner artifact directory when AWX_ISOLATED_DATA_DIR is set); report files of an earlier run
  that a run does not write are removed, other files are kept.
* Tags limit the areas (the rest is not_applicable); safeq_report_only="true" (as an AWX survey sends it)
  reports without failing; set_stats publishes safeq_prerequisites.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "prerequisites.yml"
TIMEOUT = 600
SECRET = "Pq7-{{braceSecret-5521"
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AWX_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_SHOW_CUSTOM_STATS="1", **extra)
    return env


def _playbook(inventory, cwd, *args, **env):
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-v", "-i", str(inventory),
                           str(PLAYBOOK)] + list(args), cwd=str(cwd), env=_env(**env), capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def _write(path, data):
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _stats(proc):
    text = proc.stdout[proc.stdout.rindex("CUSTOM STATS"):]
    start = text.index("{")
    return json.JSONDecoder().raw_decode(text[start:])[0]["safeq_prerequisites"]


# ---- a bad inventory fails with the plan's error --------------------------------------------------

def test_bad_inventory_fails_the_play_with_the_plans_error(tmp_path):
    # 11 CML nodes in one cluster; Terminal Professional (at most 10) set on the ORS only
    hosts = {"cml%d" % i: dict(LOCAL, safeq_address="10.66.0.%d" % (10 + i)) for i in range(11)}
    ors = {"ors1": dict(LOCAL, safeq_address="10.66.1.10", safeq_features=["terminal_professional"])}
    inventory = _write(tmp_path / "hosts.yml", {"all": {"children": {"safeq_cml": {"hosts": hosts},
                                                                     "safeq_ors": {"hosts": ors}}}})
    groups = {"safeq_cml": sorted(hosts), "safeq_ors": ["ors1"]}
    with pytest.raises(ValueError) as planned:
        compute_plan(groups, dict(hosts, **ors))
    proc = _playbook(inventory, tmp_path)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "fatal: [cml0 -> localhost]: FAILED! => {\"changed\": false, \"msg\": %s}" % json.dumps(str(planned.value)) \
        in proc.stdout, proc.stdout[-3000:]
    assert "Gather facts" not in proc.stdout and not (tmp_path / "output").exists()


# ---- reports, stale files, tags, report only, the password guard ----------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("prerequisites")
    inventory = work / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    _write(inventory / "hosts.yml", {"all": {"children": {"safeq_cml": {"hosts": {
        "cml-local": dict(LOCAL, safeq_address="10.66.2.11"),
        "cml-braces": dict(LOCAL, safeq_address="10.66.2.12")}}}}})
    (inventory / "host_vars" / "cml-braces.yml").write_text(
        "prerequisites_ldap_bind_password: %s\n" % json.dumps(SECRET), encoding="utf-8")
    common = ["-e", json.dumps({"prerequisites_min_cpu_cores": 1024, "prerequisites_check_updates": False})]
    reports = work / "output" / "prerequisites"
    reports.mkdir(parents=True)
    (reports / "notes.txt").write_text("kept\n", encoding="utf-8")
    first = _playbook(inventory, work, *common)
    first_files = sorted(p.name for p in reports.iterdir())
    first_report = json.loads((reports / "prerequisites.json").read_text(encoding="utf-8"))
    second = _playbook(inventory, work, *common, "--limit", "cml-local", "--tags", "hardware",
                       "-e", "safeq_output_dir=output",
                       "-e", "safeq_report_only=true", "-e", json.dumps({"prerequisites_report_formats": ["json"]}))
    artifacts = work / "artifacts" / "4242"
    third = _playbook(inventory, work, *common, "--limit", "cml-local", "--tags", "ldap", "-e", "safeq_output_dir=",
                      AWX_ISOLATED_DATA_DIR=str(artifacts))
    return {"work": work, "reports": reports, "first": first, "first_files": first_files,
            "first_report": first_report, "second": second, "third": third, "artifacts": artifacts}


def test_first_run_writes_every_report_and_fails_on_mandatory_failures(runs):
    first = runs["first"]
    assert first.returncode == 2, first.stdout[-3000:]
    assert runs["first_files"] == [".safeq-prerequisites-manifest.json", "cml-local.json", "cml-local.md",
                                   "cml-local.xml", "notes.txt", "prerequisites.json", "prerequisites.md",
                                   "prerequisites.xml"]
    report = runs["first_report"]
    results = {r["id"]: r for r in report["hosts"]["cml-local"]["results"]}
    assert results["PRE-HW-CPU"]["status"] == "fail" and results["PRE-HW-CPU"]["mandatory"]
    assert "10.66.2.11" in results["PRE-STATIC-IP"]["evidence"]  # the plan's address of the host
    assert "before installation" in results["PRE-PORTS"]["evidence"]  # no SafeQ service on this machine
    assert "Mandatory prerequisites failed: PRE-HW-CPU" in first.stdout
    stats = _stats(first)
    assert "cml-local:PRE-HW-CPU" in stats["mandatory_failures"]
    assert {k: stats["summary"][k] for k in ("pass", "warn", "fail", "manual", "not_applicable")} == {
        k: report["summary"][k] for k in ("pass", "warn", "fail", "manual", "not_applicable")}


def test_a_password_ansible_cannot_template_is_refused_and_never_shown(runs):
    first = runs["first"]
    assert ("hostvars[cml-braces].prerequisites_ldap_bind_password cannot be used as written"
            in first.stdout), first.stdout[-3000:]
    recap = first.stdout[first.stdout.rindex("PLAY RECAP"):]
    braces = next(line for line in recap.splitlines() if line.startswith("cml-braces "))
    # at most the run-once tag check and the include of the secrets check, then its failure: no role task ran
    assert "failed=1" in braces and ("ok=1 " in braces or "ok=2 " in braces), braces
    assert "Validating arguments against arg spec" in first.stdout  # cml-local went on through validation
    connect = [r for r in runs["first_report"]["run"]["results"] if r["id"] == "PRE-CONNECT"]
    assert [(r["host"], r["status"]) for r in connect] == [("cml-braces", "fail")]
    texts = [first.stdout, first.stderr, runs["second"].stdout, runs["third"].stdout]
    texts += [p.read_text(errors="replace") for p in runs["work"].rglob("*") if p.is_file()
              and p.parent.name != "host_vars"]
    for text in texts:
        assert "braceSecret" not in text


def test_second_run_removes_the_files_it_does_not_write_and_keeps_others(runs):
    second, reports = runs["second"], runs["reports"]
    assert second.returncode == 0, second.stdout[-3000:]  # safeq_report_only "true", as AWX sends it
    assert sorted(p.name for p in reports.iterdir()) == [".safeq-prerequisites-manifest.json", "cml-local.json",
                                                         "notes.txt", "prerequisites.json"]
    manifest = json.loads((reports / ".safeq-prerequisites-manifest.json").read_text(encoding="utf-8"))
    assert manifest == {"files": ["cml-local.json", "prerequisites.json"]}


def test_tags_limit_the_areas(runs):
    report = json.loads((runs["reports"] / "prerequisites.json").read_text(encoding="utf-8"))
    results = report["hosts"]["cml-local"]["results"]
    for result in results:
        if result["area"] == "hardware":
            assert result["status"] != "not_applicable", result
        else:
            assert result["status"] == "not_applicable", result
    assert "Linux | Installed packages" not in runs["second"].stdout  # software gathering did not run
    assert _stats(runs["second"])["summary"]["fail"] == 1  # PRE-HW-CPU, reported, not failing the play


def test_the_runner_artifact_directory_is_the_default_output(runs):
    third = runs["third"]
    assert third.returncode == 0, third.stdout[-3000:]  # only LDAP checks: manual, nothing mandatory failed
    written = sorted(p.name for p in (runs["artifacts"] / "prerequisites").iterdir())
    assert "prerequisites.json" in written and "cml-local.md" in written
    report = json.loads((runs["artifacts"] / "prerequisites" / "prerequisites.json").read_text(encoding="utf-8"))
    statuses = {r["id"]: r["status"] for r in report["hosts"]["cml-local"]["results"]}
    assert statuses["PRE-LDAP-BIND"] == "manual" and statuses["PRE-HW-CPU"] == "not_applicable"
