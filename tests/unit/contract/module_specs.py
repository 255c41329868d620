# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the Windows modules we call, read from the INSTALLED collections.

Windows modules keep their real argument spec in the .ps1, which cannot run here (no PowerShell).
Two sources are read instead, both from the installed collection:

* modules written on ``Ansible.Basic`` declare ``$spec = @{ options = @{...}; mutually_exclusive =
  @(...) ... }`` as a PowerShell hashtable literal; ``ps1_argument_spec`` parses that literal (a
  small parser for the literal subset these specs use) and it becomes THE spec, constraints included;
* legacy modules (``Get-AnsibleParam``: win_firewall_rule, win_lineinfile, win_copy, win_file,
  slurp) have no spec object, so the spec is rebuilt from the module's DOCUMENTATION (the .py or
  .yml sidecar): type, choices, required, elements, aliases, default and suboptions, plus the
  constraints the documentation states in prose (mutually exclusive, required unless, must have
  ... set, required for state=...).

The collection is located through Python's import system (importlib), the same
``ansible_collections`` package path Ansible's collection loader uses; routing in the collection's
meta/runtime.yml (redirect, tombstone, deprecation) is honoured and reported.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.plugin_docs import read_docstring

# Every module the roles call on a Windows host (ansible.builtin.slurp runs as ansible.windows.slurp there).
WINDOWS_MODULES = (
    "community.windows.win_firewall_rule",
    "community.windows.win_lineinfile",
    "ansible.windows.win_firewall",
    "ansible.windows.win_service_info",
    "ansible.windows.win_powershell",
    "ansible.windows.win_find",
    "ansible.windows.win_listen_ports_facts",
    "ansible.windows.win_stat",
    "ansible.windows.win_file",
    "ansible.windows.win_copy",
    "ansible.windows.win_command",
    "ansible.windows.slurp",
)
WINDOWS_COLLECTIONS = ("ansible.windows", "community.windows")
_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log")
_CONSTRAINT_KEYS = ("mutually_exclusive", "required_one_of", "required_together", "required_if", "required_by")
_REF = re.compile(r"\b[IOC]\((\w+)\)")
# "mutually exclusive with I(a) and I(b)" / "May not be used with C(x)": only the refs right after it.
_EXCLUSIVE = re.compile(r"(?:mutually exclusive with|may not be used with)\s+"
                        r"((?:[IOC]\(\w+\)(?:,\s*|\s+and\s+|\s+or\s+)?)+)", re.IGNORECASE)


class ModuleDocError(AssertionError):
    """The installed module cannot be found or documented as expected."""


def collection_root(collection):
    """Directory of an installed collection, found with importlib (no hard-coded path)."""
    namespace, name = collection.split(".")
    spec = importlib.util.find_spec("ansible_collections.%s.%s" % (namespace, name))
    if spec is None or not spec.submodule_search_locations:
        raise ModuleDocError("collection %s is not installed (install the `ansible` PyPI package)" % collection)
    for location in spec.submodule_search_locations:
        root = Path(location)
        if (root / "MANIFEST.json").is_file() or (root / "meta" / "runtime.yml").is_file():
            return root
    raise ModuleDocError("collection %s has no MANIFEST.json or meta/runtime.yml under %s"
                         % (collection, list(spec.submodule_search_locations)))


def collection_version(collection):
    manifest = collection_root(collection) / "MANIFEST.json"
    if manifest.is_file():
        return json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"]
    galaxy = yaml.safe_load((collection_root(collection) / "galaxy.yml").read_text(encoding="utf-8"))
    return galaxy["version"]


def version_tuple(text):
    """'2.7.0' -> (2, 7, 0); pre-release suffixes are ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3])


@functools.lru_cache(maxsize=None)
def _module_routing(collection):
    """The ``plugin_routing.modules`` mapping of an installed collection's meta/runtime.yml (JSON text)."""
    runtime = collection_root(collection) / "meta" / "runtime.yml"
    routing = {}
    if runtime.is_file():
        routing = ((yaml.safe_load(runtime.read_text(encoding="utf-8")) or {}).get("plugin_routing") or {})
    return json.dumps(routing.get("modules") or {})


def resolve_module(fqcn, _seen=None):
    """(fqcn, doc path (.py or .yml sidecar), .ps1 path or None, deprecation or None) after plugin routing."""
    if _seen is None:
        return _resolve_cached(fqcn)
    if fqcn in _seen:
        raise ModuleDocError("routing loop for %s" % fqcn)
    _seen.add(fqcn)
    namespace, name, module = fqcn.split(".")
    collection = "%s.%s" % (namespace, name)
    root = collection_root(collection)
    entry = json.loads(_module_routing(collection)).get(module) or {}
    if "tombstone" in entry:
        raise ModuleDocError("%s is removed (tombstone): %s" % (fqcn, entry["tombstone"]))
    if "redirect" in entry:
        target = resolve_module(entry["redirect"], _seen)
        # keep the deprecation of the name that was called: it is the one that will disappear
        return target[0], target[1], target[2], entry.get("deprecation") or target[3]
    deprecation = entry.get("deprecation")
    for suffix in (".py", ".yml", ".yaml"):
        doc_path = root / "plugins" / "modules" / (module + suffix)
        if doc_path.is_file():
            break
    else:
        raise ModuleDocError("%s: no documentation sidecar (.py/.yml) in %s" % (fqcn, root / "plugins" / "modules"))
    ps1 = root / "plugins" / "modules" / ("%s.ps1" % module)
    return fqcn, doc_path, (ps1 if ps1.is_file() else None), deprecation


@functools.lru_cache(maxsize=None)
def _resolve_cached(fqcn):
    return resolve_module(fqcn, set())


@functools.lru_cache(maxsize=None)
def _documentation(fqcn):
    doc_path = resolve_module(fqcn)[1]
    data = read_docstring(str(doc_path), verbose=False, ignore_errors=False)
    doc = data.get("doc")
    if not isinstance(doc, dict) or not isinstance(doc.get("options") or {}, dict):
        raise ModuleDocError("%s: DOCUMENTATION in %s cannot be read" % (fqcn, doc_path))
    doc = _plain(doc)
    if doc.get("options") is None:  # a module without options (e.g. win_whoami)
        doc["options"] = {}
    if doc.get("extends_documentation_fragment"):
        raise ModuleDocError("%s now uses doc fragments %s; merge them before trusting this spec"
                             % (fqcn, doc["extends_documentation_fragment"]))
    return json.dumps(doc)


def module_documentation(fqcn):
    """The parsed DOCUMENTATION of ``fqcn`` (a plain dict, a fresh copy)."""
    return json.loads(_documentation(fqcn))


def _plain(value):
    """Tagged 2.19 containers/strings -> plain Python types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _description(option):
    text = option.get("description") or ""
    return " ".join(text) if isinstance(text, list) else str(text)


def _free_form_choices(choices):
    """win_lineinfile documents choices like [EOF, '*regex*']: '*...*' stands for any value."""
    return any(isinstance(c, str) and len(c) > 2 and c.startswith("*") and c.endswith("*") for c in choices)


def spec_from_options(options):
    """(argument_spec, constraints) from a DOCUMENTATION ``options`` mapping."""
    argument_spec = {}
    for name, option in options.items():
        spec = {k: option[k] for k in _SPEC_KEYS if k in option}
        spec.setdefault("type", "str")
        if "choices" in spec and _free_form_choices(spec["choices"]):
            del spec["choices"]
        if spec.get("type") in ("list",) and "elements" not in spec:
            spec["elements"] = "raw"
        suboptions = option.get("suboptions") or option.get("options")
        if suboptions:
            sub_spec, sub_constraints = spec_from_options(suboptions)
            spec["options"] = sub_spec
            for key, value in sub_constraints.items():
                if value:
                    spec[key] = value
        argument_spec[name] = spec
    return argument_spec, prose_constraints(options)


def prose_constraints(options):
    """Constraints stated in option descriptions (used where the .ps1 has no Ansible.Basic spec)."""
    mutually_exclusive, required_one_of, required_if, required_by = [], [], [], {}
    for name, option in options.items():
        for sentence in re.split(r"(?<=\.)\s+", _description(option)):
            match = _EXCLUSIVE.search(sentence)
            if match:
                for other in [r for r in _REF.findall(match.group(1)) if r in options and r != name]:
                    pair = sorted([name, other])
                    if pair not in mutually_exclusive:
                        mutually_exclusive.append(pair)
            match = re.search(r"required unless [IOC]\((\w+)\) is specified", sentence, re.IGNORECASE)
            if match and match.group(1) in options:
                group = sorted([name, match.group(1)])
                if group not in required_one_of:
                    required_one_of.append(group)
            match = re.search(r"must have [IOC]\((\w+)\) set", sentence, re.IGNORECASE)
            if match and match.group(1) in options:
                required_by.setdefault(name, []).append(match.group(1))
            match = re.search(r"required for [CV]\((\w+)=(\w+)\)", sentence, re.IGNORECASE)
            if match and match.group(1) in options:
                required_if.append([match.group(1), match.group(2), [name]])
    return {
        "mutually_exclusive": mutually_exclusive,
        "required_one_of": required_one_of,
        "required_if": required_if,
        "required_by": required_by,
    }


# ---- the Ansible.Basic spec in the .ps1 ----------------------------------------------------------

_PS_TOKEN = re.compile(r"""
    (?P<space>[ \t]+|\#[^\n]*|`\n)
  | (?P<newline>\r?\n)
  | (?P<open>@\{|@\()
  | (?P<close>[})])
  | (?P<punct>[=;,])
  | (?P<string>'(?:[^']|'')*'|"(?:[^"`$]|`.)*")
  | (?P<const>\$true\b|\$false\b|\$null\b)
  | (?P<number>-?\d+(?:\.\d+)?\b)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE | re.IGNORECASE)


class _PsParser:
    """Parse the PowerShell hashtable/array literal subset Ansible.Basic specs are written in.

    Semantics follow PowerShell: ``a, b`` is an array, unary ``, x`` wraps x in an array, and
    ``@( stmt1 <newline> stmt2 )`` is the concatenation of what each statement outputs (an array
    statement outputs its items). Anything else (variables, casts, script blocks) is refused.
    """

    def __init__(self, text, where):
        self.where = where
        self.text = text
        self.position = 0
        self.lookahead = None

    def _lex(self):
        while self.position < len(self.text):
            match = _PS_TOKEN.match(self.text, self.position)
            if not match:
                raise ModuleDocError("%s: cannot parse the $spec literal near %r"
                                     % (self.where, self.text[self.position:self.position + 40]))
            self.position = match.end()
            if match.lastgroup != "space":
                return match.lastgroup, match.group(match.lastgroup)
        return "end", ""

    def _peek(self):
        if self.lookahead is None:
            self.lookahead = self._lex()
        return self.lookahead

    def _next(self):
        token = self._peek()
        self.lookahead = None
        return token

    def _skip(self, kinds=("newline",), values=()):
        while self._peek()[0] in kinds or (values and self._peek()[1] in values):
            self._next()

    def hashtable(self):
        kind, value = self._next()
        if value != "@{":
            raise ModuleDocError("%s: expected @{, got %r" % (self.where, value))
        result = {}
        while True:
            self._skip(("newline",), (";",))
            kind, value = self._next()
            if value == "}":
                return result
            if kind == "word":
                key = value
            elif kind == "string":
                key = self._string(value)
            else:
                raise ModuleDocError("%s: expected a key, got %r" % (self.where, value))
            if self._next()[1] != "=":
                raise ModuleDocError("%s: expected = after %r" % (self.where, key))
            self._skip()
            result[key] = self.expression()

    def expression(self):
        items = [self.unary()]
        is_array = False
        while self._peek()[1] == ",":
            self._next()
            self._skip()
            items.append(self.unary())
            is_array = True
        return items if is_array else items[0]

    def unary(self):
        if self._peek()[1] == ",":
            self._next()
            self._skip()
            return [self.unary()]
        return self.primary()

    def primary(self):
        kind, value = self._peek()
        if value == "@{":
            return self.hashtable()
        self._next()
        if value == "@(":
            result = []
            while True:
                self._skip(("newline",), (";",))
                if self._peek()[1] == ")":
                    self._next()
                    return result
                item = self.expression()
                result.extend(item if isinstance(item, list) else [item])
        if kind == "string":
            return self._string(value)
        if kind == "const":
            return {"$true": True, "$false": False, "$null": None}[value.lower()]
        if kind == "number":
            return float(value) if "." in value else int(value)
        raise ModuleDocError("%s: unsupported token %r in the $spec literal" % (self.where, value))

    @staticmethod
    def _string(value):
        if value.startswith("'"):
            return value[1:-1].replace("''", "'")
        return re.sub(r"`(.)", r"\1", value[1:-1])


@functools.lru_cache(maxsize=None)
def _ps1_spec(fqcn):
    ps1 = resolve_module(fqcn)[2]
    if ps1 is None:
        return "null"
    text = ps1.read_text(encoding="utf-8-sig")
    match = re.search(r"(?m)^\$spec\s*=\s*(?=@\{)", text)
    if not match or "Ansible.Basic" not in text:
        return "null"
    parser = _PsParser(text[match.end():], str(ps1))
    return json.dumps(parser.hashtable())


def ps1_argument_spec(fqcn):
    """The Ansible.Basic ``$spec`` of the module's .ps1 as a dict, or None for legacy modules."""
    return json.loads(_ps1_spec(fqcn))


def _spec_from_ps1(spec):
    """Ansible.Basic option specs -> ArgumentSpecValidator option specs (same keys, Python types)."""
    argument_spec = {}
    for name, option in (spec.get("options") or {}).items():
        entry = {k: option[k] for k in _SPEC_KEYS if k in option}
        entry.setdefault("type", "str")
        for key in ("choices", "aliases"):
            if key in entry and not isinstance(entry[key], list):
                entry[key] = [entry[key]]
        if entry["type"] == "list" and "elements" not in entry:
            entry["elements"] = "raw"
        if option.get("options"):
            entry["options"] = _spec_from_ps1(option)
            entry.update(_constraints_from_ps1(option))
        argument_spec[name] = entry
    return argument_spec


def _constraints_from_ps1(spec):
    result = {}
    for key in _CONSTRAINT_KEYS:
        value = spec.get(key)
        if value:
            result[key] = value
    return result


def spec_source(fqcn):
    """'ps1' when the module's own Ansible.Basic spec is used, 'documentation' otherwise."""
    return "ps1" if ps1_argument_spec(fqcn) is not None else "documentation"


def module_spec(fqcn):
    """(argument_spec, constraints) of an installed module: the .ps1's Ansible.Basic spec, else the docs."""
    return tuple(json.loads(_module_spec(fqcn)))


@functools.lru_cache(maxsize=None)
def _module_spec(fqcn):
    ps1 = ps1_argument_spec(fqcn)
    if ps1 is not None:
        constraints = {"mutually_exclusive": [], "required_one_of": [], "required_if": [], "required_by": {},
                       "required_together": []}
        constraints.update(_constraints_from_ps1(ps1))
        return json.dumps([_spec_from_ps1(ps1), constraints])
    return json.dumps(list(spec_from_options(module_documentation(fqcn)["options"])))


def module_validator(fqcn):
    argument_spec, constraints = module_spec(fqcn)
    return ArgumentSpecValidator(argument_spec, **constraints)


def validation_errors(fqcn, params):
    """Error messages of validating ``params`` against the module's spec ([] = valid).

    Stricter than the host in one way: Ansible.Basic accepts a case-insensitive match of a choice
    (silently, with a note that this will become case sensitive); we require the documented spelling.
    """
    result = module_validator(fqcn).validate(dict(params))
    return list(result.error_messages)


def option_errors(fqcn, name, value):
    """Errors of one option alone (type, choices, elements); unknown names are an error too."""
    argument_spec = module_spec(fqcn)[0]
    canonical = canonical_option(argument_spec, name)
    if canonical is None:
        return ["%s: unsupported option %r (documented: %s)" % (fqcn, name, ", ".join(sorted(argument_spec)))]
    spec = dict(argument_spec[canonical])
    spec.pop("required", None)
    result = ArgumentSpecValidator({canonical: spec}).validate({canonical: value})
    return list(result.error_messages)


def canonical_option(argument_spec, name):
    if name in argument_spec:
        return name
    for canonical, spec in argument_spec.items():
        if name in (spec.get("aliases") or []):
            return canonical
    return None


def version_added(fqcn, option=None):
    """version_added of the module (or of one of its options) in its collection's docs, or None."""
    doc = module_documentation(resolve_module(fqcn)[0])
    entry = doc if option is None else (doc["options"].get(option) or {})
    value = entry.get("version_added")
    return None if value in (None, "historical") else str(value)


def action_plugin(fqcn):
    """The controller-side action plugin of the same name (it handles some options itself), or None."""
    resolved = resolve_module(fqcn)[0]
    namespace, name, module = resolved.split(".")
    path = collection_root("%s.%s" % (namespace, name)) / "plugins" / "action" / ("%s.py" % module)
    return path if path.is_file() else None


def ps1_mentions_option(fqcn, option):
    """True when the module's .ps1 (Ansible.Basic spec or Get-AnsibleParam) or its action plugin reads ``option``."""
    action = action_plugin(fqcn)
    if action is not None and re.search(r"""args(?:\.get\(|\[)\s*["']%s["']""" % re.escape(option),
                                        action.read_text(encoding="utf-8")):
        return True
    spec = ps1_argument_spec(fqcn)
    if spec is not None:
        return option in (spec.get("options") or {})
    ps1 = resolve_module(fqcn)[2]
    if ps1 is None:
        return True
    text = ps1.read_text(encoding="utf-8-sig")
    patterns = (
        r'-name\s+["\']%s["\']' % re.escape(option),         # Get-AnsibleParam -name "x"
        r'Get-AnsibleParam\s+(?:-obj\s+)?\$\w+\s+["\']%s["\']' % re.escape(option),
    )
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)
