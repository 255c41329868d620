# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load and validate catalog/checklist.yml: the checklist lines, its headings and every check.

``load_checklist(path=None)`` returns a ``Checklist`` (cached per file and modification time).
Every problem raises ``ChecklistError`` naming the file, the check and the field, for example
``checklist catalog/checklist.yml: checks[4] (PRE-BROWSER).automation: 'sometimes' is not one of
automated, conditional, manual``. The schema is described at the top of the data file.
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import (
    COMPONENTS,
    DATA_DIR,
    CatalogError,
    load_yaml_file,
)

CHECKLIST_PATH = os.path.join(DATA_DIR, "checklist.yml")
PLATFORMS = ("windows", "linux")
AUTOMATIONS = ("automated", "conditional", "manual")
AREAS = ("hardware", "software", "network", "ldap", "topology")
HOST_AREAS = ("hardware", "software", "network", "ldap")
LEVELS = ("host", "run")
CHECK_KEYS = ("id", "title", "line", "item", "area", "level", "automation", "platforms", "components", "mandatory",
              "question", "answered_by")
TOP_KEYS = ("schema_version", "source", "lines", "headings", "checks")
SOURCE_KEYS = ("seed", "title", "sha256")
CHECK_ID = re.compile(r"^PRE-[A-Z0-9]+(-[A-Z0-9]+)*$")


class ChecklistError(ValueError):
    """catalog/checklist.yml is not in the documented shape."""


class Check:
    """One check of the checklist (read-only attributes, see the data file for their meaning)."""

    __slots__ = CHECK_KEYS

    def __init__(self, **fields):
        for key in CHECK_KEYS:
            object.__setattr__(self, key, fields.get(key))

    def __setattr__(self, key, value):
        raise AttributeError("Check is read-only")

    def applies_to(self, components):
        """True when the check concerns a host running ``components`` (None: every component)."""
        return self.components is None or bool(set(self.components) & set(components))

    def mandatory_for(self, components):
        """Whether a failure of the check fails the play, on a host running ``components``."""
        if isinstance(self.mandatory, tuple):
            return bool(set(self.mandatory) & set(components))
        return self.mandatory

    def as_dict(self):
        return {key: getattr(self, key) for key in CHECK_KEYS}


class Checklist:
    """The validated checklist: ``lines`` {number: text}, ``headings``, ``checks`` (in file order)."""

    def __init__(self, path, source, lines, headings, checks):
        self.path = path
        self.source = source
        self.lines = lines
        self.headings = headings
        self.checks = checks
        self.by_id = {c.id: c for c in checks}

    def item_text(self, check):
        """The requirement a check verifies: its checklist line verbatim, or its own item text."""
        return self.lines[check.line] if check.line is not None else check.item

    def of_level(self, level):
        return tuple(c for c in self.checks if c.level == level)


def _display_path(path):
    root = os.path.dirname(os.path.abspath(DATA_DIR))
    path = os.path.abspath(path)
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path


def _text(value):
    return isinstance(value, str) and bool(value.strip())


def _check_lines(data, fail):
    lines = data.get("lines")
    if not isinstance(lines, dict) or not lines:
        fail("lines: must be a mapping of line number to text")
    bad = [repr(n) for n in lines if isinstance(n, bool) or not isinstance(n, int)]
    if bad:
        fail("lines: the keys must be line numbers, got %s" % ", ".join(bad))
    numbers = sorted(lines)
    if numbers != list(range(1, len(lines) + 1)):
        fail("lines: must be numbered 1..%d without gaps (got %s)" % (len(lines), ", ".join(str(n) for n in numbers)))
    for number in numbers:
        if not _text(lines[number]):
            fail("lines.%d: must be the non-empty checklist line" % number)
    source = data.get("source")
    if not isinstance(source, dict) or sorted(source) != sorted(SOURCE_KEYS):
        fail("source: must have exactly %s" % ", ".join(SOURCE_KEYS))
    digest = hashlib.sha256("\n".join(lines[n] for n in numbers).encode("utf-8")).hexdigest()
    if source["sha256"] != digest:
        fail("source.sha256: the lines changed (their SHA-256 is %s); they must stay the seed's lines verbatim"
             % digest)
    if source["title"] != lines[1]:
        fail("source.title: %r is not line 1 (%r)" % (source["title"], lines[1]))
    return dict(lines)


def _check_headings(data, lines, fail):
    headings = data.get("headings")
    if not isinstance(headings, dict):
        fail("headings: must be a mapping of line number to what the heading covers")
    for number, text in headings.items():
        if number not in lines:
            fail("headings.%s: not a line number (1..%d)" % (number, len(lines)))
        if not _text(text):
            fail("headings.%s: must say what the heading covers" % number)
    return dict(headings)


def _choice(value, choices, fail, field):
    if value not in choices:
        fail("%s: %r is not one of %s" % (field, value, ", ".join(choices)))
    return value


def _components(value, fail, field, allow_all=True, allow_bool=False):
    if allow_all and value == "all":
        return None
    if allow_bool and isinstance(value, bool):
        return value
    expected = "all or a list of components" if allow_all else "true, false or a list of components"
    if not isinstance(value, list) or not value:
        fail("%s: must be %s (%s), got %r" % (field, expected, ", ".join(COMPONENTS), value))
    for item in value:
        _choice(item, COMPONENTS, fail, field)
    if len(set(value)) != len(value):
        fail("%s: %r lists a component twice" % (field, value))
    return tuple(value)


def _check_one(index, raw, lines, headings, seen, fail_top):
    name = raw.get("id") if isinstance(raw, dict) else None

    def fail(message):
        fail_top("checks[%d]%s.%s" % (index, " (%s)" % name if isinstance(name, str) else "", message))

    if not isinstance(raw, dict):
        fail_top("checks[%d]: must be a mapping with %s" % (index, ", ".join(CHECK_KEYS)))
    required = [k for k in CHECK_KEYS if k != "item"]
    missing = [k for k in required if k not in raw]
    if missing:
        fail("%s: missing (every check names %s)" % (missing[0], ", ".join(required)))
    unknown = sorted(set(raw) - set(CHECK_KEYS))
    if unknown:
        fail("%s: unknown field (fields: %s)" % (unknown[0], ", ".join(CHECK_KEYS)))
    if not isinstance(name, str) or not CHECK_ID.match(name):
        fail("id: %r is not a check id (PRE-<NAME>, capitals, digits and '-')" % (name,))
    if name in seen:
        fail("id: %s is also checks[%d]; a check id is written once" % (name, seen[name]))
    seen[name] = index
    if not _text(raw["title"]):
        fail("title: must be a non-empty text")
    line = raw["line"]
    if line is None:
        if not _text(raw.get("item")):
            fail("item: a check that is not a checklist line (line: null) needs the requirement text")
    else:
        if isinstance(line, bool) or not isinstance(line, int) or line not in lines:
            fail("line: %r is not a checklist line number (1..%d) or null" % (line, len(lines)))
        if line in headings:
            fail("line: %d is a heading (%s), not a requirement" % (line, headings[line]))
        if "item" in raw:
            fail("item: only checks with line: null have an item; line %d is the requirement" % line)
    area = _choice(raw["area"], AREAS, fail, "area")
    level = _choice(raw["level"], LEVELS, fail, "level")
    if (level == "run") != (area == "topology"):
        fail("level: run-level checks are the topology area and only they (area %s, level %s)" % (area, level))
    automation = _choice(raw["automation"], AUTOMATIONS, fail, "automation")
    platforms = raw["platforms"]
    if not isinstance(platforms, list) or not platforms:
        fail("platforms: must be a non-empty list of %s" % ", ".join(PLATFORMS))
    for platform in platforms:
        _choice(platform, PLATFORMS, fail, "platforms")
    components = _components(raw["components"], fail, "components")
    mandatory = _components(raw["mandatory"], fail, "mandatory", allow_all=False, allow_bool=True)
    for key in ("question", "answered_by"):
        value = raw[key]
        if value is not None and not _text(value):
            fail("%s: must be a non-empty text or null" % key)
        if value is None and automation != "automated":
            fail("%s: a %s check needs it (what a person answers, and who)" % (key, automation))
    return Check(id=name, title=raw["title"].strip(), line=line, item=raw.get("item"), area=area, level=level,
                 automation=automation, platforms=tuple(platforms), components=components, mandatory=mandatory,
                 question=raw["question"], answered_by=raw["answered_by"])


def validate_checklist(data, path=CHECKLIST_PATH):
    """Validate the parsed data of a checklist file; return a Checklist or raise ChecklistError."""
    where = _display_path(path)

    def fail(message):
        raise ChecklistError("checklist %s: %s" % (where, message))

    if not isinstance(data, dict):
        fail("must be a mapping with %s" % ", ".join(TOP_KEYS))
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        fail("%s: unknown key (keys: %s)" % (unknown[0], ", ".join(TOP_KEYS)))
    if data.get("schema_version") != 1:
        fail("schema_version: must be 1, got %r" % (data.get("schema_version"),))
    lines = _check_lines(data, fail)
    headings = _check_headings(data, lines, fail)
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        fail("checks: must be a non-empty list")
    seen = {}
    checks = tuple(_check_one(i, raw, lines, headings, seen, fail) for i, raw in enumerate(raw_checks))
    covered = {c.line for c in checks if c.line is not None}
    uncovered = [n for n in sorted(lines) if n not in covered and n not in headings]
    if uncovered:
        fail("lines.%d: no check verifies it and it is not a heading (every line is accounted for)" % uncovered[0])
    return Checklist(os.path.abspath(path), dict(data["source"]), lines, headings, checks)


_CACHE = {}


def load_checklist(path=None):
    """Load and validate a checklist file (default catalog/checklist.yml); cached per path and mtime."""
    path = os.path.abspath(path or CHECKLIST_PATH)
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise ChecklistError("checklist %s: cannot be read: %s" % (_display_path(path), exc.strerror or exc))
    cached = _CACHE.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = load_yaml_file(path, "checklist")
    except CatalogError as exc:
        raise ChecklistError(str(exc))
    result = validate_checklist(data, path)
    _CACHE[path] = (stamp, result)
    return result
