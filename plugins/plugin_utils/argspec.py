# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DOCUMENTATION doubles as argument validation (the ansible.utils pattern) for filters and lookups."""

from __future__ import annotations

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log", "options")


def spec_from_documentation(documentation):
    """Build an argument_spec from a plugin's DOCUMENTATION string (options only)."""
    options = yaml.safe_load(documentation).get("options") or {}
    return {name: _option_spec(opt) for name, opt in options.items()}


def _option_spec(option):
    spec = {k: option[k] for k in _SPEC_KEYS if k in option and k != "options"}
    if "options" in option:
        spec["options"] = {n: _option_spec(o) for n, o in option["options"].items()}
    return spec


def plain(value):
    """Plain dicts and lists of Ansible's lazy containers (validation deep-copies its input, and copying a
    lazy container copies the variables it is bound to). Other mappings (hostvars) are left alone."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def validate_arguments(documentation, arguments, plugin_name):
    """Validate ``arguments`` against DOCUMENTATION; return the validated parameters or raise ValueError."""
    validator = ArgumentSpecValidator(spec_from_documentation(documentation))
    # an option passed as None means "not given": its default applies and choices are not checked
    result = validator.validate({k: plain(v) for k, v in arguments.items() if v is not None})
    if result.error_messages:
        raise ValueError("%s: %s" % (plugin_name, "; ".join(result.error_messages)))
    return result.validated_parameters
