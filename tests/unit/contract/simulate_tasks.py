# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walk a role's Windows task files on the controller and record every Windows module call.

Run as a subprocess by the contract tests (it initialises Ansible's plugin loader, which installs
Ansible's collection finder; keeping that out of the pytest process keeps imports there plain).

Input (JSON on stdin)::

    {"entry": "roles/firewall/tasks/windows.yml", "root": "/repo",
     "defaults": {...},                       # role defaults, strings may be templates
     "scenarios": [{"id": "...", "vars": {...}}],
     "registers": {"name": result, ...},      # simulated results of registered tasks
     "report_facts": ["prefix_"]}             # which variables to return at the end

For every scenario the task list is walked in order, following import_tasks/include_tasks:
``set_fact`` values are templated with the real Ansible templar and the real collection filters
(safeq.hardening.*), registered results come from ``registers`` (or a neutral per-module
result), and every task that calls an ``ansible.windows``/``community.windows`` module has its
``loop`` and its arguments templated per item, exactly as the controller would before sending them
to the host. Output (JSON on stdout)::

    {"invocations": [{"scenario", "file", "task", "module", "args", "raw_args"}],
     "errors": [{"scenario", "file", "task", "error"}],
     "facts": {scenario: {name: value}}}       # variables whose names start with report_facts
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

WINDOWS_PREFIXES = ("ansible.windows.", "community.windows.")
INCLUDES = ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks", "import_tasks", "include_tasks")
SET_FACT = ("ansible.builtin.set_fact", "set_fact")


def _task_keywords():
    from ansible.playbook.task import Task

    names = set(Task.fattributes)
    names.update({"block", "rescue", "always", "loop", "loop_control", "args", "vars", "when", "register",
                  "notify", "tags", "name", "local_action", "action"})
    return names


def module_of(task, keywords):
    candidates = [k for k in task if k not in keywords and not k.startswith("with_")]
    return candidates[0] if len(candidates) == 1 else None


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def neutral_result(module, items):
    if items is not None:
        results = [dict(neutral_result(module, None), item=item) for item in items]
        return {"changed": any(r.get("changed") for r in results), "results": results}
    if module.endswith("win_stat"):
        return {"changed": False, "stat": {"exists": True}}
    if module.endswith("win_service_info"):
        return {"changed": False, "exists": False, "services": []}
    if module.endswith("win_powershell"):
        return {"changed": False, "output": [], "result": {}, "error": [], "host_out": "", "host_err": ""}
    return {"changed": True}


def main():
    data = json.load(sys.stdin)
    root = Path(data["root"])
    sys.path.insert(0, str(root / ".collections"))

    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template

    init_plugin_loader([str(root / ".collections")])
    loader = DataLoader()
    keywords = _task_keywords()
    out = {"invocations": [], "errors": [], "facts": {}}

    def trust(value):
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        if isinstance(value, list):
            return [trust(v) for v in value]
        return value

    def render(variables, value):
        return Templar(loader=loader, variables=variables).template(value)

    def walk(path, variables, scenario):
        tasks = loader.load_from_file(str(path), trusted_as_template=True) or []
        run(tasks, path, variables, scenario)

    def run(tasks, path, variables, scenario):
        rel = str(Path(path).relative_to(root))
        for task in tasks:
            name = str(task.get("name", "?"))
            for section in ("block", "rescue", "always"):
                if section in task:
                    run(task[section], path, variables, scenario)
            if "block" in task:
                continue
            module = module_of(task, keywords)
            if module is None:
                out["errors"].append({"scenario": scenario, "file": rel, "task": name,
                                      "error": "cannot tell the module of this task: %s" % sorted(task)})
                continue
            if module in INCLUDES:
                target = task[module]
                target = target.get("file") if isinstance(target, dict) else target
                walk(Path(path).parent / str(render(variables, target)), variables, scenario)
                continue
            if module in SET_FACT:
                for key, value in task[module].items():
                    if key == "cacheable":
                        continue
                    try:
                        variables[key] = render(variables, value)
                    except Exception as exc:  # noqa: BLE001 - any template error is a finding
                        out["errors"].append({"scenario": scenario, "file": rel, "task": name,
                                              "error": "set_fact %s: %s" % (key, exc)})
                continue
            items = None
            loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
            if any(k.startswith("with_") for k in task):
                out["errors"].append({"scenario": scenario, "file": rel, "task": name,
                                      "error": "with_* loops are not supported here; use loop"})
                continue
            if "loop" in task:
                try:
                    items = render(variables, task["loop"])
                except Exception as exc:  # noqa: BLE001
                    out["errors"].append({"scenario": scenario, "file": rel, "task": name,
                                          "error": "loop: %s" % exc})
                    items = []
            if module.startswith(WINDOWS_PREFIXES) or module.split(".")[-1].startswith("win_"):
                raw_args = task[module]
                for item in (items if items is not None else [None]):
                    local = dict(variables)
                    if items is not None:
                        local[loop_var] = item
                    try:
                        args = render(local, raw_args)
                    except Exception as exc:  # noqa: BLE001
                        out["errors"].append({"scenario": scenario, "file": rel, "task": name,
                                              "error": "arguments: %s" % exc})
                        continue
                    out["invocations"].append({
                        "scenario": scenario, "file": rel, "task": name, "module": module,
                        "args": _plain(args), "raw_args": _plain(raw_args),
                        "task_keys": sorted(str(k) for k in task),
                        "changed_when": _plain(task.get("changed_when")),
                        "check_mode": _plain(task.get("check_mode")),
                    })
            register = task.get("register")
            if register:
                if register in data.get("registers", {}):
                    variables[register] = data["registers"][register]
                else:
                    variables[register] = neutral_result(module, items)

    for scenario in data["scenarios"]:
        variables = {k: trust(v) for k, v in data.get("defaults", {}).items()}
        variables.update({k: trust(v) if isinstance(v, str) else v for k, v in scenario["vars"].items()})
        walk(root / data["entry"], variables, scenario["id"])
        out["facts"][scenario["id"]] = {
            k: _plain(v) for k, v in variables.items() if k.startswith(tuple(data.get("report_facts", [])))
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
