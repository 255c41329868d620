# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX job templates' playbooks run the way AWX runs them: ansible-runner, survey defaults as extra vars.

Each test builds a private data dir (the thin AWX project of extensions/awx/project, an inventory),
runs one playbook through the ansible-runner Python API with the template's survey defaults and
AWX's meta variables, and checks what AWX would record: status, rc, per-host stats, the set_stats
summary (the playbook_on_stats event's artifact_data, stored by AWX as the job's artifacts) and the
files written into the run's artifact directory (AWX_ISOLATED_DATA_DIR).

plan runs on inventories/example (Windows hosts; plan contacts none of them). prerequisites and
verify are read-only and run against this machine through a one-host Linux inventory with the local
connection (runner_support.LOCAL_LINUX_INVENTORY).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from runner_support import (
    LOCAL_LINUX_INVENTORY,
    ROOT,
    awx_meta_vars,
    failure_report,
    files_under,
    make_private_data_dir,
    run_job,
    stats_artifacts,
    survey_defaults,
)

EXAMPLE = ROOT / "inventories" / "example"
PLAN = "SafeQ Hardening - Plan"
PREREQUISITES = "SafeQ Hardening - Prerequisites"
VERIFY = "SafeQ Hardening - Verify"


def _safeq_hosts(inventory_dir):
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    inventory = InventoryManager(loader=DataLoader(), sources=[str(inventory_dir)])
    hosts = set()
    for group in ("safeq_cml", "safeq_ors", "safeq_crs", "safeq_ap_connector", "safeq_etcd"):
        if group in inventory.groups:
            hosts.update(h.name for h in inventory.groups[group].get_hosts())
    return sorted(hosts)


def _assert_successful(runner, hosts):
    assert runner.status == "successful" and runner.rc == 0, failure_report(runner)
    stats = runner.stats
    for host in hosts:
        assert stats["ok"].get(host, 0) > 0, (host, stats)
        assert host not in stats["failures"] and host not in stats["dark"], (host, stats)


def _local_inventory(**host_vars):
    inventory = copy.deepcopy(LOCAL_LINUX_INVENTORY)
    inventory["all"]["children"]["safeq_cml"]["hosts"]["cml-local"].update(host_vars)
    return inventory


# ---- plan -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("plan")
    private = make_private_data_dir(base, EXAMPLE)
    extravars = dict(survey_defaults(PLAN), **awx_meta_vars(PLAN, "SafeQ servers"))
    return base, run_job(private, "plan.yml", extravars)


def test_plan_survey_default_is_the_empty_output_dir():
    # The value AWX sends when nobody answers: the playbook must then choose the artifact dir.
    assert survey_defaults(PLAN) == {"safeq_output_dir": ""}


def test_plan_job_is_successful(plan_run):
    _base, runner = plan_run
    _assert_successful(runner, ["localhost"])


def test_plan_publishes_its_summary(plan_run):
    _base, runner = plan_run
    artifacts = stats_artifacts(runner)
    assert artifacts is not None, "no playbook_on_stats event:\n" + failure_report(runner)
    assert "safeq_plan" in artifacts, "plan published no safeq_plan set_stats: %s" % sorted(artifacts)
    summary = artifacts["safeq_plan"]
    assert sorted(summary) == ["flows", "hosts", "rules_per_host", "unresolved", "warnings"], summary
    hosts = _safeq_hosts(EXAMPLE)
    assert summary["hosts"] == len(hosts) and isinstance(summary["hosts"], int)
    assert sorted(summary["rules_per_host"]) == hosts
    assert all(isinstance(v, int) and v > 0 for v in summary["rules_per_host"].values()), summary
    for key in ("flows", "warnings", "unresolved"):
        assert isinstance(summary[key], int) and summary[key] >= 0, (key, summary)
    assert summary["flows"] > 0


def _plan_files(directory):
    found = sorted(Path(directory).rglob("flows.json"))
    return found[0].parent if found else None


def test_plan_files_land_in_the_artifact_dir_of_the_run(plan_run):
    base, runner = plan_run
    artifact_dir = Path(runner.config.artifact_dir)
    assert artifact_dir == base / "private_data_dir" / "artifacts" / "4242"
    plan_dir = _plan_files(artifact_dir)
    assert plan_dir is not None, "no flows.json under the artifact dir %s: %s\n%s" % (
        artifact_dir, files_under(artifact_dir), failure_report(runner))
    assert files_under(base / "cwd") == [], "plan wrote into the working directory instead"
    written = {p.stem: p for p in plan_dir.rglob("*.json") if p.stem in _safeq_hosts(EXAMPLE)}
    assert sorted(written) == _safeq_hosts(EXAMPLE), files_under(plan_dir)
    # The files and the published numbers describe the same plan.
    summary = stats_artifacts(runner)["safeq_plan"]
    for host, path in written.items():
        policy = json.loads(path.read_text(encoding="utf-8"))
        assert policy["host"] == host and len(policy["rules"]) == summary["rules_per_host"][host], host
    assert len(json.loads((plan_dir / "flows.json").read_text(encoding="utf-8"))) == summary["flows"]


def test_plan_writes_where_the_operator_says(tmp_path):
    private = make_private_data_dir(tmp_path, EXAMPLE)
    chosen = tmp_path / "kept"
    extravars = dict(survey_defaults(PLAN), safeq_output_dir=str(chosen), **awx_meta_vars(PLAN, "SafeQ servers"))
    runner = run_job(private, "plan.yml", extravars)
    _assert_successful(runner, ["localhost"])
    assert _plan_files(chosen) is not None, files_under(tmp_path)
    assert _plan_files(runner.config.artifact_dir) is None


def test_plan_under_a_limit_computes_nothing(tmp_path):
    # Why the plan template does not prompt for a limit: plan's play targets localhost only.
    private = make_private_data_dir(tmp_path, EXAMPLE)
    extravars = dict(survey_defaults(PLAN), **awx_meta_vars(PLAN, "SafeQ servers"))
    runner = run_job(private, "plan.yml", extravars, limit="cml-prg-1")
    assert runner.status == "successful", failure_report(runner)
    assert runner.stats["ok"] == {} and _plan_files(runner.config.artifact_dir) is None
    assert "safeq_plan" not in (stats_artifacts(runner) or {})


# ---- prerequisites ----------------------------------------------------------------------------

# PRE-HW-CPU is mandatory on CML hosts: 1024 cores makes it fail on any machine.
FAILING_CPU = {"prerequisites_min_cpu_cores": 1024, "prerequisites_check_updates": False}


def test_prerequisites_report_only_job_is_successful_and_publishes_counts(tmp_path):
    private = make_private_data_dir(tmp_path, _local_inventory(**FAILING_CPU))
    extravars = dict(survey_defaults(PREREQUISITES), safeq_report_only="true",
                     **awx_meta_vars(PREREQUISITES, "SafeQ local"))
    assert extravars["safeq_output_dir"] == "" and extravars["safeq_report_only"] == "true"
    runner = run_job(private, "prerequisites.yml", extravars)
    _assert_successful(runner, ["cml-local"])
    artifacts = stats_artifacts(runner) or {}
    assert "safeq_prerequisites" in artifacts, failure_report(runner)
    published = artifacts["safeq_prerequisites"]
    counts = published["summary"]
    for key in ("pass", "warn", "fail", "manual", "not_applicable"):
        assert isinstance(counts[key], int) and counts[key] >= 0, (key, counts)
    assert counts["fail"] >= 1 and "cml-local:PRE-HW-CPU" in published["mandatory_failures"], published
    assert published["result"] == "fail" and "cml-local" in published["hosts"]
    # The reports went to the run's artifact dir and agree with the published counts.
    reports = sorted(Path(runner.config.artifact_dir).rglob("prerequisites.json"))
    assert reports, "no prerequisites.json under %s: %s" % (
        runner.config.artifact_dir, files_under(runner.config.artifact_dir))
    assert files_under(tmp_path / "cwd") == []
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert {k: report["summary"][k] for k in counts} == counts


def test_prerequisites_default_answers_fail_the_job_on_a_mandatory_failure(tmp_path):
    private = make_private_data_dir(tmp_path, _local_inventory(**FAILING_CPU))
    extravars = dict(survey_defaults(PREREQUISITES), **awx_meta_vars(PREREQUISITES, "SafeQ local"))
    assert extravars["safeq_report_only"] == "false"
    runner = run_job(private, "prerequisites.yml", extravars)
    assert runner.status == "failed" and runner.rc != 0, failure_report(runner)
    assert runner.stats["failures"].get("cml-local"), runner.stats
    published = (stats_artifacts(runner) or {}).get("safeq_prerequisites")
    assert published and "cml-local:PRE-HW-CPU" in published["mandatory_failures"], failure_report(runner)


# ---- verify -----------------------------------------------------------------------------------

def test_verify_report_only_job_is_successful_and_publishes_counts(tmp_path):
    playbook = ROOT / "playbooks" / "verify.yml"
    assert playbook.is_file(), ("playbooks/verify.yml does not exist yet: the AWX project's verify.yml imports "
                                "safeq.hardening.verify, so the Verify job template cannot run")
    private = make_private_data_dir(tmp_path, _local_inventory())
    extravars = dict(survey_defaults(VERIFY), safeq_report_only="true", **awx_meta_vars(VERIFY, "SafeQ local"))
    runner = run_job(private, "verify.yml", extravars)
    _assert_successful(runner, ["cml-local"])
    published = (stats_artifacts(runner) or {}).get("safeq_verify")
    assert published is not None, "verify published no safeq_verify set_stats:\n" + failure_report(runner)
    for key in ("pass", "warn", "fail"):
        assert isinstance(published[key], int) and published[key] >= 0, (key, published)
    assert files_under(tmp_path / "cwd") == []


# ---- awx_configure against a stand-in controller ----------------------------------------------

CONFIGURE = ROOT / "playbooks" / "awx_configure.yml"
TOKEN = "tok-5f1e0c2a9b7d"  # what the stand-in controller accepts; must never show in job output


def _configure(base, url, check=False, token_in_env=False):
    private = make_private_data_dir(base, {"all": {"hosts": {}}})
    extravars = {
        "controller_host": url,
        "safeq_awx_organization": "Default",
        "safeq_awx_inventory": "SafeQ servers",
        "safeq_awx_project_scm_url": "https://git.example.test/it/safeq-awx.git",
        "safeq_awx_credentials": ["SafeQ WinRM"],
        "safeq_awx_execution_environment": "SafeQ Hardening EE",
    }
    env = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    if token_in_env:
        env["CONTROLLER_OAUTH_TOKEN"] = TOKEN
    else:
        extravars["controller_oauthtoken"] = TOKEN
    return run_job(private, str(CONFIGURE), extravars, job_type="check" if check else "run", extra_env=env)


def _job_output(runner):
    artifact_dir = Path(runner.config.artifact_dir)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in (artifact_dir / "job_events").glob("*.json")]
    return "\n".join(texts + [(artifact_dir / "stdout").read_text(encoding="utf-8", errors="replace")])


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    """Runs, in order: check mode on an empty controller, a real run, a second real run (token from the
    environment), check mode after someone changed a template and added a node, a real run repairing it."""
    from runner_support import FakeController

    controller = FakeController(TOKEN)
    org = controller.add("organizations", name="Default")
    controller.add("inventories", name="SafeQ servers", organization=org["id"])
    controller.add("credentials", name="SafeQ WinRM", organization=org["id"])
    controller.add("execution_environments", name="SafeQ Hardening EE", organization=org["id"])
    url = controller.start()
    runs = {}
    try:
        empty = controller.snapshot()
        runs["check_empty"] = _configure(tmp_path_factory.mktemp("check_empty"), url, check=True)
        runs["check_empty_unchanged"] = controller.snapshot() == empty
        runs["first"] = _configure(tmp_path_factory.mktemp("first"), url)
        writes = len(controller.writes)
        runs["second"] = _configure(tmp_path_factory.mktemp("second"), url, token_in_env=True)
        runs["second_writes"] = len(controller.writes) - writes
        runs["state_after_second"] = controller.snapshot()
        # Someone edits the check-mode template by hand and adds a node to the workflow.
        check_jt = controller.named("job_templates", "SafeQ Hardening - Harden (check mode)")
        check_jt["job_type"] = "run"
        workflow = controller.named("workflow_job_templates", "SafeQ Hardening - Prerequisites to verify")
        stray = controller.add("workflow_job_template_nodes", identifier="stray", workflow_job_template=workflow["id"],
                               unified_job_template=check_jt["id"])
        plan_node = [n for n in controller.objects["workflow_job_template_nodes"].values()
                     if n["identifier"] == "plan"][0]
        controller.links.setdefault(("workflow_job_template_nodes", plan_node["id"], "success_nodes"), []).append(stray["id"])
        drifted = controller.snapshot()
        writes = len(controller.writes)
        runs["check_drift"] = _configure(tmp_path_factory.mktemp("check_drift"), url, check=True)
        runs["check_drift_writes"] = len(controller.writes) - writes
        runs["check_drift_unchanged"] = controller.snapshot() == drifted
        runs["repair"] = _configure(tmp_path_factory.mktemp("repair"), url)
        runs["controller"] = controller
        yield runs
    finally:
        controller.stop()


def test_configure_check_mode_on_an_empty_controller_writes_nothing(configured):
    runner = configured["check_empty"]
    assert runner.status == "successful" and runner.rc == 0, failure_report(runner)
    assert configured["check_empty_unchanged"], "check mode changed the controller"
    output = _job_output(runner)
    assert "Not previewed" in output and "SafeQ Hardening - Harden" in output


def test_configure_creates_the_templates_surveys_and_workflow(configured):
    runner, controller = configured["first"], configured["controller"]
    assert runner.status == "successful" and runner.rc == 0, failure_report(runner)
    objects = yaml.safe_load((ROOT / "extensions" / "awx" / "controller_objects.yml").read_text(encoding="utf-8"))
    org = controller.named("organizations", "Default")["id"]
    project = controller.named("projects", "SafeQ Hardening - Project")
    assert project and project["scm_url"] == "https://git.example.test/it/safeq-awx.git"
    credential = controller.named("credentials", "SafeQ WinRM")["id"]
    ee = controller.named("execution_environments", "SafeQ Hardening EE")["id"]
    for definition in objects["safeq_awx_job_templates"]:
        jt = controller.named("job_templates", definition["name"])
        assert jt is not None, definition["name"]
        for key, value in definition.items():
            if key == "survey_spec":
                assert controller.surveys[("job_templates", jt["id"])] == value, definition["name"]
            else:
                assert jt[key] == value, (definition["name"], key)
        assert (jt["organization"], jt["project"], jt["execution_environment"]) == (org, project["id"], ee)
        assert controller.linked("job_templates", jt["id"], "credentials") == [credential]
    workflow = controller.named("workflow_job_templates", objects["safeq_awx_workflow"]["name"])
    assert controller.surveys[("workflow_job_templates", workflow["id"])] == objects["safeq_awx_workflow"]["survey_spec"]
    nodes = {n["identifier"]: n for n in controller.objects["workflow_job_template_nodes"].values()
             if n["workflow_job_template"] == workflow["id"]}
    assert sorted(nodes) == sorted(n["identifier"] for n in objects["safeq_awx_workflow_nodes"])
    by_id = {n["id"]: i for i, n in nodes.items()}
    for definition in objects["safeq_awx_workflow_nodes"]:
        node = nodes[definition["identifier"]]
        edges = [by_id[i] for i in controller.linked("workflow_job_template_nodes", node["id"], "success_nodes")]
        assert edges == definition["success_nodes"], definition["identifier"]
        target = controller.find_unified(node["unified_job_template"])
        if "approval_node" in definition:
            assert target["type"] == "workflow_approval_template"
            assert {k: target[k] for k in definition["approval_node"]} == definition["approval_node"]
        else:
            assert target["name"] == definition["unified_job_template"]


def test_configure_is_idempotent(configured):
    runner = configured["second"]
    assert runner.status == "successful" and runner.rc == 0, failure_report(runner)
    assert runner.stats["changed"] == {}, runner.stats
    assert configured["second_writes"] == 0


def test_configure_check_mode_reports_drift_without_writing(configured):
    runner = configured["check_drift"]
    assert runner.status == "successful" and runner.rc == 0, failure_report(runner)
    assert runner.stats["changed"].get("localhost", 0) >= 2, runner.stats  # the template, the stray node
    assert configured["check_drift_writes"] == 0 and configured["check_drift_unchanged"]


def test_configure_repairs_drift(configured):
    runner, controller = configured["repair"], configured["controller"]
    assert runner.status == "successful" and runner.rc == 0, failure_report(runner)
    assert controller.named("job_templates", "SafeQ Hardening - Harden (check mode)")["job_type"] == "check"
    identifiers = [n["identifier"] for n in controller.objects["workflow_job_template_nodes"].values()]
    assert "stray" not in identifiers
    plan_node = [n for n in controller.objects["workflow_job_template_nodes"].values() if n["identifier"] == "plan"][0]
    assert len(controller.linked("workflow_job_template_nodes", plan_node["id"], "success_nodes")) == 1


def test_configure_never_shows_the_token(configured):
    for name in ("check_empty", "first", "second", "check_drift", "repair"):
        assert TOKEN not in _job_output(configured[name]), "the token appears in the output of the %s run" % name


def test_configure_reports_a_failure_with_the_message_and_without_the_token(tmp_path):
    from runner_support import FakeController

    controller = FakeController(TOKEN)
    org = controller.add("organizations", name="Default")  # no inventory "SafeQ servers"
    controller.add("credentials", name="SafeQ WinRM", organization=org["id"])
    controller.add("execution_environments", name="SafeQ Hardening EE", organization=org["id"])
    url = controller.start()
    try:
        runner = _configure(tmp_path, url)
    finally:
        controller.stop()
    assert runner.status == "failed" and runner.rc != 0, failure_report(runner)
    output = _job_output(runner)
    assert "[SafeQ Hardening - Plan] Request to /api/v2/inventories/?name=SafeQ+servers returned 0 items" in output
    assert TOKEN not in output
    assert controller.named("job_templates", "SafeQ Hardening - Plan") is None
