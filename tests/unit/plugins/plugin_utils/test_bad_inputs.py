# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every case of bad_inputs.CASES, run the way the collection runs it.

Errors must come from the collection's own error types with the expected text (variable, host,
value) and without Python internals; warnings must be in the plan's warnings; no message (and no
plan output) may show the base inventory's password. Cases marked ``pending`` wait for a change in
a file outside this work and fail until it lands (the assertion message names the change).
"""

from __future__ import annotations

import pytest
from bad_inputs import CASES, SECRET, TRACEBACK_WORDS, base_inventory, base_plan, describe, run_case, validate_table


def _pending(case):
    return " (waits for: %s)" % case.pending if case.pending else ""


def test_table_is_well_formed():
    assert validate_table() == []
    assert len(CASES) >= 40
    assert {c.target for c in CASES} == {"inventory", "catalog", "render_nftables", "render_windows"}
    assert all(describe(c) for c in CASES)


def test_base_is_valid_and_quiet():
    plan = base_plan()
    assert plan["warnings"] == []
    assert sorted(plan["policies"]) == sorted(base_inventory()[1])
    assert "nftables" in plan["rendered"]["ors-lnx"] and "windows" in plan["rendered"]["cml1"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case):
    result = run_case(case)
    text = "\n".join(result.messages)
    assert result.outcome != "crash", "%s crashed: %s%s" % (case.id, text, _pending(case))
    for word in TRACEBACK_WORDS:
        assert word not in text, "%s: message shows %r: %s%s" % (case.id, word, text, _pending(case))
    assert SECRET not in text and SECRET not in result.output, case.id
    if case.outcome == "error":
        assert result.outcome == "error", "%s: expected an error, got %s %s%s" % (
            case.id, result.outcome, text, _pending(case))
        missing = [s for s in case.expect if s not in text]
        assert not missing, "%s: %r not in %s%s" % (case.id, missing, text, _pending(case))
    elif case.outcome == "warning":
        assert result.outcome == "warning", "%s: expected a warning, got %s %s" % (case.id, result.outcome, text)
        found = [w for w in result.warnings
                 if all(s in "%s %s %s" % (w.get("host"), w["variable"], w["message"]) for s in case.expect)]
        assert found, "%s: no warning has all of %r: %r" % (case.id, case.expect, result.warnings)
        assert all(set(w) == {"host", "variable", "message"} for w in result.warnings), result.warnings
    else:
        assert result.outcome in ("ok", "warning"), "%s: %s" % (case.id, text)
        assert case.check is None or case.check(result.plan), case.id


def test_secret_reaches_no_error_even_when_every_host_is_bad():
    """All inventory error cases at once: one TopologyError lists them all, still without the secret."""
    from bad_inputs import apply_inventory

    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan
    from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import TopologyError

    groups, hostvars = base_inventory()
    apply_inventory((("set", "cml1", {"safeq_winrm_password": SECRET, "safeq_features": ["teleport"]}),
                     ("set", "cml2", {"safeq_etcd_cluster": ["x"]}),
                     ("set", "ors-lnx", {"safeq_management_port": 2222, "ansible_password": SECRET})), groups, hostvars)
    with pytest.raises(TopologyError) as info:
        compute_plan(groups, hostvars)
    message = str(info.value)
    assert message.startswith("4 inventory errors:")
    for part in ("hostvars[cml1].safeq_winrm_password", "hostvars[cml1].safeq_features", "hostvars[cml2].safeq_etcd_cluster",
                 "hostvars[ors-lnx].safeq_management_port"):
        assert part in message
    assert SECRET not in message


def test_doc_is_current():
    """docs/bad-inputs.md is what scripts/gen_bad_inputs_doc.py writes from a fresh run of the table."""
    import importlib.util
    from pathlib import Path

    import bad_inputs

    root = Path(__file__).resolve().parents[4]
    spec = importlib.util.spec_from_file_location("gen_bad_inputs_doc", root / "scripts" / "gen_bad_inputs_doc.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = generator.render(bad_inputs)
    assert "## Protected ports" in text and "| 3389 | Remote Desktop |" in text
    assert all("`%s`" % case.id in text for case in CASES)
    current = (root / "docs" / "bad-inputs.md").read_text(encoding="utf-8")
    assert current == text, "docs/bad-inputs.md is out of date: run .venv/bin/python scripts/gen_bad_inputs_doc.py"
