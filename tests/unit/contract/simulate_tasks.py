# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the roles' task files for one Windows host on the controller and record every module call.

Run as a subprocess by the contract tests (it initialises Ansible's plugin loader, which installs
Ansible's collection finder; keeping that out of the pytest process keeps imports there plain).

It plays what ``ansible-playbook`` would do for one host of a play, without a connection:

* the play is a list of roles (their ``meta/main.yml`` dependencies first, each role once per play,
  as Ansible deduplicates them) or one task file;
* ``import_tasks``/``include_tasks``/``import_role``/``include_role`` are followed; an imported
  file or role inherits the ``when:`` and ``vars:`` of the import (evaluated per task), an include
  is decided once; a role's ``meta/argument_specs.yml`` is validated on entry, like the
  ``validate_argument_spec`` task Ansible inserts;
* variables have Ansible's precedence (role defaults < inventory < role vars < block/task vars
  < set_fact/registered < extra vars); every value is rendered with the real templar, the real
  lookups and the real collection filters (safeq.hardening.*);
* ``when:`` is evaluated with the real templar (per loop item, as Ansible does); a skipped task
  records nothing and registers a skipped result; ``loop``/``loop_control`` (loop_var, label)
  and ``register`` (per-item ``results``) behave as in Ansible; ``changed_when: false`` is applied;
* ``set_fact``, ``assert``, ``fail`` (stops the host), ``debug`` and ``set_stats`` run on the
  controller; ``safeq.hardening.policy_plan`` runs the real plan over the real inventory;
* every task that reaches the Windows host (ansible.windows/community.windows modules, and
  ``ansible.builtin.slurp``, which runs as ansible.windows.slurp there) is recorded item by item
  with its rendered arguments, and answered by a simulated host built from the scenario's
  recorded data (firewall state document, services, files, listening sockets);
* a task delegated to localhost is recorded as a controller call; any other module would run its
  Python code on the Windows host, which is an error.

Input (JSON on stdin)::

    {"root": "/repo", "inventory": "inventories/example",
     "scenarios": [{"id": "...", "host": "cml-prg-1",
                    "play": {"roles": ["safeq.hardening.cml", ...]} | {"tasks": "roles/x/tasks/y.yml"},
                    "play_hosts": [...],            # default: every SafeQ host of the inventory
                    "extra_vars": {...},            # -e
                    "vars": {...},                  # play vars (tasks plays), e.g. a role's variables
                    "windows": {...},               # the simulated host (see WindowsHost)
                    "registers": {"name": result},  # results of controller-side modules
                    "report_facts": ["prefix_"]}]}

Output (JSON on stdout): ``{"runs": {id: run}}``; each run has ``calls`` (Windows module calls:
file, task, module, runs_as, args, item, label, check_mode, changed_when), ``controller`` (calls
kept on the controller), ``skipped`` and ``executed`` (file, task), ``messages`` (debug output),
``stats``, ``failed`` (None, or the fail/assert/validation task that stopped the host and its
message), ``errors`` (template errors, unsupported constructs: never expected) and ``facts``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import ntpath
import os
import sys
from pathlib import Path

WINDOWS_PREFIXES = ("ansible.windows.", "community.windows.")
WINDOWS_BUILTINS = {"ansible.builtin.slurp": "ansible.windows.slurp", "ansible.legacy.slurp": "ansible.windows.slurp",
                    "slurp": "ansible.windows.slurp"}


def _names(*short):
    return {n for s in short for n in (s, "ansible.builtin." + s, "ansible.legacy." + s)}


INCLUDE_TASKS = _names("include_tasks", "import_tasks")
INCLUDE_ROLE = _names("include_role", "import_role")
SET_FACT = _names("set_fact")
ASSERT = _names("assert")
FAIL = _names("fail")
DEBUG = _names("debug")
SET_STATS = _names("set_stats")
META = _names("meta")
POLICY_PLAN = {"safeq.hardening.policy_plan"}
TASK_EXTRA_KEYS = {"block", "rescue", "always", "loop", "loop_control", "args", "vars", "when", "register",
                   "notify", "tags", "name", "local_action", "action"}


class HostStopped(Exception):
    """A fail/assert/argument-spec task stopped the host (Ansible marks it failed and goes on without it)."""

    def __init__(self, where, task, message):
        super().__init__(message)
        self.where, self.task, self.message = where, task, message


class SimulationError(Exception):
    """Something Ansible would report as an error (template error, unsupported construct)."""


def plain(value):
    """Tagged/lazy 2.19 values -> plain JSON types."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return str(value)


class HostVars(dict):
    """``hostvars`` as Ansible provides it: immutable, so deep copies (lazy templar copies) share it."""

    def __deepcopy__(self, memo):
        return self


# ---- the simulated Windows host -----------------------------------------------------------------

class WindowsHost:
    """Answers module calls from recorded data, like the host would (it changes nothing).

    ``data``: ``firewall_state`` (the state document the fixed query prints), ``services``
    ({name: {state, start_mode, path}}), ``files`` ({windows path: text or null}), ``listeners``
    ({tcp_listen: [...], udp_listen: [...]}, win_listen_ports_facts shape) and ``changes``
    (whether writing modules report a change: true for a first run, false for a second run).
    """

    def __init__(self, data, queries):
        self.data = data or {}
        self.queries = queries
        self.files = {k.lower(): (k, v) for k, v in (self.data.get("files") or {}).items()}
        self.changes = bool(self.data.get("changes", True))

    def run(self, module, args):
        name = module.split(".")[-1]
        handler = getattr(self, "_" + name, None)
        if handler is None:
            raise SimulationError("the simulated host does not know module %s" % module)
        return handler(args)

    def _win_powershell(self, args):
        script = args.get("script")
        query = self.queries.get(script)
        if query is None:
            raise SimulationError("win_powershell runs a script that is not one of the collection's fixed queries"
                                  " (lookup('safeq.hardening.windows_query', ...))")
        if query == "firewall_state":
            document = self.data.get("firewall_state")
            if document is None:
                raise SimulationError("the scenario has no firewall_state document")
            text = json.dumps(document, separators=(",", ":"))
            return {"changed": False, "output": [text], "result": {}, "error": [], "warning": [], "verbose": [],
                    "debug": [], "information": [], "host_out": "", "host_err": ""}
        raise SimulationError("no recorded answer for query %s" % query)

    def _win_service_info(self, args):
        pattern = args.get("name") or "*"
        services = []
        for name, info in sorted((self.data.get("services") or {}).items()):
            if fnmatch.fnmatch(name.lower(), pattern.lower()):
                services.append(dict({"name": name, "display_name": name, "state": "started", "start_mode": "auto",
                                      "path": None, "process_id": 0}, **info))
        return {"changed": False, "exists": bool(services), "services": services}

    def _win_find(self, args):
        patterns = [p.lower() for p in args.get("patterns") or ["*"]]
        depth = args.get("depth") if args.get("recurse") else 1
        found = []
        for search in args.get("paths") or []:
            base = ntpath.normpath(search).lower().rstrip("\\") + "\\"
            for key, (path, _text) in sorted(self.files.items()):
                if not key.startswith(base):
                    continue
                levels = key[len(base):].count("\\") + 1
                if depth is not None and levels > int(depth):
                    continue
                filename = ntpath.basename(path)
                if any(fnmatch.fnmatch(filename.lower(), p) for p in patterns):
                    found.append({"path": path, "filename": filename, "isdir": False, "exists": True,
                                  "extension": ntpath.splitext(filename)[1]})
        return {"changed": False, "files": found, "matched": len(found), "examined": len(found)}

    def _win_stat(self, args):
        entry = self.files.get(str(args.get("path")).lower())
        return {"changed": False, "stat": {"exists": True, "isdir": False} if entry else {"exists": False}}

    def _slurp(self, args):
        entry = self.files.get(str(args.get("src")).lower())
        if entry is None or entry[1] is None:
            raise SimulationError("slurp: %s does not exist on the simulated host" % args.get("src"))
        return {"changed": False, "content": base64.b64encode(entry[1].encode("utf-8")).decode("ascii"),
                "encoding": "base64", "source": entry[0]}

    def _win_listen_ports_facts(self, _args):
        listeners = self.data.get("listeners") or {}
        facts = {"tcp_listen": listeners.get("tcp_listen", []), "udp_listen": listeners.get("udp_listen", [])}
        return {"changed": False, "ansible_facts": facts}

    def _win_lineinfile(self, args):
        return {"changed": self.changes, "msg": "line replaced" if self.changes else "",
                "backup": (args.get("path") + ".bak") if self.changes else ""}

    def _win_firewall_rule(self, _args):
        return {"changed": self.changes, "msg": ""}

    def _win_firewall(self, _args):
        return {"changed": self.changes}

    def _win_file(self, _args):
        return {"changed": self.changes}

    def _win_copy(self, args):
        return {"changed": self.changes, "dest": args.get("dest")}

    def _win_command(self, _args):
        return {"changed": True, "rc": 0, "stdout": "Ok.", "stderr": ""}


# ---- roles ----------------------------------------------------------------------------------------

class Role:
    def __init__(self, sim, name):
        self.name = name
        short = name.split(".")[-1]
        if name.count(".") == 2 and not name.startswith("safeq.hardening."):
            raise SimulationError("role %s is not in this collection" % name)
        self.path = sim.root / "roles" / short
        if not (self.path / "tasks").is_dir():
            raise SimulationError("role %s has no tasks folder under %s" % (name, self.path))
        self.defaults = sim.load_vars(self.path / "defaults" / "main.yml")
        self.vars = sim.load_vars(self.path / "vars" / "main.yml")
        meta = sim.load_yaml(self.path / "meta" / "main.yml") or {}
        self.dependencies = []
        for dep in meta.get("dependencies") or []:
            dep_name = (dep.get("role") or dep.get("name")) if isinstance(dep, dict) else dep
            if isinstance(dep, dict) and set(dep) - {"role", "name"}:
                raise SimulationError("role %s: dependency %r with parameters is not simulated" % (name, dep))
            self.dependencies.append(Role(sim, str(dep_name)))
        specs = sim.load_yaml(self.path / "meta" / "argument_specs.yml") or {}
        self.argument_specs = (specs.get("argument_specs") or {})

    def all_defaults(self):
        """Dependencies' defaults first, then the role's own (Role.get_default_vars)."""
        merged = {}
        for dep in self.dependencies:
            merged.update(dep.all_defaults())
        merged.update(self.defaults)
        return merged


class Context:
    """Where a task sits: its file, role, inherited conditions and vars layers."""

    def __init__(self, path, role=None, when=(), layers=()):
        self.path, self.role, self.when, self.layers = Path(path), role, list(when), list(layers)

    def child(self, path=None, role=None, when=(), layer=None):
        return Context(path or self.path, role or self.role, self.when + list(when),
                       self.layers + ([layer] if layer else []))


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class Simulation:
    def __init__(self, root, loader, templar_class, inventory, scenario, queries, plan_cache):
        self.root, self.loader, self.Templar = root, loader, templar_class
        self.scenario = scenario
        self.host_name = scenario["host"]
        groups, hostvars = inventory
        if self.host_name not in hostvars:
            raise SimulationError("host %s is not in the inventory" % self.host_name)
        self.groups, self.hostvars = groups, HostVars(hostvars)
        self.play_hosts = scenario.get("play_hosts") or sorted(
            {h for g, members in groups.items() if g.startswith("safeq_") for h in members})
        self.inventory = dict(hostvars[self.host_name])
        self.extra = {k: self.trust(v) for k, v in (scenario.get("extra_vars") or {}).items()}
        self.play_vars = {k: self.trust(v) for k, v in (scenario.get("vars") or {}).items()}
        self.facts = {}
        self.registers = scenario.get("registers") or {}
        self.host = WindowsHost(scenario.get("windows"), queries)
        self.plan_cache = plan_cache
        self.play_defaults = {}
        self.roles_run = set()
        self.out = {"calls": [], "controller": [], "skipped": [], "executed": [], "messages": [], "stats": [],
                    "failed": None, "errors": [], "facts": {}}

    # -- data ----------------------------------------------------------------------------------
    def load_yaml(self, path):
        path = Path(path)
        return self.loader.load_from_file(str(path), trusted_as_template=True) if path.is_file() else None

    def load_vars(self, path):
        return dict(self.load_yaml(path) or {})

    @staticmethod
    def trust(value):
        from ansible.template import trust_as_template

        if isinstance(value, str) and ("{{" in value or "{%" in value):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {k: Simulation.trust(v) for k, v in value.items()}
        if isinstance(value, list):
            return [Simulation.trust(v) for v in value]
        return value

    def magic(self):
        return {
            "inventory_hostname": self.host_name, "inventory_hostname_short": self.host_name.split(".")[0],
            "groups": self.groups, "group_names": sorted(g for g, m in self.groups.items()
                                                         if self.host_name in m and g not in ("all", "ungrouped")),
            "hostvars": self.hostvars, "ansible_play_hosts_all": list(self.play_hosts),
            "ansible_play_hosts": list(self.play_hosts), "ansible_play_batch": list(self.play_hosts),
            "ansible_check_mode": False, "ansible_diff_mode": False, "ansible_run_tags": ["all"],
            "ansible_skip_tags": [], "playbook_dir": str(self.root / "playbooks"),
        }

    def variables(self, ctx, local=None):
        variables = dict(self.play_defaults)
        if ctx.role is not None:
            variables.update(ctx.role.all_defaults())
        variables.update(self.inventory)
        variables.update(self.play_vars)
        if ctx.role is not None:
            variables.update(ctx.role.vars)
        variables.update(self.magic())
        for layer in ctx.layers:
            variables.update(layer)
        variables.update(self.facts)
        variables.update(self.extra)
        variables.update(local or {})
        return variables

    def render(self, ctx, value, local=None):
        return self.Templar(loader=self.loader, variables=self.variables(ctx, local)).template(value)

    def condition(self, ctx, conditions, local=None):
        """(True, None) or (False, the first false condition), evaluated like Ansible (all must hold)."""
        templar = self.Templar(loader=self.loader, variables=self.variables(ctx, local))
        for conditional in conditions:
            if not templar.evaluate_conditional(conditional):
                return False, str(conditional)
        return True, None

    # -- walking ---------------------------------------------------------------------------------
    def rel(self, path):
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return str(path)

    def run_role(self, role):
        """A role of the play or a dependency: its dependencies first, then the role, once per play."""
        for dep in role.dependencies:
            self.run_role(dep)
        if role.name in self.roles_run:
            return
        self.roles_run.add(role.name)
        path = role.path / "tasks" / "main.yml"
        ctx = Context(path, role)
        self.validate_role_arguments(role, ctx)
        self.run_tasks(self.load_yaml(path) or [], ctx)

    def validate_role_arguments(self, role, ctx):
        """What the validate_argument_spec task Ansible inserts at a role's start does."""
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

        entry = role.argument_specs.get("main")
        if not entry:
            return
        allowed = {"type", "required", "default", "choices", "elements", "aliases", "options", "no_log",
                   "apply_defaults"}
        spec = {}
        for name, option in (entry.get("options") or {}).items():
            spec[name] = {k: v for k, v in option.items() if k in allowed}
        variables = self.variables(ctx)
        provided = {}
        for name in spec:
            if name in variables:
                provided[name] = self.render(ctx, variables[name])
        result = ArgumentSpecValidator(plain(spec)).validate(plain(provided))
        if result.error_messages:
            raise HostStopped(self.rel(role.path / "meta" / "argument_specs.yml"),
                              "Validating arguments against arg spec main",
                              "; ".join(str(m) for m in result.error_messages))

    def run_tasks(self, tasks, ctx):
        for task in tasks or []:
            self.run_task(task, ctx)

    def module_of(self, task):
        from ansible.playbook.task import Task

        keywords = set(Task.fattributes) | TASK_EXTRA_KEYS
        candidates = [k for k in task if k not in keywords and not k.startswith("with_")]
        if len(candidates) != 1:
            raise SimulationError("cannot tell the module of this task: %s" % sorted(task))
        return candidates[0]

    def run_task(self, task, ctx):
        name = str(task.get("name", "?"))
        where = self.rel(ctx.path)
        try:
            if "block" in task:
                inner = ctx.child(when=_as_list(task.get("when")), layer=task.get("vars"))
                try:
                    self.run_tasks(task["block"], inner)
                except HostStopped:
                    if not task.get("rescue"):
                        raise
                    self.run_tasks(task["rescue"], inner)
                finally:
                    if task.get("always"):
                        self.run_tasks(task["always"], inner)
                return
            if any(k.startswith("with_") for k in task):
                raise SimulationError("with_* loops are not simulated; use loop")
            module = self.module_of(task)
            self.run_module_task(task, name, module, ctx)
        except (HostStopped, SimulationError):
            raise
        except Exception as exc:  # noqa: BLE001 - a template error stops the host in Ansible too
            raise SimulationError("%s: task %r: %s: %s" % (where, name, type(exc).__name__, exc)) from exc

    def run_module_task(self, task, name, module, ctx):
        where = self.rel(ctx.path)
        layer = task.get("vars")
        task_ctx = ctx.child(layer=layer) if layer else ctx
        own_when = _as_list(task.get("when"))

        if module in INCLUDE_TASKS:
            target = task[module]
            target = target.get("file") if isinstance(target, dict) else target
            static = module.endswith("import_tasks")
            if not static:
                ok, false = self.condition(task_ctx, ctx.when + own_when)
                if not ok:
                    self.out["skipped"].append({"file": where, "task": name, "condition": false})
                    return
            path = ctx.path.parent / str(self.render(task_ctx, target))
            inner = ctx.child(path=path, when=own_when if static else (), layer=layer)
            self.out["executed"].append({"file": where, "task": name, "module": module})
            self.run_tasks(self.load_yaml(path) or [], inner)
            return
        if module in INCLUDE_ROLE:
            options = task[module] or {}
            static = module.endswith("import_role")
            if not static:
                ok, false = self.condition(task_ctx, ctx.when + own_when)
                if not ok:
                    self.out["skipped"].append({"file": where, "task": name, "condition": false})
                    return
            role = Role(self, str(options["name"]))
            if options.get("tasks_from", "main") != "main":
                raise SimulationError("tasks_from is not simulated")
            self.play_defaults.update(role.all_defaults())
            self.out["executed"].append({"file": where, "task": name, "module": module})
            # an import (static) gives every task of the role its when: and vars:; an include decided already
            inner = Context(role.path / "tasks" / "main.yml", role, ctx.when + (own_when if static else []),
                            ctx.layers + ([layer] if layer else []))
            self.validate_role_arguments(role, inner)
            for dep in role.dependencies:
                self.run_role(dep)
            self.run_tasks(self.load_yaml(role.path / "tasks" / "main.yml") or [], inner)
            return

        conditions = ctx.when + own_when
        loop_control = task.get("loop_control") or {}
        loop_var = loop_control.get("loop_var", "item")
        register = task.get("register")
        if "loop" in task:
            try:
                items = self.render(task_ctx, task["loop"])
            except Exception:  # noqa: BLE001 - Ansible keeps the loop error and raises it only if the task runs
                ok, false = self.condition(task_ctx, conditions)
                if ok:
                    raise
                self.out["skipped"].append({"file": where, "task": name, "condition": false})
                if register:
                    self.facts[register] = {"changed": False, "skipped": True, "false_condition": false,
                                            "skip_reason": "Conditional result was False"}
                return
            if not isinstance(items, list):
                raise SimulationError("loop did not render to a list: %r" % (items,))
            if not items:
                # Ansible skips a task whose loop is empty (after the first condition check)
                self.out["skipped"].append({"file": where, "task": name, "condition": "empty loop"})
                if register:
                    self.facts[register] = {"changed": False, "skipped": True, "results": [],
                                            "skipped_reason": "No items in the list", "msg": "All items skipped"}
                return
            results, ran = [], False
            for index, item in enumerate(items):
                local = {loop_var: item, "ansible_loop_var": loop_var}
                if loop_control.get("index_var"):
                    local[loop_control["index_var"]] = index
                ok, false = self.condition(task_ctx, conditions, local)
                if not ok:
                    results.append({"changed": False, "skipped": True, "false_condition": false, loop_var: item,
                                    "ansible_loop_var": loop_var, "item": item})
                    continue
                ran = True
                result = self.execute(task, name, module, task_ctx, local, loop_control)
                result = dict(result, **{loop_var: item, "ansible_loop_var": loop_var})
                results.append(result)
            if not ran:
                self.out["skipped"].append({"file": where, "task": name, "condition": "every item skipped"})
            else:
                self.out["executed"].append({"file": where, "task": name, "module": module})
            if register:
                self.facts[register] = {"changed": any(r.get("changed") for r in results), "results": results,
                                        "msg": "All items completed", "skipped": not ran}
            return
        ok, false = self.condition(task_ctx, conditions)
        if not ok:
            self.out["skipped"].append({"file": where, "task": name, "condition": false})
            if register:
                self.facts[register] = {"changed": False, "skipped": True, "false_condition": false,
                                        "skip_reason": "Conditional result was False"}
            return
        self.out["executed"].append({"file": where, "task": name, "module": module})
        result = self.execute(task, name, module, task_ctx, None, loop_control)
        if register:
            self.facts[register] = result

    def execute(self, task, name, module, ctx, local, loop_control):
        """Run one task (one loop item) whose conditions hold; returns its result."""
        where = self.rel(ctx.path)
        raw = task[module]
        if module in SET_FACT:
            for key, value in (raw or {}).items():
                if key != "cacheable":
                    self.facts[key] = self.render(ctx, value, local)
            return {"changed": False, "ansible_facts": {}}
        if module in ASSERT:
            that = _as_list(raw.get("that"))
            ok, false = self.condition(ctx, that, local)
            if not ok:
                message = self.render(ctx, raw.get("fail_msg") or raw.get("msg") or "Assertion failed", local)
                raise HostStopped(where, name, "%s (false: %s)" % (plain(message), false))
            return {"changed": False, "msg": "All assertions passed"}
        if module in FAIL:
            message = self.render(ctx, (raw or {}).get("msg", "Failed as requested from task"), local)
            raise HostStopped(where, name, plain(message))
        if module in DEBUG:
            raw = raw or {}
            message = self.render(ctx, raw["msg"], local) if "msg" in raw else \
                self.render(ctx, "{{ %s }}" % raw["var"], local) if "var" in raw else "Hello world!"
            self.out["messages"].append({"file": where, "task": name, "msg": plain(message)})
            return {"changed": False, "msg": message}
        if module in SET_STATS:
            self.out["stats"].append({"file": where, "task": name, "data": plain(self.render(ctx, raw, local))})
            return {"changed": False}
        if module in META:
            return {"changed": False}

        args = self.render(ctx, raw if raw is not None else {}, local)
        if not isinstance(args, dict):
            raise SimulationError("%s arguments did not render to a mapping: %r" % (module, args))
        delegate = self.render(ctx, task["delegate_to"], local) if task.get("delegate_to") else None
        label = self.render(ctx, loop_control["label"], local) if (local and loop_control.get("label")) else None
        record = {"file": where, "task": name, "module": module, "args": plain(args),
                  "item": plain(local[local["ansible_loop_var"]]) if local else None, "label": plain(label),
                  "check_mode": plain(task.get("check_mode")), "changed_when": plain(task.get("changed_when")),
                  "run_once": bool(task.get("run_once")), "delegate_to": plain(delegate)}
        if delegate in ("localhost", "127.0.0.1") or module in POLICY_PLAN:
            self.out["controller"].append(record)
            if task.get("register") and task["register"] in self.registers:
                result = copy.deepcopy(self.registers[task["register"]])
            elif module in POLICY_PLAN:
                result = self.policy_plan(args)
            else:
                result = {"changed": True}
            return self.changed_when(task, ctx, local, result)
        runs_as = WINDOWS_BUILTINS.get(module) or (module if module.startswith(WINDOWS_PREFIXES) else None)
        if runs_as is None:
            raise SimulationError("module %s is not a Windows module and is not delegated: it would run its Python"
                                  " code on the Windows host %s" % (module, self.host_name))
        record["runs_as"] = runs_as
        self.out["calls"].append(record)
        result = self.host.run(runs_as, args)
        facts = result.get("ansible_facts") or {}
        self.facts.update(facts)
        return self.changed_when(task, ctx, local, result)

    def changed_when(self, task, ctx, local, result):
        if "changed_when" not in task:
            return result
        result = dict(result)
        ok, _false = self.condition(ctx, _as_list(task["changed_when"]), dict(local or {}, **(
            {task["register"]: result} if task.get("register") else {})))
        result["changed"] = ok
        return result

    def policy_plan(self, args):
        """The safeq.hardening.policy_plan action: the real plan over the real inventory."""
        from ansible_collections.safeq.hardening.plugins.modules.policy_plan import DOCUMENTATION
        from ansible_collections.safeq.hardening.plugins.plugin_utils.argspec import validate_arguments
        from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

        args = validate_arguments(DOCUMENTATION, plain(args), "policy_plan")
        key = json.dumps(args["render"], sort_keys=True)
        if key not in self.plan_cache:
            self.plan_cache[key] = compute_plan(self.groups, self.hostvars, render_options=args["render"])
        plan = self.plan_cache[key]
        wanted = [h for h in args["hosts"] if h in plan["policies"]]
        return {"changed": False, "summary": plan["summary"], "warnings_list": plan["warnings"],
                "unresolved": plan["unresolved"], "policies": {h: plan["policies"][h] for h in wanted},
                "rendered": {h: plan["rendered"][h] for h in wanted}}

    # -- a play --------------------------------------------------------------------------------
    def run(self):
        play = self.scenario["play"]
        try:
            if "roles" in play:
                roles = [Role(self, name) for name in play["roles"]]
                for role in roles:
                    self.play_defaults.update(role.all_defaults())
                for role in roles:
                    self.run_role(role)
            else:
                path = self.root / play["tasks"]
                self.run_tasks(self.load_yaml(path) or [], Context(path))
        except HostStopped as stop:
            self.out["failed"] = {"file": stop.where, "task": stop.task, "msg": stop.message}
        except SimulationError as exc:
            self.out["errors"].append(str(exc))
        prefixes = tuple(self.scenario.get("report_facts") or ())
        self.out["facts"] = {k: plain(v) for k, v in self.facts.items() if prefixes and k.startswith(prefixes)}
        return self.out


def load_inventory(path):
    """(groups, hostvars) of an inventory as the plan sees them (vault values left out)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    manager = VariableManager(loader=loader, inventory=inventory)
    groups = {name: [h.name for h in group.get_hosts()] for name, group in inventory.groups.items()}
    hostvars = {}
    for host in inventory.get_hosts():
        found = manager.get_vars(host=host, include_hostvars=False)
        hostvars[host.name] = {k: v for k, v in found.items() if not hasattr(v, "_ciphertext")}
    return groups, hostvars


def main():
    data = json.load(sys.stdin)
    root = Path(data["root"]).resolve()
    collections = str(root / ".collections")
    sys.path.insert(0, collections)
    os.chdir(str(root))

    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar

    init_plugin_loader([collections])

    from ansible_collections.safeq.hardening.plugins.lookup.windows_query import QUERIES

    loader = DataLoader()
    queries = {text: name for name, text in QUERIES.items()}
    inventories, plan_caches, runs = {}, {}, {}
    for scenario in data["scenarios"]:
        source = scenario.get("inventory") or data.get("inventory") or "inventories/example"
        if source not in inventories:
            inventories[source] = load_inventory(root / source)
            plan_caches[source] = {}
        simulation = Simulation(root, loader, Templar, inventories[source], scenario, queries, plan_caches[source])
        runs[scenario["id"]] = simulation.run()
    json.dump({"runs": runs}, sys.stdout)


if __name__ == "__main__":
    main()
