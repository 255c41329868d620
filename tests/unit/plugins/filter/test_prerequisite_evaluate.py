# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter safeq.hardening.prerequisite_evaluate: gathered data, the role's settings and the plan in, results out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.safeq.hardening.plugins.filter.prerequisite_evaluate import prerequisite_evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugin_utils" / "prerequisites"))
import prerequisites_samples as S  # noqa: E402 - the samples of the prerequisites unit tests


def test_filter_returns_one_result_per_host_check():
    results = prerequisite_evaluate(S.linux(), S.settings("linux"), S.plan())
    assert len(results) == 30 and {r["host"] for r in results} == {"cml-lx"}
    assert {r["id"]: r["status"] for r in results}["PRE-PORTS"] == "pass"


@pytest.mark.parametrize("gathered, settings, plan, message", [
    ("x", S.settings("linux"), S.plan(), "_input"),
    (S.linux(), S.settings("linux", cml_count=2), S.plan(), "settings.cml_count: unknown setting"),
    (S.linux(), S.settings("linux", host="nobody"), S.plan(), "nobody has no policy"),
    (S.linux(), S.settings("linux"), {"failed": True, "msg": "unknown feature 'x'"}, "the plan failed"),
    (S.linux(), S.settings("linux", interfering_software=[{"name": "x"}]), S.plan(), "needs name, category"),
])
def test_filter_errors_name_the_filter_and_the_problem(gathered, settings, plan, message):
    with pytest.raises(AnsibleFilterError, match="safeq.hardening.prerequisite_evaluate: .*%s" % message):
        prerequisite_evaluate(gathered, settings, plan)
