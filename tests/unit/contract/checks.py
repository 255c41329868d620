# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks shared by the Windows contract tests (each returns a list of problems; [] = fine)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from module_specs import (
    ModuleDocError,
    canonical_option,
    module_spec,
    option_errors,
    resolve_module,
    validation_errors,
    version_added,
    version_tuple,
)

from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DESCRIPTION_MAX,
    NAME_MAX,
    address_list_errors,
    port_list_errors,
    text_errors,
)

FIREWALL_RULE = "community.windows.win_firewall_rule"
WINDOWS_PREFIXES = ("ansible.windows.", "community.windows.")
# Builtin names that run a Windows module on a Windows host (ansible-core's builtin runtime routes
# slurp.ps1 to ansible.windows.slurp). Other builtin modules would run their Python code and fail there.
WINDOWS_BUILTINS = {
    "ansible.builtin.slurp": "ansible.windows.slurp",
    "ansible.legacy.slurp": "ansible.windows.slurp",
    "slurp": "ansible.windows.slurp",
}
ROOT = Path(__file__).resolve().parents[3]


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


def windows_module(module):
    """The Windows module a task module name runs on a Windows host, or None for other modules."""
    if module in WINDOWS_BUILTINS:
        return WINDOWS_BUILTINS[module]
    if module.startswith(WINDOWS_PREFIXES):
        return module
    return None


def minimum_versions(galaxy=None):
    """{collection: minimum version} from galaxy.yml ``dependencies`` ('>=2.7.0' -> (2, 7, 0))."""
    data = yaml.safe_load((galaxy or ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    result = {}
    for collection, requirement in (data.get("dependencies") or {}).items():
        match = re.search(r">=\s*([\d.]+)", str(requirement))
        if match:
            result[collection] = version_tuple(match.group(1))
    return result


def routing_problems(module):
    """A redirected or deprecated module name is a problem: call the name it resolves to."""
    try:
        resolved, _doc, ps1, deprecation = resolve_module(module)
    except ModuleDocError as exc:
        return [str(exc)]
    problems = []
    if resolved != module:
        problems.append("%s is redirected to %s; call %s" % (module, resolved, resolved))
    if deprecation:
        problems.append("%s is deprecated: %s" % (module, deprecation.get("warning_text") or deprecation))
    if ps1 is None:
        problems.append("%s has no .ps1: it cannot run on a Windows host" % module)
    return problems


def version_problems(module, args, minimums=None):
    """Options (or the module) newer than the collection version galaxy.yml promises to support."""
    minimums = minimum_versions() if minimums is None else minimums
    try:
        resolved = resolve_module(module)[0]
    except ModuleDocError as exc:
        return [str(exc)]
    collection = ".".join(resolved.split(".")[:2])
    minimum = minimums.get(collection)
    if minimum is None:
        return ["%s: galaxy.yml has no minimum version for %s" % (module, collection)]
    problems = []
    added = version_added(resolved)
    if added and version_tuple(added) > minimum:
        problems.append("%s was added in %s %s, galaxy.yml accepts %s >= %s"
                        % (resolved, collection, added, collection, ".".join(map(str, minimum))))
    argument_spec = module_spec(resolved)[0]
    for name in args or {}:
        canonical = canonical_option(argument_spec, name)
        added = version_added(resolved, canonical) if canonical else None
        if added and version_tuple(added) > minimum:
            problems.append("%s option %r was added in %s %s, galaxy.yml accepts %s >= %s"
                            % (resolved, name, collection, added, collection, ".".join(map(str, minimum))))
    return problems


def firewall_rule_problems(args):
    """Problems of one win_firewall_rule argument dict: the module spec plus value syntax and safety."""
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
    present = args.get("state", "present") == "present"
    if present and "localport" in args and args.get("protocol") in (None, "any"):
        problems.append("localport needs protocol tcp/udp")
    # The module CREATES a rule when no rule has the name (HNetCfg.FWRule defaults: allow, inbound,
    # any protocol, any port, any address, every profile). An enabling call must say what it allows.
    if present and args.get("enabled", True) is not False:
        missing = [k for k in ("direction", "action") if k not in args]
        if missing:
            problems.append("an enabling call without %s would create an allow-everything inbound rule when no rule"
                            " is named %r" % (" and ".join(missing), args.get("name")))
    return problems


def invocation_problems(module, args, minimums=None, routing=True):
    """Problems of a rendered Windows module call (``module`` as written in the task)."""
    target = windows_module(module) or module
    if not isinstance(args, dict):
        return ["%s: arguments must be a mapping, got %r" % (module, args)]
    problems = (routing_problems(target) if routing else []) + version_problems(target, args, minimums)
    try:
        resolved = resolve_module(target)[0]
    except ModuleDocError:
        return problems
    if resolved == FIREWALL_RULE:
        return problems + firewall_rule_problems(args)
    return problems + ["spec: %s" % e for e in validation_errors(resolved, args)]


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


def windows_task_files(root=None):
    """Every task file of the roles that calls an ansible.windows/community.windows module."""
    root = root or ROOT
    result = []
    for path in sorted(root.glob("roles/*/tasks/**/*.yml")):
        tasks = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if any((module_name(t) or "").startswith(WINDOWS_PREFIXES) for t in iter_tasks(tasks)):
            result.append(path)
    return result


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
        problems += ["%s: %s" % (where, p) for p in routing_problems(module)]
        args = {} if task[module] is None else task[module]
        if "args" in task:
            problems.append("%s: give module options under the module, not `args:`" % where)
        if not isinstance(args, dict):
            problems.append("%s: %s needs a mapping of options, got %r" % (where, module, args))
            continue
        try:
            resolved = resolve_module(module)[0]
            argument_spec = module_spec(resolved)[0]
        except ModuleDocError as exc:
            problems.append("%s: %s" % (where, exc))
            continue
        for name, value in args.items():
            if canonical_option(argument_spec, name) is None:
                problems.append("%s: %s has no option %r (documented: %s)"
                                % (where, module, name, ", ".join(sorted(argument_spec))))
            elif not has_template(value):
                problems += ["%s: %s" % (where, e) for e in option_errors(resolved, name, value)]
        if not has_template(args):
            problems += ["%s: %s" % (where, e) for e in invocation_problems(module, args, routing=False)]
    return problems
