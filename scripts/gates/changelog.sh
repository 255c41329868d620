#!/usr/bin/env bash
# Gate: changelog fragments and changelogs/changelog.yaml are valid for antsibull-changelog.
# Usage: scripts/gates/changelog.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
start=$(date +%s)
if [ ! -x "$venv/bin/antsibull-changelog" ]; then
  echo "changelog: $venv/bin/antsibull-changelog missing; run scripts/setup.sh first" >&2
  exit 2
fi
cd "$root"
rc=0
# `lint` prints one line per problem and exits non-zero when there is any.
"$venv/bin/antsibull-changelog" lint || rc=1
"$venv/bin/antsibull-changelog" lint-changelog-yaml --strict changelogs/changelog.yaml || rc=1
# Every fragment must be a .yml/.yaml file (others are silently ignored by the config).
while IFS= read -r -d '' f; do
  case "$f" in
    *.yml|*.yaml|*/.keep|*/.gitkeep) ;;
    *) echo "changelog: $f: fragment is ignored (not .yml/.yaml)"; rc=1 ;;
  esac
done < <(find changelogs/fragments -type f -print0)
# Release dry run in a temporary copy: proves the fragments and the plugin docs (collected with
# ansible-doc) turn into CHANGELOG.rst for the version in galaxy.yml, if that version is unreleased.
version=$("$venv/bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
released=$("$venv/bin/python" -c 'import sys, yaml; d = yaml.safe_load(open("changelogs/changelog.yaml")) or {}; print("yes" if str(sys.argv[1]) in (d.get("releases") or {}) else "no")' "$version")
if [ "$rc" -eq 0 ] && [ "$released" = no ]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/safeq-changelog.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  dest="$tmp/ansible_collections/safeq/hardening"
  mkdir -p "$dest"
  git ls-files -co --exclude-standard -z |
    while IFS= read -r -d '' f; do case "$f" in .venv|.venv/*|.collections|.collections/*) continue ;; esac; if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done |
    xargs -0 -r cp --parents -P -t "$dest"
  if (cd "$dest" && PATH="$venv/bin:$PATH" "$venv/bin/antsibull-changelog" release --version "$version" >"$tmp/release.log" 2>&1); then
    echo "changelog: release dry run of $version OK ($(grep -c '^- ' "$dest/CHANGELOG.rst") entries)"
  else
    echo "changelog: release dry run of $version FAILED:"; tail -20 "$tmp/release.log"; rc=1
  fi
fi
echo "changelog: exit code $rc, took $(( $(date +%s) - start ))s"
exit "$rc"
