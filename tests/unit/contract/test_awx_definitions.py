# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX objects of extensions/awx/controller_objects.yml fit the installed awx.awx modules and AWX.

* Module arguments: playbooks/awx_configure.yml is rendered with Ansible's real templar for every
  definition (this file re-runs itself as a subprocess for that, like simulate_tasks.py), and each
  rendered call is validated against the argument spec of the INSTALLED awx.awx module. The spec is
  captured by importing the module and running its ``main()`` with ``ControllerAPIModule``
  replaced by a stub that records ``argument_spec``, ``mutually_exclusive`` and ``required_if``
  (plus ``ControllerModule.AUTH_ARGSPEC``, which the real class merges in).
* Surveys: the rules AWX's API applies on POST .../survey_spec/ (awx/api/views/__init__.py,
  JobTemplateSurveySpec._validate_spec_data) and at launch (awx/main/models/mixins.py,
  SurveyJobTemplateMixin._survey_element_validation, which decides whether a default is injected),
  as of ansible/awx e21dd0a (AWX 24.x, the awx.awx 24.6.1 bundled in ansible 12.3.0).
* Variables: every survey variable of a template is read (in a Jinja expression or a conditional)
  by the template's playbook or a role it runs, and the multiplechoice "true"/"false" switches are
  read through ``| bool``. Prompts follow the playbooks: tags where they have tags, no limit for plan.
* Project and workflow: every template's playbook exists in extensions/awx/project/ and imports an
  existing collection playbook; the workflow chains the nodes in the required order.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
AWX_DIR = ROOT / "extensions" / "awx"
OBJECTS_FILE = AWX_DIR / "controller_objects.yml"
PROJECT_DIR = AWX_DIR / "project"
CONFIGURE = ROOT / "playbooks" / "awx_configure.yml"
PREFIX = "SafeQ Hardening - "

# Inputs of the configure playbook used for rendering (any valid names do).
INPUTS = {
    "controller_host": "https://awx.example.test",
    "controller_oauthtoken": "token-for-rendering-only",
    "controller_validate_certs": True,
    "safeq_awx_organization": "Default",
    "safeq_awx_inventory": "SafeQ servers",
    "safeq_awx_project": "SafeQ Hardening - Project",
    "safeq_awx_project_scm_url": "https://git.example.test/it/safeq-awx.git",
    "safeq_awx_project_scm_credential": "SafeQ git",
    "safeq_awx_credentials": ["SafeQ WinRM", "SafeQ Linux root"],
    "safeq_awx_execution_environment": "SafeQ Hardening EE",
    "_safeq_awx_existing_nodes": ["prerequisites", "plan", "retired_node"],
}

# The survey variables and what they control.
SURVEY_VARIABLES = {
    "safeq_report_only": "prerequisites and verify only report",
    "safeq_output_dir": "where plan, prerequisites, harden and verify write their files",
    "safeq_harden_jmx": "harden binds JMX to loopback",
    "safeq_harden_listeners": "harden checks listeners",
    "firewall_disable_broader_rules": "harden disables broader firewall rules",
}
BOOLEAN_CHOICES = ["false", "true"]
READ_GLOBS = ("playbooks/*.yml", "roles/*/tasks/**/*.yml", "roles/*/defaults/**/*.yml", "roles/*/vars/**/*.yml",
              "roles/*/handlers/**/*.yml", "roles/*/templates/**/*")
AWX_MODULES = ("job_template", "workflow_job_template", "workflow_job_template_node", "project")


# ---- loading ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def objects():
    return yaml.safe_load(OBJECTS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def templates(objects):
    return {jt["name"]: jt for jt in objects["safeq_awx_job_templates"]}


class _Captured(Exception):
    def __init__(self, argument_spec, kwargs):
        super().__init__("captured")
        self.argument_spec = argument_spec
        self.kwargs = kwargs


def _capture(*args, **kwargs):
    argument_spec = kwargs.pop("argument_spec", args[0] if args else None)
    raise _Captured(argument_spec, kwargs)


def awx_module_spec(name):
    """(argument_spec, constraints) of the installed awx.awx module ``name``, as its main() builds them."""
    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules.%s" % name)
    api = importlib.import_module("ansible_collections.awx.awx.plugins.module_utils.controller_api")
    original = module.ControllerAPIModule
    module.ControllerAPIModule = _capture
    try:
        module.main()
    except _Captured as captured:
        spec = dict(api.ControllerModule.AUTH_ARGSPEC)
        spec.update(captured.argument_spec)
        keys = ("mutually_exclusive", "required_if", "required_one_of", "required_together", "required_by")
        constraints = {k: captured.kwargs[k] for k in keys if k in captured.kwargs}
        return spec, constraints
    finally:
        module.ControllerAPIModule = original
    raise AssertionError("awx.awx.%s main() never built its module" % name)


def validation_errors(name, params):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec, constraints = awx_module_spec(name)
    return list(ArgumentSpecValidator(spec, **constraints).validate(dict(params)).error_messages)


@pytest.fixture(scope="module")
def rendered():
    """Every awx.awx call of the configure playbook, rendered per loop item: [{task, module, item, args}]."""
    payload = {"root": str(ROOT), "playbook": str(CONFIGURE), "objects": str(OBJECTS_FILE), "inputs": INPUTS}
    proc = subprocess.run([sys.executable, __file__], input=json.dumps(payload), capture_output=True, text=True,
                          cwd=str(ROOT), timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError("rendering %s failed (rc %d):\n%s" % (CONFIGURE, proc.returncode, proc.stderr[-4000:]))
    out = json.loads(proc.stdout)
    assert not out["errors"], out["errors"]
    return out


def _calls(rendered, module, task_prefix=None):
    return [c for c in rendered["calls"] if c["module"] == "awx.awx." + module
            and (task_prefix is None or c["task"].startswith(task_prefix))]


# ---- module arguments -------------------------------------------------------------------------

def test_installed_awx_collection_has_the_modules():
    for name in AWX_MODULES:
        spec, _constraints = awx_module_spec(name)
        assert "name" in spec or "identifier" in spec, name
        assert spec["controller_oauthtoken"].get("no_log") is True
        assert spec["controller_password"].get("no_log") is True


@pytest.mark.parametrize("name", ["SafeQ Hardening - Plan", "SafeQ Hardening - Prerequisites",
                                  "SafeQ Hardening - Harden (check mode)", "SafeQ Hardening - Harden",
                                  "SafeQ Hardening - Verify"])
def test_job_template_call_fits_the_module(rendered, templates, name):
    assert name in templates, "no job template %r in %s" % (name, OBJECTS_FILE)
    calls = [c for c in _calls(rendered, "job_template") if c["args"]["name"] == name]
    assert len(calls) == 1, "the configure playbook creates %r %d times" % (name, len(calls))
    args = calls[0]["args"]
    assert validation_errors("job_template", args) == []
    dropped = sorted(set(templates[name]) - set(args))
    assert not dropped, "the configure playbook drops these keys of %r: %s" % (name, dropped)
    for key, value in templates[name].items():
        assert args[key] == value, "%s: %s rendered as %r, defined as %r" % (name, key, args[key], value)
    assert args["organization"] == INPUTS["safeq_awx_organization"]
    assert args["project"] == INPUTS["safeq_awx_project"] and args["inventory"] == INPUTS["safeq_awx_inventory"]
    assert args["credentials"] == INPUTS["safeq_awx_credentials"]
    assert args["execution_environment"] == INPUTS["safeq_awx_execution_environment"]


def test_every_job_template_is_created(rendered, templates):
    assert sorted(c["args"]["name"] for c in _calls(rendered, "job_template")) == sorted(templates)


def test_workflow_call_fits_the_module(rendered, objects):
    calls = _calls(rendered, "workflow_job_template")
    assert len(calls) == 1
    args = calls[0]["args"]
    assert validation_errors("workflow_job_template", args) == []
    definition = objects["safeq_awx_workflow"]
    assert not sorted(set(definition) - set(args)), "keys of the workflow dropped by the configure playbook"
    assert {k: args[k] for k in definition} == definition


def test_node_calls_fit_the_module(rendered, objects):
    nodes = objects["safeq_awx_workflow_nodes"]
    created = _calls(rendered, "workflow_job_template_node", "Workflow nodes")
    edges = _calls(rendered, "workflow_job_template_node", "Workflow edges")
    removed = _calls(rendered, "workflow_job_template_node", "Remove workflow nodes")
    assert [c["args"]["identifier"] for c in created] == [n["identifier"] for n in nodes]
    assert [c["args"]["identifier"] for c in edges] == [n["identifier"] for n in nodes]
    assert [c["args"]["identifier"] for c in removed] == ["retired_node"]
    for call in created + edges + removed:
        assert validation_errors("workflow_job_template_node", call["args"]) == [], call
        assert call["args"]["workflow_job_template"] == objects["safeq_awx_workflow"]["name"]
    for node, call in zip(nodes, created):
        assert "success_nodes" not in call["args"], "edges are set in the second pass only"
        for key in ("unified_job_template", "approval_node", "extra_data"):
            assert call["args"].get(key) == node.get(key), (node["identifier"], key)
        if "unified_job_template" in node:
            assert call["args"]["lookup_organization"] == INPUTS["safeq_awx_organization"]
    for node, call in zip(nodes, edges):
        assert "approval_node" not in call["args"] and "unified_job_template" not in call["args"]
        assert call["args"]["success_nodes"] == node.get("success_nodes", [])
        assert call["args"]["failure_nodes"] == [] and call["args"]["always_nodes"] == []


def test_project_call_fits_the_module(rendered):
    calls = _calls(rendered, "project")
    assert len(calls) == 1
    assert validation_errors("project", calls[0]["args"]) == []
    assert calls[0]["args"]["scm_url"] == INPUTS["safeq_awx_project_scm_url"]


def test_validator_bites():
    assert any("job_type" in e for e in validation_errors("job_template", {"name": "x", "job_type": "apply"}))
    unknown = validation_errors("job_template", {"name": "x", "ask_tag": True})
    assert any("Supported parameters include" in e for e in unknown)
    assert any("survey_spec" in e for e in validation_errors("job_template", {"name": "x", "survey_spec": ["a"]}))
    assert any("mutually exclusive" in e for e in validation_errors(
        "workflow_job_template_node", {"identifier": "a", "workflow_job_template": "w", "unified_job_template": "j",
                                       "approval_node": {"name": "n"}}))
    assert any("unified_job_template" in e for e in validation_errors(
        "workflow_job_template_node", {"identifier": "a", "workflow_job_template": "w"}))


def test_approval_node_keys_are_read_by_the_module(objects):
    source = Path(importlib.import_module("ansible_collections.awx.awx.plugins.modules.workflow_job_template_node")
                  .__file__).read_text(encoding="utf-8")
    read = set(re.findall(r"approval_node\.get\('(\w+)'\)", source)) | set(re.findall(r"approval_node\['(\w+)'\]", source))
    assert {"name", "description", "timeout"} <= read, read
    approvals = [n for n in objects["safeq_awx_workflow_nodes"] if "approval_node" in n]
    assert approvals
    for node in approvals:
        assert set(node["approval_node"]) <= read, node
        assert node["approval_node"]["name"].startswith(PREFIX)
        assert isinstance(node["approval_node"].get("timeout", 0), int)


def _iter_tasks(tasks):
    for task in tasks or []:
        for section in ("block", "rescue", "always"):
            yield from _iter_tasks(task.get(section))
        if "block" not in task:
            yield task


_SECRET_VARS = re.compile(r"\b(controller_oauthtoken|controller_password)\b")
_EXPRESSION_KEYS = ("when", "that", "failed_when", "changed_when", "until", "loop")


def _expressions(task):
    """The Jinja expressions of a task: every {{ ... }} and the bare conditionals."""
    text = yaml.safe_dump(task, width=10000)
    found = re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text, re.S)
    for key in _EXPRESSION_KEYS:
        value = task.get(key)
        if isinstance(value, (str, list)):
            found += value if isinstance(value, list) else [value]
    for module in ("ansible.builtin.assert",):
        if isinstance(task.get(module), dict):
            that = task[module].get("that") or []
            found += that if isinstance(that, list) else [that]
    return found


def test_everything_that_carries_the_token_has_no_log():
    plays = yaml.safe_load(CONFIGURE.read_text(encoding="utf-8"))
    carriers = 0
    for play in plays:
        defaults = play.get("module_defaults") or {}
        assert "group/awx.awx.controller" in defaults, "credentials are given to the awx.awx action group"
        assert "controller_oauthtoken" in defaults["group/awx.awx.controller"]
        for task in _iter_tasks(play.get("tasks")):
            module = next((k for k in task if k.startswith("awx.awx.")), None)
            expressions = _expressions(task)
            if module or any(_SECRET_VARS.search(e) or "awx.awx.controller_api" in e for e in expressions):
                carriers += 1
                assert task.get("no_log") is True, "task %r carries the token without no_log: true" % task.get("name")
    assert carriers >= 8


def test_token_check_bites():
    assert any(_SECRET_VARS.search(e) for e in _expressions({"ansible.builtin.assert": {
        "that": ["controller_oauthtoken | length > 0"]}}))
    assert any(_SECRET_VARS.search(e) for e in _expressions({"ansible.builtin.debug": {
        "msg": "{{ controller_password }}"}}))
    assert not any(_SECRET_VARS.search(e) for e in _expressions({"ansible.builtin.fail": {
        "msg": "give controller_password"}}))


# ---- surveys ----------------------------------------------------------------------------------

AWX_SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                    "integer": int, "float": float}


def awx_survey_spec_errors(spec):
    """JobTemplateSurveySpec._validate_spec_data of AWX (POST .../survey_spec/), as a list of errors."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(spec.get(field), kind):
            errors.append("%s must be a %s" % (field, kind.__name__))
    if errors:
        return errors
    if not spec["spec"]:
        errors.append("'spec' doesn't contain any items")
    seen = set()
    for idx, item in enumerate(spec["spec"]):
        if not isinstance(item, dict):
            errors.append("question %d is not an object" % idx)
            continue
        for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(item.get(field), kind):
                errors.append("question %d: %r must be a %s" % (idx, field, kind.__name__))
        if item.get("variable") in seen:
            errors.append("question %d: variable %r duplicated" % (idx, item.get("variable")))
        seen.add(item.get("variable"))
        qtype = item.get("type")
        if qtype not in AWX_SURVEY_TYPES:
            errors.append("question %d: type %r is not one of %s" % (idx, qtype, sorted(AWX_SURVEY_TYPES)))
            continue
        if "default" in item and item["default"] != "" and not isinstance(item["default"], AWX_SURVEY_TYPES[qtype]):
            errors.append("question %d: default %r is not a %s" % (idx, item["default"], qtype))
        for key in ("min", "max"):
            if item.get(key) is not None and not isinstance(item[key], int):
                errors.append("question %d: %s must be an integer" % (idx, key))
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in item:
                errors.append("question %d: %s needs choices" % (idx, qtype))
                continue
            choices = item["choices"] if isinstance(item["choices"], list) else item["choices"].splitlines()
            if "default" in item:
                defaults = item["default"].splitlines() if isinstance(item["default"], str) else item["default"]
                if qtype == "multiplechoice" and len(defaults) > 1:
                    errors.append("question %d: multiplechoice has one default" % idx)
                if any(d not in choices for d in defaults):
                    errors.append("question %d: default %r not among the choices" % (idx, item["default"]))
        if isinstance(item.get("default"), str) and item["default"].startswith("$encrypted$"):
            errors.append("question %d: $encrypted$ is reserved" % idx)
    return errors


def awx_answer_errors(item, value):
    """SurveyJobTemplateMixin._survey_element_validation for one answer (AWX injects a default only when [])."""
    qtype = item["type"]
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["not a string"]
        if item.get("min") not in ("", None) and len(value) < int(item["min"]):
            return ["shorter than min"]
        if item.get("max") not in ("", None) and len(value) > int(item["max"]):
            return ["longer than max"]
    elif qtype == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return ["not an integer"]
    elif qtype == "float" and (not isinstance(value, (float, int)) or isinstance(value, bool)):
        return ["not a number"]
    elif qtype == "multiplechoice":
        choices = item["choices"] if isinstance(item["choices"], list) else item["choices"].splitlines()
        if value not in choices:
            return ["not one of %s" % choices]
    elif qtype == "multiselect":
        choices = item["choices"] if isinstance(item["choices"], list) else item["choices"].splitlines()
        if not isinstance(value, list) or any(v not in choices for v in value):
            return ["not a list of %s" % choices]
    return []


def _surveys(objects):
    surveys = {jt["name"]: jt["survey_spec"] for jt in objects["safeq_awx_job_templates"] if jt.get("survey_enabled")}
    surveys[objects["safeq_awx_workflow"]["name"]] = objects["safeq_awx_workflow"]["survey_spec"]
    return surveys


def test_every_template_and_the_workflow_has_a_survey(objects):
    for jt in objects["safeq_awx_job_templates"] + [objects["safeq_awx_workflow"]]:
        assert jt.get("survey_enabled") is True and jt.get("survey_spec"), jt["name"]


def test_surveys_pass_the_awx_api_validation(objects):
    problems = {name: awx_survey_spec_errors(spec) for name, spec in _surveys(objects).items()}
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}


def test_awx_survey_validation_bites():
    good = {"name": "", "description": "", "spec": [{"question_name": "q", "variable": "v", "type": "multiplechoice",
                                                     "choices": ["a", "b"], "default": "a", "required": False}]}
    assert awx_survey_spec_errors(good) == []
    for broken in ({"type": "boolean"}, {"default": "c"}, {"required": "false"}, {"choices": None, "type": "text",
                                                                                  "default": 3}):
        spec = {"name": "", "description": "", "spec": [dict(good["spec"][0], **broken)]}
        assert awx_survey_spec_errors(spec), broken
    assert awx_survey_spec_errors({"name": "", "description": "", "spec": [good["spec"][0], good["spec"][0]]})
    assert awx_survey_spec_errors({"name": "x", "spec": good["spec"]})


def test_questions_have_defaults_that_awx_injects(objects):
    for name, spec in _surveys(objects).items():
        for item in spec["spec"]:
            assert item["variable"] in SURVEY_VARIABLES, "%s: unexpected survey variable %s" % (name, item["variable"])
            assert item.get("question_description"), (name, item["variable"])
            assert "default" in item and item["required"] is False, (name, item["variable"])
            assert awx_answer_errors(item, item["default"]) == [], (name, item["variable"])
            if item["variable"] != "safeq_output_dir":
                assert item["type"] == "multiplechoice" and item["choices"] == BOOLEAN_CHOICES, item["variable"]


def test_survey_defaults_match_the_role_defaults(objects):
    expected = {"safeq_report_only": "false", "safeq_output_dir": "", "safeq_harden_jmx": "true",
                "safeq_harden_listeners": "true", "firewall_disable_broader_rules": "false"}
    role_defaults = {}
    for path in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        for key, value in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            role_defaults.setdefault(key, []).append((path, value))
    for name, spec in _surveys(objects).items():
        for item in spec["spec"]:
            variable = item["variable"]
            assert item["default"] == expected[variable], (name, variable)
            for path, value in role_defaults.get(variable, []):
                if isinstance(value, bool):  # the survey must not change what a run without AWX does
                    assert item["default"] == str(value).lower(), (name, variable, str(path.relative_to(ROOT)))


def test_which_template_asks_what(objects, templates):
    variables = {name: [q["variable"] for q in spec["spec"]] for name, spec in _surveys(objects).items()}
    switches = ["safeq_harden_jmx", "safeq_harden_listeners", "firewall_disable_broader_rules"]
    assert variables[PREFIX + "Plan"] == ["safeq_output_dir"]
    assert variables[PREFIX + "Prerequisites"] == ["safeq_report_only", "safeq_output_dir"]
    assert variables[PREFIX + "Verify"] == ["safeq_report_only", "safeq_output_dir"]
    assert variables[PREFIX + "Harden (check mode)"] == switches + ["safeq_output_dir"]
    assert variables[PREFIX + "Harden"] == switches + ["safeq_output_dir"]
    # The workflow's answers go to every node's job: it asks everything its nodes ask, with the same defaults.
    workflow = {q["variable"]: q for q in objects["safeq_awx_workflow"]["survey_spec"]["spec"]}
    for name in templates:
        for question in templates[name]["survey_spec"]["spec"]:
            assert workflow[question["variable"]] == question, (name, question["variable"])


def _role_names(data):
    """Role names a playbook, task list or meta/main.yml refers to (roles:, include_role, import_role, dependencies)."""
    names = []
    if isinstance(data, dict):
        loop_var = (data.get("loop_control") or {}).get("loop_var", "item")
        for key, value in data.items():
            if key in ("roles", "dependencies") and isinstance(value, list):
                names += [r if isinstance(r, str) else (r.get("role") or r.get("name")) for r in value]
            elif key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
                name = (value or {}).get("name") or ""
                looped = re.compile(r"\{\{\s*%s\s*\}\}" % re.escape(loop_var))
                if looped.search(name) and isinstance(data.get("loop"), list):  # name: "x.{{ item }}", loop: [a, b]
                    names += [looped.sub(str(item), name) for item in data["loop"]]
                else:
                    names.append(name)
            else:
                names += _role_names(value)
    elif isinstance(data, list):
        for value in data:
            names += _role_names(value)
    return [n for n in names if n]


def _roles_matching(name):
    """Our roles a role name can mean; a templated name (safeq.hardening.{{ component }}) can mean any of them."""
    if not name.startswith("safeq.hardening."):
        return []
    short = name[len("safeq.hardening."):]
    if "{{" in short:
        pattern = re.compile("^" + ".+".join(re.escape(part) for part in re.split(r"\{\{.*?\}\}", short)) + "$")
        return sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir() and pattern.match(p.name))
    return [short] if (ROOT / "roles" / short).is_dir() else []


def playbook_files(playbook):
    """Files that run for playbooks/<playbook>: the playbook and its roles (followed through includes, imports
    and meta dependencies: tasks, defaults, vars, handlers, templates)."""
    path = ROOT / "playbooks" / playbook
    if not path.is_file():
        return []
    files, seen, todo = [path], set(), _role_names(yaml.safe_load(path.read_text(encoding="utf-8")))
    while todo:
        for role in _roles_matching(todo.pop()):
            if role in seen:
                continue
            seen.add(role)
            base = ROOT / "roles" / role
            for sub in ("tasks", "defaults", "vars", "handlers", "templates", "meta"):
                for item in sorted((base / sub).rglob("*")) if (base / sub).is_dir() else []:
                    if not item.is_file() or item.name == "argument_specs.yml":
                        continue
                    if item.suffix in (".yml", ".yaml"):
                        try:
                            todo += _role_names(yaml.safe_load(item.read_text(encoding="utf-8")))
                        except yaml.YAMLError:
                            pass
                    if sub != "meta":
                        files.append(item)
    return files


def _all_read_files():
    files = []
    for pattern in READ_GLOBS:
        files += [p for p in sorted(ROOT.glob(pattern)) if p.is_file() and p != CONFIGURE]
    return files


_BARE_EXPRESSION_KEYS = ("when", "that", "failed_when", "changed_when", "until")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _expressions_in(value, key=None):
    """(expression text, key it is the value of) for every Jinja expression in a loaded YAML value."""
    if isinstance(value, dict):
        for sub_key, sub_value in value.items():
            yield from _expressions_in(sub_value, str(sub_key))
    elif isinstance(value, list):
        for item in value:
            yield from _expressions_in(item, key)
    elif isinstance(value, str):
        if key in _BARE_EXPRESSION_KEYS:
            yield value, key
        else:
            for match in _JINJA.finditer(value):
                yield match.group(0), key


def _file_expressions(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix in (".yml", ".yaml"):
        try:
            return list(_expressions_in(yaml.safe_load(text)))
        except yaml.YAMLError:
            pass
    return [(m.group(0), None) for m in _JINJA.finditer(text)]


def _read_sites(variable, files=None):
    """(path, expression, offset, key) of every Jinja read of ``variable`` among ``files``
    (default: playbooks/ and roles/); ``key`` is the YAML key whose value holds the expression."""
    sites = []
    pattern = re.compile(r"(?<![\w.'\"])%s(?![\w'\"])" % re.escape(variable))
    for path in files if files is not None else _all_read_files():
        for expression, key in _file_expressions(path):
            sites += [(path, expression, m.start(), key) for m in pattern.finditer(expression)]
    return sites


def _template_variables():
    data = yaml.safe_load(OBJECTS_FILE.read_text(encoding="utf-8"))
    return [(jt["name"], jt["playbook"], q["variable"]) for jt in data["safeq_awx_job_templates"]
            for q in (jt.get("survey_spec") or {}).get("spec", [])]


@pytest.mark.parametrize("name,playbook,variable", _template_variables(),
                         ids=["%s-%s" % (n[len(PREFIX):], v) for n, _p, v in _template_variables()])
def test_survey_variable_is_read_by_the_template_playbook(name, playbook, variable):
    files = playbook_files(playbook)
    assert files, "%s runs playbooks/%s, which does not exist yet" % (name, playbook)
    sites = _read_sites(variable, files)
    assert sites, ("%s asks for %s (%s), but playbooks/%s and the roles it uses never read it: "
                   "the answer would be ignored" % (name, variable, SURVEY_VARIABLES[variable], playbook))


def test_playbook_files_follow_roles():
    harden = {str(p.relative_to(ROOT)) for p in playbook_files("harden.yml")}
    assert "roles/firewall/defaults/main.yml" in harden and "roles/cml/tasks/main.yml" in harden
    assert not any(p.startswith("roles/prerequisites/") for p in harden)
    prerequisites = {str(p.relative_to(ROOT)) for p in playbook_files("prerequisites.yml")}
    assert "roles/prerequisites/tasks/main.yml" in prerequisites
    assert not any(p.startswith("roles/firewall/") for p in prerequisites)


_BOOL_AFTER = re.compile(r"\s*(\|\s*default\((?:[^()]|\([^()]*\))*\)\s*)?\|\s*bool\b")


def _bool_problems(variable, seen=None):
    """Reads of ``variable`` that do not go through ``| bool`` (directly, or via the variable they define)."""
    seen = set() if seen is None else seen
    if variable in seen:
        return []
    seen.add(variable)
    problems = []
    for path, expression, offset, key in _read_sites(variable):
        if _BOOL_AFTER.match(expression, offset + len(variable)):
            continue
        if key and key != variable and key not in _BARE_EXPRESSION_KEYS and _read_sites(key) \
                and not _bool_problems(key, seen):
            continue  # `other: "{{ variable }}"` and every read of `other` is a `| bool`
        problems.append("%s: %s" % (path.relative_to(ROOT), " ".join(expression.split())))
    return problems


@pytest.mark.parametrize("variable", sorted(v for v in SURVEY_VARIABLES if v != "safeq_output_dir"))
def test_boolean_survey_variable_is_read_through_bool(variable):
    # AWX sends the strings "true"/"false"; a bare `when: var` on the string "false" is an error in
    # ansible-core 2.19 (a conditional must be a boolean), so every read goes through `| bool`.
    assert _read_sites(variable), "%s is not read yet (see test_survey_variable_is_read_by_the_template_playbook)" % variable
    assert _bool_problems(variable) == []


def test_read_and_bool_checks_bite(tmp_path):
    path = tmp_path / "tasks.yml"
    path.write_text(
        "- name: Uses x_switch (the name is no read)\n"
        "  ansible.builtin.debug:\n"
        "    msg: \"{{ x_switch }}\"\n"
        "  when:\n"
        "    - x_switch | bool\n"
        "    - x_switch | default(false) | bool and y\n"
        "- name: Folded\n"
        "  ansible.builtin.set_fact:\n"
        "    x_other: >-\n"
        "      {{ x_switch\n"
        "         | bool }}\n", encoding="utf-8")
    sites = _read_sites("x_switch", [path])
    assert [(key, expression.strip()[:12]) for _p, expression, _o, key in sites] == [
        ("msg", "{{ x_switch "), ("when", "x_switch | b"), ("when", "x_switch | d"), ("x_other", "{{ x_switch\n")]
    assert [bool(_BOOL_AFTER.match(e, o + len("x_switch"))) for _p, e, o, _k in sites] == [False, True, True, True]
    assert _read_sites("x_swit", [path]) == []


# ---- project and playbooks --------------------------------------------------------------------

@pytest.mark.parametrize("playbook", ["plan.yml", "prerequisites.yml", "harden.yml", "verify.yml"])
def test_template_playbook_is_in_the_project_and_imports_a_collection_playbook(templates, playbook):
    assert playbook in {jt["playbook"] for jt in templates.values()}
    path = PROJECT_DIR / playbook
    assert path.is_file(), "%s is missing from %s" % (playbook, PROJECT_DIR)
    text = path.read_text(encoding="utf-8")
    # AWX lists a project file as a playbook when one of its lines matches this (awx/main/utils/ansible.py).
    awx_playbook_re = re.compile(r"^\s*?-?\s*?(?:hosts|(ansible\.builtin\.)?include|(ansible\.builtin\.)?import_playbook):\s*?.*?$")
    assert any(awx_playbook_re.match(line) for line in text.splitlines()), "AWX would not list %s" % playbook
    plays = yaml.safe_load(text)
    imports = [p.get("ansible.builtin.import_playbook") for p in plays]
    assert imports == ["safeq.hardening.%s" % Path(playbook).stem], imports
    target = ROOT / "playbooks" / playbook
    assert target.is_file(), ("%s imports safeq.hardening.%s, but the collection has no playbooks/%s yet"
                              % (path.relative_to(ROOT), Path(playbook).stem, playbook))


def test_every_template_playbook_is_in_the_project(templates):
    missing = sorted({jt["playbook"] for jt in templates.values()} - {p.name for p in PROJECT_DIR.glob("*.yml")})
    assert missing == []


def test_project_requirements_install_this_collection():
    requirements = yaml.safe_load((PROJECT_DIR / "collections" / "requirements.yml").read_text(encoding="utf-8"))
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    names = [c["name"] if isinstance(c, dict) else c for c in requirements["collections"]]
    assert "%s.%s" % (galaxy["namespace"], galaxy["name"]) in names
    entry = next(c for c in requirements["collections"] if c["name"] == "safeq.hardening")
    from ansible.galaxy.dependency_resolution.versioning import meets_requirements

    assert meets_requirements(galaxy["version"], entry["version"]), (galaxy["version"], entry["version"])


# ---- template settings and the workflow graph -------------------------------------------------

def test_names_have_the_prefix(objects):
    names = [jt["name"] for jt in objects["safeq_awx_job_templates"]] + [objects["safeq_awx_workflow"]["name"]]
    names += [n["approval_node"]["name"] for n in objects["safeq_awx_workflow_nodes"] if "approval_node" in n]
    assert all(n.startswith(PREFIX) for n in names), names
    assert len(names) == len(set(names))
    assert objects["safeq_awx_name_prefix"] == PREFIX


def _tags_in(value):
    if isinstance(value, dict):
        found = set()
        for key, sub in value.items():
            if key == "tags":
                found |= set([sub] if isinstance(sub, str) else (sub or []))
            else:
                found |= _tags_in(sub)
        return found
    if isinstance(value, list):
        return set().union(*[_tags_in(v) for v in value]) if value else set()
    return set()


def playbook_tags(playbook):
    """Tags an operator can select in playbooks/<playbook> and its roles (always/never excluded)."""
    tags = set()
    for path in playbook_files(playbook):
        if path.suffix in (".yml", ".yaml"):
            tags |= _tags_in(yaml.safe_load(path.read_text(encoding="utf-8")))
    return tags - {"always", "never"}


def test_limit_tags_and_slicing(templates, objects):
    for name, jt in templates.items():
        # plan runs on localhost only: a limit that does not name localhost would make it do nothing.
        assert jt["ask_limit_on_launch"] is (jt["playbook"] != "plan.yml"), name
        tags = playbook_tags(jt["playbook"])
        assert jt["ask_tags_on_launch"] is bool(tags), "%s: ask_tags_on_launch must be %s (tags: %s)" % (
            name, bool(tags), sorted(tags))
        assert jt["job_slice_count"] == 1 and jt["ask_job_slice_count_on_launch"] is False, name
        assert jt["ask_variables_on_launch"] is False and jt["ask_inventory_on_launch"] is False, name
    assert objects["safeq_awx_workflow"]["ask_limit_on_launch"] is True
    assert objects["safeq_awx_workflow"]["ask_tags_on_launch"] is False


def test_harden_templates(templates):
    check, run = templates[PREFIX + "Harden (check mode)"], templates[PREFIX + "Harden"]
    assert check["playbook"] == run["playbook"] == "harden.yml"
    assert check["job_type"] == "check" and check["diff_mode"] is True
    assert run["job_type"] == "run"
    for jt in (check, run):
        assert jt["ask_job_type_on_launch"] is False and jt["allow_simultaneous"] is False


def test_workflow_chains_the_nodes_in_order(objects, templates):
    nodes = {n["identifier"]: n for n in objects["safeq_awx_workflow_nodes"]}
    assert len(nodes) == len(objects["safeq_awx_workflow_nodes"]), "identifiers must be unique"
    for node in nodes.values():
        assert ("unified_job_template" in node) != ("approval_node" in node), node["identifier"]
        assert not node.get("failure_nodes") and not node.get("always_nodes"), node["identifier"]
        for target in node.get("success_nodes", []):
            assert target in nodes, "%s -> unknown node %s" % (node["identifier"], target)
        if "unified_job_template" in node:
            assert node["unified_job_template"] in templates, node["unified_job_template"]
    parents = {i: [p for p, n in nodes.items() if i in n.get("success_nodes", [])] for i in nodes}
    roots = [i for i, p in parents.items() if not p]
    assert len(roots) == 1, roots
    chain, current = [], roots[0]
    while current:
        chain.append(current)
        successors = nodes[current].get("success_nodes", [])
        assert len(successors) <= 1 and all(len(parents[s]) == 1 for s in successors), current
        current = successors[0] if successors else None
    assert sorted(chain) == sorted(nodes), "nodes outside the chain: %s" % sorted(set(nodes) - set(chain))

    def step(identifier):
        node = nodes[identifier]
        if "approval_node" in node:
            return "approval"
        jt = templates[node["unified_job_template"]]
        return "%s:%s" % (Path(jt["playbook"]).stem, jt.get("job_type", "run"))

    assert [step(i) for i in chain] == ["prerequisites:run", "plan:run", "harden:check", "approval",
                                        "harden:run", "verify:run"]


def test_slicing_would_change_the_policies(example_inventory):
    """Why no template is sliced: AWX gives each slice an inventory with only the slice's hosts.

    awx/main/models/inventory.py, Inventory.get_script_data / get_sliced_hosts: hosts ordered by
    name, slice n of N gets hosts[n-1::N], groups keep only those hosts. The plan computed from
    such an inventory (compute_plan, what plan, harden, prerequisites and verify call) lacks the
    peers of the other slices.
    """
    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

    groups, hostvars = example_inventory
    full = compute_plan(groups, hostvars)["policies"]
    hosts = sorted(full)
    differing = []
    for number in (1, 2):
        sliced = set(hosts[number - 1::2])
        slice_groups = {g: [h for h in members if h in sliced] for g, members in groups.items()}
        slice_vars = {h: v for h, v in hostvars.items() if h in sliced}
        policies = compute_plan(slice_groups, slice_vars)["policies"]
        assert sorted(policies) == sorted(sliced)
        differing += [h for h in sorted(sliced) if policies[h]["rules"] != full[h]["rules"]]
    assert differing, "a 2-slice run computes the same policies; slicing would be safe after all"


# ---- rendering subprocess ---------------------------------------------------------------------

def _render_main():
    """Render every awx.awx task of the configure playbook per loop item (JSON in on stdin, out on stdout)."""
    data = json.load(sys.stdin)
    root = Path(data["root"])
    sys.path.insert(0, str(root / ".collections"))
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader([str(root / ".collections")])
    loader = DataLoader()

    def trust(value):
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        if isinstance(value, list):
            return [trust(v) for v in value]
        return value

    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return str(value)

    plays = loader.load_from_file(data["playbook"], trusted_as_template=True)
    objects = loader.load_from_file(data["objects"])
    out = {"calls": [], "errors": []}
    for play in plays:
        variables = dict(play.get("vars") or {})
        variables.update(objects)
        variables.update(data["inputs"])
        variables.update({"playbook_dir": str(Path(data["playbook"]).parent), "ansible_check_mode": False})
        templar = Templar(loader=loader, variables=variables)
        group_defaults = (play.get("module_defaults") or {}).get("group/awx.awx.controller", {})
        for task in _iter_tasks(play.get("tasks")):
            facts = task.get("ansible.builtin.set_fact") or {}
            for key, value in facts.items():
                if "controller_api" in str(value):
                    continue  # a GET against the controller: given in the inputs instead
                variables[key] = templar.template(value)
            module = next((k for k in task if str(k).startswith("awx.awx.")), None)
            if module is None:
                continue
            try:
                items = templar.template(task["loop"]) if "loop" in task else [None]
            except Exception as exc:  # noqa: BLE001 - a template error is a finding
                out["errors"].append("%s: loop: %s" % (task.get("name"), exc))
                continue
            for item in items:
                local = dict(variables, item=trust(item)) if item is not None else variables
                try:
                    args = dict(Templar(loader=loader, variables=local).template(group_defaults))
                    args.update(Templar(loader=loader, variables=local).template(task[module]))
                except Exception as exc:  # noqa: BLE001
                    out["errors"].append("%s [%s]: %s" % (task.get("name"), item, exc))
                    continue
                out["calls"].append({"task": str(task.get("name")), "module": module, "args": plain(args),
                                     "item": plain(item)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    _render_main()
