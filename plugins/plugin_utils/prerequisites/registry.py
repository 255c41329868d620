# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check functions, registered by the check ids of catalog/checklist.yml.

::

    @check("PRE-HW-CPU")
    def cpu(ctx):
        return ctx.result("PRE-HW-CPU", "pass", "8 logical CPU cores")

A function registered for several ids (``@check("PRE-PORTS", "PRE-PORTS-BIND")``) is called once and
returns one result per id. Host-level functions take the host's ``Context``; run-level functions
take the ``RunContext``. An id is registered once: a second registration raises ``RegistryError``.
``functions()`` imports every check module and returns ``{check id: function}``.
"""

from __future__ import annotations

import importlib

CHECK_MODULES = ("checks_hardware", "checks_system", "checks_software", "checks_network", "checks_ldap", "checks_run")

_REGISTRY = {}


class RegistryError(ValueError):
    """A check id registered twice, or a registered id the checklist does not know."""


def check(*ids):
    """Register the decorated function as the one function deciding ``ids``."""
    if not ids:
        raise RegistryError("check() needs at least one check id")

    def register(func):
        for check_id in ids:
            other = _REGISTRY.get(check_id)
            if other is not None and other is not func:
                raise RegistryError("%s is registered twice: %s.%s and %s.%s" % (
                    check_id, other.__module__, other.__name__, func.__module__, func.__name__))
            _REGISTRY[check_id] = func
        func.check_ids = tuple(ids)
        return func

    return register


def functions():
    """{check id: function} of every check module."""
    for name in CHECK_MODULES:
        importlib.import_module("%s.%s" % (__package__, name))
    return dict(_REGISTRY)


def verify(checklist):
    """Raise RegistryError unless every check id of ``checklist`` has exactly one function and vice versa."""
    registered = functions()
    missing = [c.id for c in checklist.checks if c.id not in registered]
    unknown = sorted(set(registered) - set(checklist.by_id))
    if missing or unknown:
        raise RegistryError("check functions and %s disagree:%s%s" % (
            checklist.path, " no function for %s." % ", ".join(missing) if missing else "",
            " functions for ids the checklist lacks: %s." % ", ".join(unknown) if unknown else ""))
    for func in set(registered.values()):
        levels = {checklist.by_id[i].level for i in func.check_ids}
        if len(levels) != 1:
            raise RegistryError("%s.%s decides host-level and run-level checks together (%s)"
                                % (func.__module__, func.__name__, ", ".join(func.check_ids)))
    return registered
