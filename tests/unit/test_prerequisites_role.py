"""The role, playbook and docs agree with the decision code: checklist text, mapping table,
fixed commands, variables, no_log on the password."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils import prerequisites as P

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "prerequisites"
SEED = ROOT.parent / "shared" / "seeds" / "001_c8baf7c42c6ea139.txt"


def _tasks(name):
    return yaml.safe_load((ROLE / "tasks" / name).read_text())


def test_checklist_is_the_seed_verbatim():
    if not SEED.is_file():
        if os.environ.get("CI"):
            pytest.fail("seed %s missing (CI is set: seeds are required)" % SEED)
        pytest.skip("seed %s not found" % SEED)
    lines = SEED.read_text(encoding="utf-8").splitlines()[:29]
    assert list(P.CHECKLIST) == lines
    assert lines[28].startswith("Administrator will be available")


def test_every_checklist_line_is_covered():
    covered = {c["line"] for c in P.CHECKS if c["line"]}
    assert covered | set(P.HEADINGS) == set(range(1, 30))
    assert not covered & set(P.HEADINGS)
    assert len({c["id"] for c in P.CHECKS}) == len(P.CHECKS)
    for check in P.CHECKS:
        assert re.match(r"^PRE-[A-Z0-9-]+$", check["id"])
        assert check["automation"] in ("automated", "conditional", "manual")
        if check["automation"] != "automated":
            assert check.get("question") and check.get("answered_by"), check["id"]


def test_readme_has_the_generated_mapping_table():
    readme = (ROLE / "README.md").read_text()
    assert P.mapping_table_markdown() in readme, "regenerate the table: prerequisites.mapping_table_markdown()"


def test_fixed_windows_commands_are_the_ones_in_the_role():
    scripts = {t["name"]: t["ansible.windows.win_powershell"]["script"] for t in _tasks("windows.yml")
               if "ansible.windows.win_powershell" in t}
    values = set(scripts.values())
    assert P.WINDOWS_PRODUCTS_COMMAND in values
    assert P.WINDOWS_DEFENDER_EXCLUSIONS_COMMAND in values
    assert P.WINDOWS_IP_ADDRESSES_COMMAND in values
    for task in _tasks("windows.yml"):
        if "ansible.windows.win_powershell" in task:
            assert task.get("check_mode") is False and task.get("changed_when") is False, task["name"]


def test_linux_commands_are_the_ones_in_the_role():
    argvs = [t["ansible.builtin.command"]["argv"] for t in _tasks("linux.yml") if "ansible.builtin.command" in t]
    for command in (P.LINUX_IP_ADDRESSES_COMMAND, P.LINUX_APT_SIMULATE_COMMAND, P.LINUX_DNF_SECURITY_COMMAND,
                    P.LINUX_DPKG_COMMAND):
        assert command in argvs


def test_password_tasks_have_no_log():
    for name in ("main.yml", "windows.yml", "linux.yml", "ldap.yml", "evaluate.yml", "report.yml"):
        text = (ROLE / "tasks" / name).read_text()
        for task in yaml.safe_load(text) or []:
            if "bind_password" in yaml.safe_dump(task):
                assert task.get("no_log") is True, "%s: %s" % (name, task["name"])
    evaluate = (ROLE / "tasks" / "evaluate.yml").read_text()
    assert "password" not in evaluate.replace("no password", "")


def test_every_variable_is_documented():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(spec)
    for name, option in spec.items():
        assert option.get("description"), name
    readme = (ROLE / "README.md").read_text()
    for name in spec:
        assert name in readme, name


def test_playbook_targets_every_safeq_group():
    play = yaml.safe_load((ROOT / "playbooks" / "prerequisites.yml").read_text())[0]
    assert play["hosts"] == "safeq_cml:safeq_ors:safeq_crs:safeq_ap_connector:safeq_etcd"
    assert play["roles"] == [{"role": "safeq.hardening.prerequisites"}]


def _module_options(fqcn):
    """Documented options of an installed module (Windows modules document them in the .py sidecar)."""
    import importlib
    import importlib.util

    from ansible.parsing.plugin_docs import read_docstring

    namespace, name, module = fqcn.split(".")
    if namespace == "ansible" and name == "builtin":
        import ansible.modules

        path = Path(ansible.modules.__file__).parent / ("%s.py" % module)
    else:
        spec = importlib.util.find_spec("ansible_collections.%s.%s" % (namespace, name))
        path = Path(list(spec.submodule_search_locations)[0]) / "plugins" / "modules" / ("%s.py" % module)
    doc = read_docstring(str(path), verbose=False)["doc"]
    options = dict(doc.get("options") or {})
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        parts = fragment.split(".")
        if len(parts) >= 3:  # namespace.collection.fragment[.variable]
            package = "ansible_collections.%s.%s.plugins.doc_fragments.%s" % tuple(parts[:3])
            variable = parts[3] if len(parts) > 3 else "documentation"
        else:  # ansible-core fragment[.variable]
            package = "ansible.plugins.doc_fragments.%s" % parts[0]
            variable = parts[1] if len(parts) > 1 else "documentation"
        fragment_class = importlib.import_module(package).ModuleDocFragment
        text = getattr(fragment_class, variable.upper())
        options.update(yaml.safe_load(text).get("options") or {})
    return options


@pytest.mark.parametrize("task_file", ["main.yml", "windows.yml", "linux.yml", "ldap.yml", "evaluate.yml",
                                       "report.yml"])
def test_module_options_exist_and_literal_choices_fit(task_file):
    keywords = {"name", "register", "when", "ignore_errors", "changed_when", "check_mode", "no_log", "loop",
                "loop_control", "vars", "delegate_to", "run_once", "timeout", "environment", "failed_when"}
    for task in _tasks(task_file):
        modules = [k for k in task if k not in keywords]
        assert len(modules) == 1, (task_file, task["name"], modules)
        fqcn = modules[0]
        assert fqcn.count(".") == 2, "use the FQCN: %s" % fqcn
        if fqcn.startswith("safeq.hardening.") or fqcn in ("ansible.builtin.set_fact", "ansible.builtin.include_tasks",
                                                           "ansible.builtin.set_stats", "ansible.builtin.debug",
                                                           "ansible.builtin.fail", "ansible.builtin.gather_facts"):
            continue
        options = _module_options(fqcn)
        names = set(options) | {a for o in options.values() for a in (o.get("aliases") or [])}
        for key, value in (task[fqcn] or {}).items():
            assert key in names, "%s: %s has no option %s" % (task["name"], fqcn, key)
            option = options.get(key) or {}
            if option.get("choices") and isinstance(value, str) and "{{" not in value:
                assert value in option["choices"], (task["name"], key, value)
