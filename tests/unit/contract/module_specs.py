# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the Windows modules we call, read from the INSTALLED collections.

Windows modules keep their real argument spec in the .ps1 (which cannot run here: no PowerShell),
so the spec is rebuilt from the module's DOCUMENTATION in the .py sidecar:
type, choices, required, elements, aliases, default and suboptions; plus the constraints the
documentation states in prose (mutually exclusive, required unless, must have ... set, required for
state=...). The collection is located through Python's import system (importlib), the same
``ansible_collections`` package path Ansible's collection loader uses; routing in the collection's
meta/runtime.yml (redirect, tombstone, deprecation) is honoured.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.plugin_docs import read_docstring

WINDOWS_MODULES = (
    "community.windows.win_firewall_rule",
    "community.windows.win_lineinfile",
    "ansible.windows.win_service_info",
    "ansible.windows.win_powershell",
    "ansible.windows.win_stat",
)
WINDOWS_COLLECTIONS = ("ansible.windows", "community.windows")
_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log")
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
    import json

    manifest = collection_root(collection) / "MANIFEST.json"
    if manifest.is_file():
        return json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"]
    galaxy = yaml.safe_load((collection_root(collection) / "galaxy.yml").read_text(encoding="utf-8"))
    return galaxy["version"]


def resolve_module(fqcn, _seen=None):
    """(fqcn, .py doc path, .ps1 path or None, deprecation or None) after plugin routing."""
    _seen = _seen or set()
    if fqcn in _seen:
        raise ModuleDocError("routing loop for %s" % fqcn)
    _seen.add(fqcn)
    namespace, name, module = fqcn.split(".")
    root = collection_root("%s.%s" % (namespace, name))
    deprecation = None
    runtime = root / "meta" / "runtime.yml"
    if runtime.is_file():
        routing = ((yaml.safe_load(runtime.read_text(encoding="utf-8")) or {}).get("plugin_routing") or {})
        entry = (routing.get("modules") or {}).get(module) or {}
        if "tombstone" in entry:
            raise ModuleDocError("%s is removed (tombstone): %s" % (fqcn, entry["tombstone"]))
        if "redirect" in entry:
            return resolve_module(entry["redirect"], _seen)
        deprecation = entry.get("deprecation")
    doc_path = root / "plugins" / "modules" / ("%s.py" % module)
    if not doc_path.is_file():
        raise ModuleDocError("%s: no documentation sidecar %s" % (fqcn, doc_path))
    ps1 = root / "plugins" / "modules" / ("%s.ps1" % module)
    return fqcn, doc_path, (ps1 if ps1.is_file() else None), deprecation


def module_documentation(fqcn):
    """The parsed DOCUMENTATION of ``fqcn`` (a plain dict)."""
    doc_path = resolve_module(fqcn)[1]
    data = read_docstring(str(doc_path), verbose=False, ignore_errors=False)
    doc = data.get("doc")
    if not isinstance(doc, dict) or not isinstance(doc.get("options") or {}, dict):
        raise ModuleDocError("%s: DOCUMENTATION in %s cannot be read" % (fqcn, doc_path))
    doc.setdefault("options", {})
    if doc["options"] is None:  # a module without options (e.g. win_whoami)
        doc["options"] = {}
    if doc.get("extends_documentation_fragment"):
        raise ModuleDocError("%s now uses doc fragments %s; merge them before trusting this spec"
                             % (fqcn, doc["extends_documentation_fragment"]))
    return _plain(doc)


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
    """Constraints stated in option descriptions (the .ps1 spec is not readable by Ansible here)."""
    mutually_exclusive, required_one_of, required_if, required_by = [], [], [], {}
    for name, option in options.items():
        for sentence in re.split(r"(?<=\.)\s+", _description(option)):
            lower = sentence.lower()
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


def module_spec(fqcn):
    """(argument_spec, constraints) of an installed module."""
    return spec_from_options(module_documentation(fqcn)["options"])


def module_validator(fqcn):
    argument_spec, constraints = module_spec(fqcn)
    return ArgumentSpecValidator(argument_spec, **constraints)


def validation_errors(fqcn, params):
    """Error messages of validating ``params`` against the module's documented spec ([] = valid)."""
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


def ps1_mentions_option(fqcn, option):
    """True when the module's .ps1 reads ``option`` (legacy Get-AnsibleParam or Ansible.Basic spec)."""
    ps1 = resolve_module(fqcn)[2]
    if ps1 is None:
        return True
    text = ps1.read_text(encoding="utf-8-sig")
    patterns = (
        r'-name\s+["\']%s["\']' % re.escape(option),         # Get-AnsibleParam -name "x"
        r'(?m)^\s*%s\s*=\s*@\{' % re.escape(option),          # Ansible.Basic: x = @{ ... }
        r'Get-AnsibleParam\s+\$\w+\s+["\']%s["\']' % re.escape(option),
    )
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)
