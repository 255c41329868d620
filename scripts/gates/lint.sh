#!/usr/bin/env bash
# Gate: ansible-lint with the production profile over the whole repository; 0 findings required.
# Runs offline (offline: true in .ansible-lint); dependency collections are found through
# ansible.cfg's collections_path (the `ansible` PyPI package in .venv).
# Usage: scripts/gates/lint.sh [extra ansible-lint args]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
start=$(date +%s)
if [ ! -x "$venv/bin/ansible-lint" ]; then
  echo "lint: $venv/bin/ansible-lint missing; run scripts/setup.sh first" >&2
  exit 2
fi
cd "$root"
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export NO_COLOR=1
set +e
ansible-lint --profile production --offline --strict "$@"
rc=$?
set -e
echo "lint: ansible-lint exit code $rc, took $(( $(date +%s) - start ))s"
exit "$rc"
