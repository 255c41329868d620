# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role and playbook agree with the decision code: settings, variables, tags, no inventory reads,
no_log on the password, module options that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import HOST_AREAS, load_checklist
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.context import SETTINGS

ROOT = Path(__file__).resolve().parents[5]
ROLE = ROOT / "roles" / "prerequisites"
TASK_FILES = sorted(p.name for p in (ROLE / "tasks").glob("*.yml"))
RUN_VARIABLES = {"safeq_output_dir", "safeq_report_only"}  # run variables of the playbooks, not inventory
GROUP_NAMES = {"safeq_cml", "safeq_ors", "safeq_crs", "safeq_ap_connector", "safeq_etcd"}  # named in messages
PUBLISHED = {"safeq_prerequisites"}  # the set_stats key the role publishes


def _tasks(name):
    return yaml.safe_load((ROLE / "tasks" / name).read_text(encoding="utf-8"))


def _spec():
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]["main"]


def test_task_files_are_named_one_way():
    assert TASK_FILES == ["evaluate.yml", "gather_linux.yml", "gather_windows.yml", "ldap.yml", "main.yml",
                          "report.yml", "secrets.yml"]


def test_settings_passed_to_the_evaluation_are_the_known_ones():
    settings = _tasks("evaluate.yml")[0]["ansible.builtin.set_fact"]["__prerequisites_settings"]
    assert set(settings) == set(SETTINGS)
    assert "password" not in yaml.safe_dump(settings)


def test_the_inventory_is_read_only_through_the_plan():
    for folder in ("tasks", "defaults", "vars"):
        for path in sorted((ROLE / folder).glob("*.yml")):
            text = path.read_text(encoding="utf-8")
            code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
            assert "group_names" not in code and "groups[" not in code, path.name
            # a read, not a mapping key (settings) nor an attribute of the plan (.networks.safeq_ldap_servers)
            read = set(re.findall(r"(?<![\w.])safeq_[a-z_]+(?![\w:])", code)) - RUN_VARIABLES - GROUP_NAMES - PUBLISHED
            assert read == set(), (path.name, read)
    main = (ROLE / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert "safeq.hardening.policy_plan" in main and "register: __prerequisites_plan" in main


def test_internal_names_have_the_double_underscore_prefix():
    for name in TASK_FILES:
        for task in _tasks(name):
            if task.get("register"):
                assert task["register"].startswith("__prerequisites_"), (name, task["name"])
            for key in (task.get("ansible.builtin.set_fact") or {}):
                assert key.startswith("__prerequisites_"), (name, key)
    for key in yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8")):
        assert key.startswith("__prerequisites_"), key


def test_every_task_is_tagged_by_area():
    known = {"prerequisites", "always"} | set(HOST_AREAS)
    for name in TASK_FILES:
        for task in _tasks(name):
            tags = task.get("tags") or []
            assert tags and set(tags) <= known, (name, task["name"], tags)
            assert "prerequisites" in tags or tags == ["always"], (name, task["name"])
    areas = {c.area for c in load_checklist().checks} - {"topology"}
    assert areas == set(HOST_AREAS)
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    for tag in ("prerequisites",) + HOST_AREAS:
        assert "`%s`" % tag in readme, tag


def test_password_tasks_have_no_log_and_the_spec_hides_it():
    for name in TASK_FILES:
        for task in _tasks(name) or []:
            if "bind_password" in yaml.safe_dump(task):
                assert task.get("no_log") is True, "%s: %s" % (name, task["name"])
    option = _spec()["options"]["prerequisites_ldap_bind_password"]
    assert option["no_log"] is True and option["type"] == "str"


def test_every_variable_is_documented():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    spec = _spec()["options"]
    assert set(defaults) == set(spec)
    for name, option in spec.items():
        assert option.get("description"), name
        assert "{{" not in yaml.safe_dump(option.get("description")), name  # descriptions are templated too
    readme = (ROLE / "README.md").read_text(encoding="utf-8")
    for name in spec:
        assert name in readme, name


def test_playbook_targets_every_safeq_group_and_checks_secrets_first():
    play = yaml.safe_load((ROOT / "playbooks" / "prerequisites.yml").read_text(encoding="utf-8"))[0]
    assert play["hosts"] == "safeq_cml:safeq_ors:safeq_crs:safeq_ap_connector:safeq_etcd"
    assert play["roles"] == [{"role": "safeq.hardening.prerequisites"}]
    # the controller-side tag check first (it never templates a host's variables), then the secrets guard
    assert "ansible.builtin.assert" in play["pre_tasks"][0] and play["pre_tasks"][0]["delegate_to"] == "localhost"
    guard = play["pre_tasks"][1]
    assert guard["ansible.builtin.include_role"] == {"name": "safeq.hardening.prerequisites", "tasks_from": "secrets.yml"}
    assert guard["tags"] == ["always"]
    assert "secrets" not in _spec() and set(yaml.safe_load(
        (ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]) == {"main"}


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
        options.update(yaml.safe_load(getattr(fragment_class, variable.upper())).get("options") or {})
    return options


KEYWORDS = {"name", "register", "when", "ignore_errors", "changed_when", "check_mode", "no_log", "loop",
            "loop_control", "vars", "delegate_to", "run_once", "timeout", "environment", "failed_when", "tags"}
NOT_CHECKED = ("ansible.builtin.set_fact", "ansible.builtin.include_tasks", "ansible.builtin.set_stats",
               "ansible.builtin.debug", "ansible.builtin.fail", "ansible.builtin.gather_facts", "ansible.builtin.assert")


@pytest.mark.parametrize("task_file", TASK_FILES)
def test_module_options_exist_and_literal_choices_fit(task_file):
    for task in _tasks(task_file):
        modules = [k for k in task if k not in KEYWORDS]
        assert len(modules) == 1, (task_file, task["name"], modules)
        fqcn = modules[0]
        assert fqcn.count(".") == 2, "use the FQCN: %s" % fqcn
        if fqcn.startswith("safeq.hardening.") or fqcn in NOT_CHECKED:
            continue
        options = _module_options(fqcn)
        names = set(options) | {a for o in options.values() for a in (o.get("aliases") or [])}
        for key, value in (task[fqcn] or {}).items():
            assert key in names, "%s: %s has no option %s" % (task["name"], fqcn, key)
            option = options.get(key) or {}
            if option.get("choices") and isinstance(value, str) and "{{" not in value:
                assert value in option["choices"], (task["name"], key, value)
