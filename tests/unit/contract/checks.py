# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks shared by the Windows contract tests (each returns a list of problems; [] = fine)."""

from __future__ import annotations

from pathlib import Path

import yaml
from module_specs import canonical_option, module_spec, option_errors, validation_errors

from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DESCRIPTION_MAX,
    NAME_MAX,
    address_list_errors,
    port_list_errors,
    text_errors,
)

FIREWALL_RULE = "community.windows.win_firewall_rule"
WINDOWS_PREFIXES = ("ansible.windows.", "community.windows.")


def _task_keywords():
    from ansible.playbook.task import Task

    extra = {"block", "rescue", "always", "loop", "loop_control", "args", "vars", "local_action", "action", "name"}
    return set(Task.fattributes) | extra


_NOT_MODULES = _task_keywords()


def is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def has_template(value):
    if isinstance(value, dict):
        return any(has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(has_template(v) for v in value)
    return is_template(value)


def firewall_rule_problems(args):
    """Problems of one win_firewall_rule argument dict: the module spec plus value syntax."""
    problems = ["spec: %s" % e for e in validation_errors(FIREWALL_RULE, args)]
    for key in ("localport", "remoteport"):
        if key in args:
            problems += ["%s: %s" % (key, e) for e in port_list_errors(args[key])]
    for key in ("remoteip", "localip"):
        if key in args:
            problems += ["%s: %s" % (key, e) for e in address_list_errors(args[key])]
    if "name" in args:
        problems += ["name: %s" % e for e in text_errors(args["name"], NAME_MAX)]
    if "description" in args:
        problems += ["description: %s" % e for e in text_errors(args["description"], DESCRIPTION_MAX)]
    if args.get("state", "present") == "present" and "localport" in args and args.get("protocol") in (None, "any"):
        problems.append("localport needs protocol tcp/udp")
    return problems


def invocation_problems(module, args):
    """Problems of a rendered Windows module call."""
    if not isinstance(args, dict):
        return ["%s: arguments must be a mapping, got %r" % (module, args)]
    if module == FIREWALL_RULE:
        return firewall_rule_problems(args)
    return ["spec: %s" % e for e in validation_errors(module, args)]


def module_name(task):
    keys = [k for k in task if k not in _NOT_MODULES and not k.startswith("with_")]
    return keys[0] if len(keys) == 1 else None


def iter_tasks(tasks):
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        for section in ("block", "rescue", "always"):
            if section in task:
                yield from iter_tasks(task[section])
        if "block" not in task:
            yield task


def literal_task_problems(path):
    """Static checks of every Windows module task in a task file (literal option names and values)."""
    problems = []
    tasks = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    for task in iter_tasks(tasks):
        module = module_name(task)
        where = "%s: task %r" % (path, task.get("name", "?"))
        if module is None:
            problems.append("%s: cannot tell the module (keys %s)" % (where, sorted(task)))
            continue
        short = module.split(".")[-1]
        if short.startswith("win_") and not module.startswith(WINDOWS_PREFIXES):
            problems.append("%s: use the FQCN (ansible.windows./community.windows.) instead of %r" % (where, module))
            continue
        if not module.startswith(WINDOWS_PREFIXES):
            continue
        args = {} if task[module] is None else task[module]
        if "args" in task:
            problems.append("%s: give module options under the module, not `args:`" % where)
        if not isinstance(args, dict):
            problems.append("%s: %s needs a mapping of options, got %r" % (where, module, args))
            continue
        try:
            argument_spec = module_spec(module)[0]
        except AssertionError as exc:
            problems.append("%s: %s" % (where, exc))
            continue
        for name, value in args.items():
            if canonical_option(argument_spec, name) is None:
                problems.append("%s: %s has no option %r (documented: %s)"
                                % (where, module, name, ", ".join(sorted(argument_spec))))
            elif not has_template(value):
                problems += ["%s: %s" % (where, e) for e in option_errors(module, name, value)]
        if not has_template(args):
            problems += ["%s: %s" % (where, e) for e in invocation_problems(module, args)]
    return problems
