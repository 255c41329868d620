# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers over the registered results the role gathers on a host, and small text helpers.

A registered result that was skipped, failed or is missing makes the checks needing it ``manual``
with the reason from ``why`` (never a silent pass).
"""

from __future__ import annotations

import re

MAX_LIST = 10


def ok(reg):
    """A registered result that ran and succeeded."""
    return isinstance(reg, dict) and not reg.get("skipped") and not reg.get("failed") and not reg.get("unreachable")


def why(reg, what):
    """Why ``reg`` gives no data, for the evidence of a manual item."""
    if reg is None or reg == {}:
        return "%s was not gathered" % what
    if not isinstance(reg, dict):
        return "%s has an unexpected shape" % what
    if reg.get("skipped"):
        return "%s was skipped (%s)" % (what, reg.get("skip_reason") or reg.get("false_condition") or "condition")
    msg = reg.get("msg") or "failed"
    if reg.get("stderr"):
        msg = "%s: %s" % (msg, str(reg["stderr"]).strip()[:300])
    return "%s failed: %s" % (what, one_line(msg))


def one_line(text, limit=400):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def short_list(items, limit=MAX_LIST):
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        text += ", ... (%d more)" % (len(items) - limit)
    return text


def facts_of(gathered):
    facts = gathered.get("facts") or {}
    if isinstance(facts, dict) and "ansible_facts" in facts:
        facts = facts["ansible_facts"]
    return facts if isinstance(facts, dict) else {}


def fact(facts, name, default=None):
    """A fact with or without the ``ansible_`` prefix."""
    if name in facts:
        return facts[name]
    return facts.get("ansible_" + name, default)


def regex_any(patterns, text):
    return any(re.search(p, text or "", re.IGNORECASE) for p in patterns or [])


def gib(num_bytes):
    return num_bytes / float(1024 ** 3)


def norm_path(path, windows):
    path = str(path).strip()
    if windows:
        return path.replace("/", "\\").rstrip("\\").lower()
    return path.rstrip("/") or "/"


def path_covered(path, exclusions, windows):
    """True when ``path`` or one of its parents is in ``exclusions``."""
    target = norm_path(path, windows)
    sep = "\\" if windows else "/"
    for excl in exclusions:
        ex = norm_path(excl, windows)
        if target == ex or target.startswith(ex + sep) or (not windows and ex == "/"):
            return True
    return False
