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
stage "unit tests (pure core, modules in network namespaces, contract tests, Chromium report tests)" \
  python -m pytest tests/unit -q -p no:cacheprovider
stage "LDAP checks against a real slapd" python -m pytest tests/ldap -q -p no:cacheprovider
stage "integration tests (ansible-playbook, ansible-runner, tarball install, execution environment)" \
  python -m pytest tests/integration -q -p no:cacheprovider
stage "generated docs are current" python scripts/gen_docs.py --check
plan_out=$(mktemp -d)
stage "plan on inventories/example" ansible-playbook playbooks/plan.yml -i inventories/example -e "safeq_output_dir=$plan_out"
stage "ansible-lint production profile" bash scripts/gates/lint.sh
stage "ansible-test sanity" bash scripts/gates/sanity.sh
stage "build + galaxy-importer" bash scripts/gates/build-import.sh
stage "antsibull-changelog lint" bash scripts/gates/changelog.sh
stage "molecule lab (podman, real packets)" molecule test -s lab
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
