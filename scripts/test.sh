#!/usr/bin/env bash
# The whole test suite: setup, unit + integration tests, quality gates, Molecule lab.
# Every stage runs; the script fails when any stage fails. Stage times are printed at the end.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
bash scripts/setup.sh || { echo "setup failed"; exit 1; }
export PATH="$root/.venv/bin:$PATH" ANSIBLE_CONFIG="$root/ansible.cfg" PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
summary=()
failed=0
passed=0
stage() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== stage: $name"
  if "$@"; then passed=$((passed + 1)); summary+=("ok    $name ($((SECONDS - start)) s)")
  else failed=$((failed + 1)); summary+=("FAIL  $name ($((SECONDS - start)) s)"); fi
}
stage "pytest (unit, contract, LDAP against a real slapd)" python -m pytest tests/unit tests/ldap -q -p no:cacheprovider
plan_out=$(mktemp -d)
stage "plan on inventories/example" env SAFEQ_PLAN_OUTPUT_DIR="$plan_out" ansible-playbook playbooks/plan.yml -i inventories/example
stage "ansible-lint production profile" bash scripts/gates/lint.sh
stage "ansible-test sanity" bash scripts/gates/sanity.sh
stage "build + galaxy-importer" bash scripts/gates/build-import.sh
stage "antsibull-changelog lint" bash scripts/gates/changelog.sh
stage "molecule lab (podman, real packets)" molecule test -s lab
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
