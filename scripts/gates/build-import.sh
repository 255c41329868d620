#!/usr/bin/env bash
# Gate: build the collection tarball and run galaxy-importer (Galaxy's own import checks) on it.
#
# - The tarball is built from a clean copy of the tracked + untracked-not-ignored files
#   (`git ls-files -co --exclude-standard`), so local caches (.pytest_cache, __pycache__, ...)
#   never leak into it; build_ignore in galaxy.yml still applies. Output: build/<ns>-<name>-<v>.tar.gz
# - galaxy-importer runs with a generated config (GALAXY_IMPORTER_CONFIG): ansible-doc on, its
#   embedded ansible-lint on and offline, changelog check on, ansible-test off (it would need a
#   container; scripts/gates/sanity.sh runs ansible-test sanity locally instead).
# - galaxy-importer exits 0 even when it logs problems (ansible-lint findings, missing changelog,
#   sanity ignore files, ...) as WARNING/ERROR lines; this gate fails on any such line.
#
# Usage: scripts/gates/build-import.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv"
py="$venv/bin/python"
start=$(date +%s)
for tool in ansible-galaxy ansible-doc ansible-lint; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "build-import: $venv/bin/$tool missing; run scripts/setup.sh first" >&2
    exit 2
  fi
done
"$py" -c 'import galaxy_importer' 2>/dev/null ||
  { echo "build-import: galaxy-importer not installed in $venv; run scripts/setup.sh" >&2; exit 2; }
export PATH="$venv/bin:$PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/safeq-import.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- 1. build from a clean copy -----------------------------------------------------------------
src="$tmp/src"
mkdir -p "$src"
(cd "$root" && git ls-files -co --exclude-standard -z) |
  (cd "$root" && while IFS= read -r -d '' f; do
     case "$f" in .venv|.venv/*|.collections|.collections/*) continue ;; esac; if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
   done) |
  (cd "$root" && xargs -0 -r cp --parents -P -t "$src")
mkdir -p "$root/build"
build_out=$(cd "$src" && ansible-galaxy collection build --force --output-path "$root/build" 2>&1) || {
  echo "$build_out"; echo "build-import: FAILED: ansible-galaxy collection build" >&2; exit 1; }
echo "$build_out"
tarball=$(printf '%s\n' "$build_out" | sed -n 's/^Created collection for .* at \(.*\.tar\.gz\)$/\1/p' | tail -1)
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
  echo "build-import: FAILED: could not find the built tarball in ansible-galaxy output" >&2
  exit 1
fi
echo "build-import: $(tar -tzf "$tarball" | wc -l) entries, $(du -h "$tarball" | cut -f1) in $tarball"

# --- 2. galaxy-importer -------------------------------------------------------------------------
cat > "$tmp/galaxy-importer.cfg" <<EOF
[galaxy-importer]
log_level_main = INFO
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
run_ansible_test = False
ansible_test_local_image = False
local_image_docker = False
check_changelog = True
check_required_tags = False
require_v1_or_greater = False
run_flake8 = False
tmp_root_dir = $tmp
ansible_local_tmp = $tmp/ansible-tmp
EOF
mkdir -p "$tmp/ansible-tmp" "$tmp/out"
log="$tmp/importer.log"
set +e
(cd "$tmp/out" && GALAXY_IMPORTER_CONFIG="$tmp/galaxy-importer.cfg" \
  "$py" -m galaxy_importer.main "$tarball" 2>&1) | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "build-import: FAILED: galaxy-importer exit code $rc" >&2
  last=$(grep '^Loading ' "$log" | tail -1 || true)
  if [ -n "$last" ]; then echo "build-import: last content it was loading: ${last#Loading }" >&2; fi
elif ! grep -q '^Importer processing completed successfully' "$log"; then
  echo "build-import: FAILED: galaxy-importer did not complete" >&2
  rc=1
elif grep -qE '^(WARNING|ERROR|CRITICAL):' "$log"; then
  echo "build-import: FAILED: galaxy-importer reported problems:" >&2
  grep -E '^(WARNING|ERROR|CRITICAL):' "$log" >&2
  rc=1
fi
if [ -f "$tmp/out/importer_result.json" ]; then
  cp "$tmp/out/importer_result.json" "$root/build/importer_result.json"
  "$py" - "$tmp/out/importer_result.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
contents = d.get('contents') or []
print('build-import: importer found %d content item(s): %s' % (
    len(contents), ', '.join(sorted('%s:%s' % (c['content_type'], c['name']) for c in contents))))
EOF
fi
echo "build-import: exit code $rc, took $(( $(date +%s) - start ))s"
exit "$rc"
