# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""catalog/checklist.yml: the seed's lines verbatim, every line accounted for, validation errors that name
the file, the check and the field, and exactly one check function per check id."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import registry
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import (
    CHECKLIST_PATH,
    ChecklistError,
    load_checklist,
    validate_checklist,
)

ROOT = Path(__file__).resolve().parents[5]
SEED = ROOT.parent / "shared" / "seeds" / "001_c8baf7c42c6ea139.txt"
RAW = yaml.safe_load(Path(CHECKLIST_PATH).read_text(encoding="utf-8"))


def test_lines_are_the_seed_verbatim():
    if not SEED.is_file():
        if os.environ.get("CI"):
            pytest.fail("seed %s missing (CI is set: seeds are required)" % SEED)
        pytest.skip("seed %s not found" % SEED)
    checklist = load_checklist()
    lines = SEED.read_text(encoding="utf-8").splitlines()[:len(checklist.lines)]
    assert [checklist.lines[n] for n in sorted(checklist.lines)] == lines
    assert len(lines) == 29 and lines[28].startswith("Administrator will be available")


def test_every_line_is_a_heading_or_has_a_check():
    checklist = load_checklist()
    covered = {c.line for c in checklist.checks if c.line is not None}
    assert covered | set(checklist.headings) == set(checklist.lines) == set(range(1, 30))
    assert not covered & set(checklist.headings)
    assert len(checklist.by_id) == len(checklist.checks) == 33
    for check in checklist.checks:
        assert re.match(r"^PRE-[A-Z0-9-]+$", check.id)
        if check.automation != "automated":
            assert check.question and check.answered_by, check.id
        assert checklist.item_text(check)
    assert [c.id for c in checklist.of_level("run")] == ["PRE-TOPOLOGY-TERMINALS", "PRE-TOPOLOGY-NEAR-ROAMING",
                                                         "PRE-CONNECT"]


def test_every_id_has_exactly_one_function_and_every_function_an_id():
    checklist = load_checklist()
    functions = registry.verify(checklist)
    assert set(functions) == set(checklist.by_id)
    for check_id, func in functions.items():
        assert func.check_ids.count(check_id) == 1
        assert [i for i, f in functions.items() if f is func] == [i for i in checklist.by_id if i in func.check_ids]


def test_a_second_function_for_an_id_is_refused():
    registry.functions()
    with pytest.raises(registry.RegistryError, match="PRE-HW-CPU is registered twice"):
        @registry.check("PRE-HW-CPU")
        def other_cpu(ctx):  # pragma: no cover - never called
            return None


def test_an_id_without_function_is_reported(tmp_path):
    data = copy.deepcopy(RAW)
    extra = dict(data["checks"][0], id="PRE-NEW-THING")
    data["checks"].append(extra)
    checklist = validate_checklist(data, str(tmp_path / "checklist.yml"))
    with pytest.raises(registry.RegistryError, match="no function for PRE-NEW-THING"):
        registry.verify(checklist)


def _mutated(change):
    data = copy.deepcopy(RAW)
    change(data)
    return data


def _check(data, check_id):
    return next(c for c in data["checks"] if c["id"] == check_id)


@pytest.mark.parametrize("change, message", [
    (lambda d: _check(d, "PRE-BROWSER").update(automation="sometimes"),
     r"checks\[3\] \(PRE-BROWSER\)\.automation: 'sometimes' is not one of automated, conditional, manual"),
    (lambda d: _check(d, "PRE-LPD").pop("mandatory"), r"\(PRE-LPD\)\.mandatory: missing"),
    (lambda d: _check(d, "PRE-LPD").update(colour="red"), r"\(PRE-LPD\)\.colour: unknown field"),
    (lambda d: _check(d, "PRE-EXTDB").update(question=None), r"\(PRE-EXTDB\)\.question: a manual check needs it"),
    (lambda d: _check(d, "PRE-WEB-80").update(components=["cml", "mfp"]),
     r"\(PRE-WEB-80\)\.components: 'mfp' is not one of cml, ors, crs, ap_connector, etcd"),
    (lambda d: _check(d, "PRE-WEB-80").update(mandatory="all"), r"\(PRE-WEB-80\)\.mandatory: must be true, false"),
    (lambda d: _check(d, "PRE-WEB-80").update(line=18), r"\(PRE-WEB-80\)\.line: 18 is a heading"),
    (lambda d: _check(d, "PRE-WEB-80").update(line=30), r"\(PRE-WEB-80\)\.line: 30 is not a checklist line"),
    (lambda d: _check(d, "PRE-PORTS").pop("item"), r"\(PRE-PORTS\)\.item: a check that is not a checklist line"),
    (lambda d: _check(d, "PRE-WEB-80").update(platforms=["macos"]), r"\(PRE-WEB-80\)\.platforms: 'macos'"),
    (lambda d: _check(d, "PRE-WEB-80").update(area="topology"), r"\(PRE-WEB-80\)\.level: run-level checks"),
    (lambda d: _check(d, "PRE-WEB-80").update(id="PRE-LPD"), r"checks\[15\] \(PRE-LPD\)\.id: PRE-LPD is also checks\[1\]; a check id is written once"),
    (lambda d: _check(d, "PRE-WEB-80").update(id="web80"), r"id: 'web80' is not a check id"),
    (lambda d: d["checks"].remove(_check(d, "PRE-LPD")), r"lines\.17: no check verifies it"),
    (lambda d: d["lines"].update({5: d["lines"][5] + " "}), r"source\.sha256: the lines changed"),
    (lambda d: d["lines"].pop(29), r"source\.sha256|lines\.29"),
    (lambda d: d.update(schema_version=2), r"schema_version: must be 1"),
    (lambda d: d.update(extra=1), r"extra: unknown key"),
])
def test_validation_names_the_file_the_check_and_the_field(change, message):
    with pytest.raises(ChecklistError, match=r"^checklist catalog/checklist\.yml: .*" + message):
        validate_checklist(_mutated(change), CHECKLIST_PATH)


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "checklist.yml"
    bad.write_text("schema_version: 1\nlines: {1: a, 1: b}\n", encoding="utf-8")
    with pytest.raises(ChecklistError, match=re.escape(str(bad))):
        load_checklist(str(bad))
    with pytest.raises(ChecklistError, match="cannot be read"):
        load_checklist(str(tmp_path / "missing.yml"))


def test_load_is_cached_and_follows_changes(tmp_path):
    path = tmp_path / "checklist.yml"
    path.write_text(Path(CHECKLIST_PATH).read_text(encoding="utf-8"), encoding="utf-8")
    first = load_checklist(str(path))
    assert load_checklist(str(path)) is first
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    _check(data, "PRE-LPD")["title"] = "LPD off"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    os.utime(path, ns=(1, 2))
    assert load_checklist(str(path)).by_id["PRE-LPD"].title == "LPD off"
