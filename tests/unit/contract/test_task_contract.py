# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Windows module call the roles make fits the installed module, as the host would receive it.

Two layers:

* static: every task of the roles that calls an ansible.windows/community.windows module has
  literal option names and values the installed module accepts, under a name that is not
  redirected or deprecated;
* simulated: ``simulate_tasks.py`` plays harden (playbooks/harden.yml: the firewall role, then each
  component role importing safeq.hardening.component with its data), the firewall role alone with
  each switch, and verify, for every Windows host of inventories/example, honouring ``when``,
  ``loop`` and ``register``; the host answers from recorded state documents
  (tests/unit/fixtures/windows_firewall/). Every module call that reaches the host is validated item
  by item against the installed module's spec, and what the roles decide is checked.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from checks import (
    FIREWALL_RULE,
    firewall_rule_problems,
    invocation_problems,
    iter_tasks,
    literal_task_problems,
    minimum_versions,
    module_name,
    windows_module,
    windows_task_files,
)
from contract_support import (
    BACKUP_LIST,
    CONF_FILES,
    FIREWALL_ONLY,
    ROOT,
    STALE_RULE,
    load_fixture,
    run_simulation,
    scenario,
    windows_calls,
    windows_host,
    with_our_rules,
)

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import (
    WINDOWS_FIREWALL_STATE_COMMAND,
)

TASK_FILES = windows_task_files()
# The roles the simulation plays (the prerequisites role is only checked statically here).
SIMULATED_ROLES = ("firewall", "component", "verify")
EXPECTED_TASK_FILES = {
    "roles/firewall/tasks/windows.yml", "roles/firewall/tasks/windows_broader_rules.yml",
    "roles/firewall/tasks/windows_restore_rules.yml", "roles/component/tasks/jmx_windows.yml",
    "roles/component/tasks/services_windows.yml", "roles/component/tasks/listeners.yml",
    "roles/verify/tasks/firewall_windows.yml", "roles/verify/tasks/listeners.yml",
}
MANAGEMENT = "SafeQ Hardening - management-in-tcp"
JAVA = "Java(TM) Platform SE binary"
# Runs that must stop the host, by scenario kind (the task that stops it).
STOPS = {
    "profile_off": "Stop when the rules we add could not take effect (checked before any change)",
    "gpo_merge_off": "Stop when the rules we add could not take effect (checked before any change)",
    "jmx_file_missing": "Fail on a JMX configuration file that was not found",
}


def _kind(run_id):
    return run_id.split("/", 1)[0]


def _host(run_id):
    return run_id.split("/", 1)[1]


def _rule_calls(run):
    return [c["args"] for c in windows_calls(run, FIREWALL_RULE)]


def _rendered(example_plan, host):
    return example_plan["rendered"][host]["windows"]


# ---- static --------------------------------------------------------------------------------------

def test_task_files_found():
    found = {str(p.relative_to(ROOT)) for p in TASK_FILES}
    assert EXPECTED_TASK_FILES <= found, sorted(EXPECTED_TASK_FILES - found)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_literal_options_fit_the_module(path):
    assert literal_task_problems(path) == []


def test_no_templated_module_name_or_free_form_args():
    for path in TASK_FILES:
        for task in iter_tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            module = module_name(task) or ""
            if windows_module(module):
                args = {} if task[module] is None else task[module]
                assert isinstance(args, dict), (path, task.get("name"))
                assert "{{" not in json.dumps(list(args)), (path, task.get("name"))


# ---- the simulation --------------------------------------------------------------------------------

def test_every_scenario_ran_for_every_host(simulations, windows_hosts):
    kinds = {"first", "second", "absent", "absent_other_winrm", "drift", "profile_off", "enable_profiles",
             "gpo_merge_off", "disable_broader", "restore_nothing_disabled", "verify"}
    for kind in kinds:
        assert sorted(_host(i) for i in simulations if _kind(i) == kind) == windows_hosts, kind
    assert any(_kind(i) == "restore_broader" for i in simulations)


def test_simulations_run_without_errors(simulations):
    errors = {run_id: run["errors"] for run_id, run in simulations.items() if run["errors"]}
    assert errors == {}


def test_every_rendered_call_fits_the_installed_module(simulations):
    minimums = minimum_versions()
    problems, count = [], 0
    for run_id, run in sorted(simulations.items()):
        for call in run["calls"]:
            count += 1
            for problem in invocation_problems(call["module"], call["args"], minimums):
                problems.append("%s %s %r (%s): %s" % (run_id, call["file"], call["task"], call["label"], problem))
    assert count > 500, "too few Windows module calls were rendered (%d)" % count
    assert problems == []


def test_every_windows_task_is_reached_by_some_scenario(simulations):
    reached = {(c["file"], c["task"]) for run in simulations.values() for c in run["calls"]}
    missing = []
    for path in [p for p in TASK_FILES if p.relative_to(ROOT).parts[1] in SIMULATED_ROLES]:
        for task in iter_tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if windows_module(module_name(task) or ""):
                key = (str(path.relative_to(ROOT)), task.get("name"))
                if key not in reached:
                    missing.append(key)
    assert missing == []


def test_runs_stop_exactly_where_they_must(simulations, example_plan):
    for run_id, run in sorted(simulations.items()):
        kind = _kind(run_id)
        expected = STOPS.get(kind)
        if kind == "jmx_listens_everywhere":
            policy = example_plan["policies"][_host(run_id)]
            if any(e.get("exposure") == "fail" for e in policy["expected_listeners"]):
                expected = "Fail on a port the vendor binds to localhost that listens on another address"
        got = run["failed"]["task"] if run["failed"] else None
        assert got == expected, (run_id, run["failed"])


def test_skipped_tasks_reach_nothing(simulations):
    for run_id, run in simulations.items():
        # the Linux socket reader never runs on a Windows host, whatever the scenario
        assert "List the listening sockets (Linux, read-only)" not in {e["task"] for e in run["executed"]}, run_id
        if _kind(run_id) in ("first", "second", "verify", "absent", "drift"):
            assert not any(c["file"].endswith(("windows_broader_rules.yml", "windows_restore_rules.yml"))
                           for c in run["calls"]), run_id
            assert not windows_calls(run, "ansible.windows.win_firewall"), run_id
            assert "Turn the firewall profiles on (firewall_windows_enable_profiles)" not in {
                e["task"] for e in run["executed"]}
        if _kind(run_id).startswith("absent"):
            # component roles do nothing when the firewall is being removed
            assert {c["file"] for c in run["calls"]} == {"roles/firewall/tasks/windows.yml"}, run_id


def test_read_only_queries_are_the_fixed_ones(simulations):
    reads = [c for run in simulations.values() for c in windows_calls(run, "ansible.windows.win_powershell")]
    assert reads
    for call in reads:
        assert call["args"] == {"script": WINDOWS_FIREWALL_STATE_COMMAND}, call["task"]
        assert call["changed_when"] is False and call["check_mode"] is False, call["task"]


# ---- harden: first run, second run, drift -------------------------------------------------------------

def test_first_run_applies_every_rule_management_first(simulations, example_plan, windows_hosts):
    for host in windows_hosts:
        run = simulations["first/%s" % host]
        applied = _rule_calls(run)
        rendered = _rendered(example_plan, host)
        assert applied == rendered, host
        assert applied[0]["name"] == MANAGEMENT
        assert len(windows_calls(run, "ansible.windows.win_powershell")) == 1
        assert run["calls"][0]["runs_as"] == "ansible.windows.win_powershell", "the state is read before any change"


def test_second_run_reads_once_and_changes_no_rule(simulations, windows_hosts):
    for host in windows_hosts:
        run = simulations["second/%s" % host]
        audit = run["facts"]["__firewall_windows_audit"]
        assert len(windows_calls(run, "ansible.windows.win_powershell")) == 1, host
        assert audit["remove"] == [] and audit["blocking"] == [] and audit["apply"] == []
        # the state query lists our group's inbound and outbound rules: everything is compared
        assert {f["kind"] for f in audit["drift"]["findings"]} == {"in_sync"}, host
        assert audit["drift"]["unchecked"] == []
        assert _rule_calls(run) == [], host


def test_drift_reapplies_only_what_differs_and_removes_our_stale_rule(simulations, example_plan, windows_hosts):
    for host in windows_hosts:
        run = simulations["drift/%s" % host]
        calls = _rule_calls(run)
        assert calls == [_rendered(example_plan, host)[0], {"name": STALE_RULE, "state": "absent"}], host


def test_report_after_apply_judges_the_state_with_our_rules(simulations, windows_hosts):
    for host in windows_hosts:
        first = simulations["first/%s" % host]
        audit = first["facts"]["__firewall_windows_audit"]
        # before the apply nobody reaches the policy's ports; after it every peer does
        assert any(f["kind"] == "peers_not_admitted" for f in audit["effective"]["findings"]), host
        after = audit["effective_after_apply"]["findings"]
        assert not [f for f in after if f["status"] == "fail"], host
        assert not [m for m in first["messages"] if m["task"].startswith("Report where the firewall")], host


# ---- absent and the management guard ---------------------------------------------------------------

def test_absent_removes_our_rules_and_keeps_the_management_rule(simulations, example_plan, windows_hosts):
    for host in windows_hosts:
        run = simulations["absent/%s" % host]
        calls = _rule_calls(run)
        assert all(set(a) == {"name", "state"} and a["state"] == "absent" for a in calls), host
        expected = [r["name"] for r in _rendered(example_plan, host)[1:]] + [STALE_RULE]
        assert [a["name"] for a in calls] == expected, host
        assert MANAGEMENT not in [a["name"] for a in calls]
        kept = [m["msg"] for m in run["messages"] if m["task"].startswith("Keep the management rule")]
        assert len(kept) == 1 and "Removing it would cut WinRM" in kept[0]
        assert [c["runs_as"] for c in run["calls"]].count("ansible.windows.win_powershell") == 1
        assert not [c for c in run["calls"] if c["runs_as"] not in (FIREWALL_RULE, "ansible.windows.win_powershell")]


def test_absent_removes_the_management_rule_last_when_another_rule_admits_the_controller(simulations, windows_hosts):
    for host in windows_hosts:
        calls = _rule_calls(simulations["absent_other_winrm/%s" % host])
        names = [a["name"] for a in calls]
        assert names[-1] == MANAGEMENT and names.count(MANAGEMENT) == 1, host
        assert all(a["state"] == "absent" for a in calls)


# ---- switches ----------------------------------------------------------------------------------

def test_profile_off_stops_before_any_change(simulations, windows_hosts):
    for host in windows_hosts:
        for kind in ("profile_off", "gpo_merge_off"):
            run = simulations["%s/%s" % (kind, host)]
            assert [c["runs_as"] for c in run["calls"]] == ["ansible.windows.win_powershell"], (kind, host)
        assert "Domain is off" in " ".join(simulations["profile_off/%s" % host]["failed"]["msg"])
        assert "AllowLocalFirewallRules False" in " ".join(simulations["gpo_merge_off/%s" % host]["failed"]["msg"])


def test_enable_profiles_turns_the_profile_on_before_the_rules(simulations, example_plan, windows_hosts):
    for host in windows_hosts:
        run = simulations["enable_profiles/%s" % host]
        modules = [c["runs_as"] for c in run["calls"]]
        assert modules[:2] == ["ansible.windows.win_powershell", "ansible.windows.win_firewall"], host
        assert run["calls"][1]["args"] == {"profiles": ["Domain"], "state": "enabled"}
        assert _rule_calls(run) == _rendered(example_plan, host)


def test_disable_broader_rules_backs_up_then_disables_by_display_name(simulations, windows_hosts):
    disabled_somewhere = False
    for host in windows_hosts:
        run = simulations["disable_broader/%s" % host]
        audit = run["facts"]["__firewall_windows_audit"]
        disable = [b for b in audit["broader_rules"] if b["can_disable"]]
        calls = [c for c in run["calls"] if c["file"].endswith("windows_broader_rules.yml")]
        if not audit["broader_rules"]:
            assert calls == [], host
            continue
        modules = [c["runs_as"] for c in calls]
        assert modules[:3] == ["ansible.windows.win_file", "ansible.windows.win_command", "ansible.windows.win_copy"]
        argv = calls[1]["args"]["argv"]
        assert argv[:3] == ["netsh", "advfirewall", "export"] and argv[3].endswith(".wfw")
        assert calls[2]["args"]["dest"] == BACKUP_LIST
        assert json.loads(calls[2]["args"]["content"]) == disable
        controller = [c["task"] for c in run["controller"] if c["delegate_to"] == "localhost"
                      and c["module"] != "safeq.hardening.policy_plan"]
        assert controller == ["Folder for the list on the controller", "Keep the list of disabled rules on the controller"]
        names = [c["args"]["name"] for c in calls if c["runs_as"] == FIREWALL_RULE]
        assert names == list(dict.fromkeys(b["display_name"] for b in disable)), "one call per display name"
        assert all(c["args"] == {"name": c["args"]["name"], "enabled": False} for c in calls if c["runs_as"] == FIREWALL_RULE)
        java = [b for b in disable if b["display_name"] == JAVA]
        if java:
            disabled_somewhere = True
            # the UDP rule of the same name is disabled with it: restore must not give it the TCP protocol
            assert java[0]["also_disables"] and "protocol" not in java[0]["restore"]
    assert disabled_somewhere


def test_disable_plan_reports_rules_it_must_not_touch(example_plan):
    """win_firewall_rule changes every rule of a display name, in the local store only."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils.windows_audit import audit

    host = "cml-prg-1"
    policy, rendered = example_plan["policies"][host], _rendered(example_plan, host)
    document = with_our_rules(load_fixture("installer_rules_cml.json"), rendered, host)
    java = next(r for r in document["rules"] if r["DisplayName"] == JAVA and r["Protocol"] == "TCP")
    block_twin = dict(java, Name="TCP Query User{block}java.exe", Action="Block", Profile="Public")
    gpo_copy = dict(java, Name="{gpo-java}", DisplayName="Java (GPO)", PolicyStoreSourceType="GroupPolicy")

    def entry(state, name):
        result = audit({"output": [json.dumps(state)]}, policy, rendered)
        return next(b for b in result["broader_rules"] if b["display_name"] == name)

    plain = entry(document, JAVA)
    assert plain["can_disable"] and plain["reason"] == ""
    assert plain["restore"]["program"] == java["Program"] and plain["restore"]["enabled"] is True
    twin = entry(dict(document, rules=document["rules"] + [block_twin]), JAVA)
    assert twin["can_disable"] is False and "block rule" in twin["reason"] and twin["restore"] is None
    gpo = entry(dict(document, rules=document["rules"] + [gpo_copy]), "Java (GPO)")
    assert gpo["can_disable"] is False and "Group Policy" in gpo["reason"]


def test_restore_reenables_each_rule_as_recorded(simulations, windows_hosts):
    restored = [i for i in simulations if _kind(i) == "restore_broader"]
    assert restored
    for run_id in restored:
        run = simulations[run_id]
        modules = [c["runs_as"] for c in run["calls"] if c["file"].endswith("windows_restore_rules.yml")]
        assert modules[:2] == ["ansible.windows.win_stat", "ansible.windows.slurp"], run_id
        listed = json.loads(next(c for c in simulations["disable_broader/%s" % _host(run_id)]["calls"]
                                 if c["runs_as"] == "ansible.windows.win_copy")["args"]["content"])
        enables = [c["args"] for c in run["calls"] if c["file"].endswith("windows_restore_rules.yml")
                   and c["runs_as"] == FIREWALL_RULE]
        assert [a["name"] for a in enables] == list(dict.fromkeys(b["display_name"] for b in listed))
        for args in enables:
            assert args["enabled"] is True and args["direction"] == "in" and args["action"] == "allow"
            assert firewall_rule_problems(args) == [], args
    for host in windows_hosts:
        run = simulations["restore_nothing_disabled/%s" % host]
        restore = [c["runs_as"] for c in run["calls"] if c["file"].endswith("windows_restore_rules.yml")]
        assert restore == ["ansible.windows.win_stat"], host


# ---- component roles: JMX files, services, listeners ---------------------------------------------------

def test_jmx_files_are_found_below_the_services_install_folders(simulations, windows_hosts, example_plan):
    seen = set()
    for host in windows_hosts:
        run = simulations["first/%s" % host]
        finds = windows_calls(run, "ansible.windows.win_find")
        edits = windows_calls(run, "community.windows.win_lineinfile")
        components = example_plan["policies"][host]["components"]
        if "cml" in components:
            [find] = finds
            assert find["args"]["paths"][0] == "C:\\SafeQ5\\Management", "install folder of the CML services first"
            assert find["args"]["patterns"] == ["cmldb-cluster.conf"] and find["args"]["recurse"] is True
            assert edits[0]["args"]["path"] == CONF_FILES["cmldb-cluster.conf"]
        if "crs" in components:
            [find] = finds
            assert find["args"]["paths"] == ["C:\\SafeQ5", "C:\\Program Files\\YSoft SafeQ 5"]
            assert edits[0]["args"]["path"] == CONF_FILES["crs.conf"]
        for edit in edits:
            prop, value = edit["args"]["line"].split("=", 1)
            assert value == "127.0.0.1" and edit["args"]["backup"] is True
            assert edit["args"]["regex"].startswith("^") and prop in edit["args"]["regex"]
            seen.add((prop, Path(edit["args"]["path"].replace("\\", "/")).name))
        if not {"cml", "crs"} & set(components):
            assert finds == [] and edits == [], host
    assert seen == {("dbSyncJmxNetworkInterface", "cmldb-cluster.conf"), ("crsJmxNetworkInterface", "crs.conf")}


def test_services_are_read_per_component_with_the_role_data(simulations, windows_hosts, example_plan):
    for host in windows_hosts:
        run = simulations["first/%s" % host]
        reads = [c["args"]["name"] for c in run["calls"] if c["task"] == "Read the component's SafeQ services"]
        expected = []
        for component in ("cml", "ors", "crs", "ap_connector", "etcd"):  # the order of playbooks/harden.yml
            if component in example_plan["policies"][host]["components"]:
                data = yaml.safe_load((ROOT / "roles" / component / "defaults" / "main.yml").read_text(encoding="utf-8"))
                expected += data["%s_services" % component]
        assert reads == expected, host
        assert not [m for m in run["messages"] if "disagree" in json.dumps(m["msg"])], host


def test_missing_jmx_file_stops_or_warns(simulations):
    stop = simulations["jmx_file_missing/cml-prg-1"]["failed"]["msg"]
    assert "cmldb-cluster.conf not found" in stop and "cml_jmx_missing_file=warn" in stop
    warn = simulations["jmx_file_missing_warn/cml-prg-1"]
    assert warn["failed"] is None
    assert not windows_calls(warn, "community.windows.win_lineinfile")
    assert any("WARNING: not found, JMX not bound: cmldb-cluster.conf" in json.dumps(m["msg"]) for m in warn["messages"])


def test_jmx_listening_everywhere_fails_naming_the_property(simulations):
    message = " ".join(simulations["jmx_listens_everywhere/cml-prg-1"]["failed"]["msg"])
    assert "tcp/19898 on 0.0.0.0" in message and "cmlJmxNetworkInterface" in message


# ---- verify ------------------------------------------------------------------------------------------

def test_verify_reads_the_state_once_and_changes_nothing(simulations, windows_hosts):
    for host in windows_hosts:
        run = simulations["verify/%s" % host]
        expected = ["ansible.windows.win_powershell", "ansible.windows.win_listen_ports_facts"]
        assert [c["runs_as"] for c in run["calls"]] == expected, host
        results = {r["id"]: r["status"] for r in run["facts"]["verify_host_results"]}
        # in sync; the effective check may warn (near roaming's multicast rule is an uncertain match)
        assert results["VERIFY-FIREWALL"] == "pass" and results["VERIFY-EFFECTIVE"] != "fail", host


# ---- the checks bite ---------------------------------------------------------------------------------

BROKEN_TASKS = """
- name: Unknown option
  community.windows.win_firewall_rule:
    name: x
    port: 443
- name: Bad choice
  community.windows.win_firewall_rule:
    name: x
    direction: inbound
- name: Bad literal port
  community.windows.win_firewall_rule:
    name: x
    protocol: tcp
    localport: "443;80"
- name: Short module name
  win_stat:
    path: C:\\x
- name: Missing required path
  ansible.windows.win_stat:
    get_checksum: false
- name: Templated value with an unknown option next to it
  community.windows.win_lineinfile:
    path: "{{ some_path }}"
    line: a=b
    backups: true
- name: Deprecated redirect
  community.windows.win_firewall:
    state: enabled
- name: Lower-case profile name
  ansible.windows.win_firewall:
    profiles: [domain]
    state: enabled
- name: Both argv and cmd
  ansible.windows.win_command:
    cmd: netsh advfirewall show allprofiles
    argv: [netsh]
"""


def test_static_checks_bite(tmp_path):
    path = tmp_path / "windows_broken.yml"
    path.write_text(BROKEN_TASKS, encoding="utf-8")
    problems = literal_task_problems(path)
    for expected in ("has no option 'port'", "direction must be one of", "localport", "use the FQCN",
                     "missing required arguments: path", "has no option 'backups'",
                     "community.windows.win_firewall is redirected to ansible.windows.win_firewall",
                     "win_firewall will be removed", "profiles must be one or more of",
                     "mutually exclusive: _raw_params|argv|cmd"):
        assert any(expected in p for p in problems), (expected, problems)


BAD_ROLE = """
- name: Apply with a wrong value coming from a variable
  community.windows.win_firewall_rule:
    name: "{{ item.name }}"
    action: "{{ 'deny' if item.action == 'block' else item.action }}"
    direction: "{{ item.direction }}"
    protocol: "{{ item.protocol }}"
    localport: "{{ item.localport | replace(',', ';') }}"
  loop: "{{ bad_rules }}"
  when: item.direction == 'in'

- name: Never runs (a false condition records nothing, however wrong its arguments)
  community.windows.win_firewall_rule:
    name: x
    direction: sideways
  when: bad_never | bool

- name: Re-enable by name only (would create an allow-everything rule when the name is gone)
  community.windows.win_firewall_rule:
    name: "{{ bad_rules[1].name }}"
    enabled: true

- name: Python module on the Windows host
  ansible.builtin.lineinfile:
    path: C:\\x.conf
    line: a=b
  when: bad_python | bool
"""


def _bad_root(tmp_path):
    role = tmp_path / "roles" / "bad" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text(BAD_ROLE, encoding="utf-8")
    (tmp_path / "roles" / "bad" / "defaults").mkdir()
    (tmp_path / "roles" / "bad" / "defaults" / "main.yml").write_text("bad_never: false\nbad_python: false\n",
                                                                      encoding="utf-8")
    (tmp_path / ".collections").symlink_to(ROOT / ".collections")
    return tmp_path


def test_rendered_checks_and_conditions_bite(tmp_path, example_plan):
    root = _bad_root(tmp_path)
    rules = _rendered(example_plan, "cml-prg-1")
    base = {"host": "cml-prg-1", "play": {"roles": ["safeq.hardening.bad"]}, "windows": {},
            "extra_vars": {"bad_rules": rules}}
    runs = run_simulation([dict(base, id="bad"), dict(base, id="python", extra_vars=dict(
        base["extra_vars"], bad_python=True))], root=root, inventory=str(ROOT / "inventories" / "example"))
    run = runs["bad"]
    assert run["errors"] == []
    applied = [c for c in run["calls"] if c["task"].startswith("Apply")]
    # loop with a per-item condition: only the inbound rules reach the host
    assert [c["args"]["name"] for c in applied] == [r["name"] for r in rules if r["direction"] == "in"]
    assert not [c for c in run["calls"] if c["task"].startswith("Never runs")]
    problems = [p for c in run["calls"] for p in invocation_problems(c["module"], c["args"])]
    assert any("action must be one of" in p for p in problems)
    assert any("localport" in p and "';'" not in p for p in problems)
    assert any("would create an allow-everything inbound rule" in p for p in problems)
    assert any("would run its Python code on the Windows host" in e for e in runs["python"]["errors"])


def test_role_argument_spec_is_validated_on_entry(example_plan):
    host = "crs-prg-1"
    policy, rules = example_plan["policies"][host], _rendered(example_plan, host)
    document = with_our_rules(load_fixture("clean_cml.json"), rules, host)
    runs = run_simulation([scenario("bad_state", host, FIREWALL_ONLY, windows_host(policy, document),
                                    {"firewall_state": "gone"})])
    run = runs["bad_state/%s" % host]
    assert run["failed"]["task"] == "Validating arguments against arg spec main"
    assert "firewall_state" in run["failed"]["msg"] and run["calls"] == []


def test_counter_of_calls_is_stable(simulations):
    # the same host kind and scenario give the same module sequence for hosts with the same policy shape
    first = {h: Counter(c["runs_as"] for c in simulations["first/%s" % h]["calls"]) for h in ("cml-prg-2", "cml-prg-3")}
    assert first["cml-prg-2"] == first["cml-prg-3"]
